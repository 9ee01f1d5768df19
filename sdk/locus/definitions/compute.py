"""How a user's op/asset function is called: which parameter is the context,
which is config, which are resources and which are data inputs. Worked out
once at decoration time, so running a step does no signature inspection."""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from locus.definitions.errors import DefinitionError

CONTEXT_NAMES = frozenset({"context", "_context", "ctx"})


@dataclass(frozen=True)
class ComputeFn:
    """A user function and the role of each of its parameters."""

    fn: Callable[..., Any]
    context_param: str | None
    config_param: str | None
    config_class: Any
    resource_params: tuple[str, ...]
    input_params: tuple[str, ...]
    is_generator: bool
    # Values for inputs a job leaves unconnected (``In(default_value=...)``).
    input_defaults: Mapping[str, Any] = field(default_factory=dict)
    # Defaults written in the signature (``def f(n, m=7)``).
    signature_defaults: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.fn.__name__

    def call(self, context: Any, config: Any, resources: dict[str, Any], inputs: dict[str, Any]) -> Any:
        kwargs: dict[str, Any] = {**self.input_defaults, **inputs}
        if self.config_param is not None:
            kwargs[self.config_param] = config
        for key in self.resource_params:
            kwargs[key] = resources[key]
        if self.context_param is not None:
            return self.fn(context, **kwargs)
        return self.fn(**kwargs)


_EMPTY: Any = inspect.Parameter.empty


@dataclass(frozen=True)
class _Param:
    name: str
    annotation: Any
    default: Any
    variadic: bool


def _parameters(fn: Callable[..., Any]) -> list[_Param]:
    """The function's parameters. Plain functions are read from their code
    object: ``inspect.signature`` costs ~25 us, too much at 10,000 assets."""
    code = getattr(fn, "__code__", None)
    if not isinstance(fn, types.FunctionType) or code is None:
        return [
            _Param(p.name, p.annotation, p.default, p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD))
            for p in inspect.signature(fn).parameters.values()
        ]
    positional = code.co_argcount
    names = code.co_varnames[: positional + code.co_kwonlyargcount]
    annotations = fn.__annotations__
    defaults = fn.__defaults__ or ()
    kwdefaults = fn.__kwdefaults__ or {}
    first_default = positional - len(defaults)
    params = []
    for index, name in enumerate(names):
        if index < positional:
            default = defaults[index - first_default] if index >= first_default else _EMPTY
        else:
            default = kwdefaults.get(name, _EMPTY)
        params.append(_Param(name, annotations.get(name, _EMPTY), default, False))
    extra = len(names)
    for flag in (inspect.CO_VARARGS, inspect.CO_VARKEYWORDS):
        if code.co_flags & flag:
            params.append(_Param(code.co_varnames[extra], _EMPTY, _EMPTY, True))
            extra += 1
    return params


def _annotation(fn: Callable[..., Any], param: _Param) -> Any:
    annotation = param.annotation
    if annotation is _EMPTY:
        return None
    if isinstance(annotation, str):
        # `from __future__ import annotations` leaves strings: resolve the few we
        # care about (context, Config and resource classes) in the function's globals.
        try:
            return eval(annotation, getattr(fn, "__globals__", {}))
        except Exception:
            return None
    return annotation


def _is_subclass_flag(annotation: Any, flag: str) -> bool:
    return isinstance(annotation, type) and bool(getattr(annotation, flag, False))


def inspect_compute_fn(fn: Callable[..., Any], kind: str) -> ComputeFn:
    """Classify ``fn``'s parameters. ``kind`` ("op"/"asset") is for messages."""
    if not callable(fn):
        raise DefinitionError(f"@{kind} must decorate a function, got {fn!r}")
    params = _parameters(fn)
    context_param = None
    config_param = None
    config_class = None
    resource_params: list[str] = []
    inputs: list[str] = []
    for index, param in enumerate(params):
        if param.variadic:
            raise DefinitionError(
                f"{kind} '{fn.__name__}' takes *{param.name}; each input must be a named parameter",
                "declare one parameter per upstream input",
            )
        annotation = _annotation(fn, param)
        if index == 0 and (param.name in CONTEXT_NAMES or _is_subclass_flag(annotation, "_locus_context")):
            context_param = param.name
        elif _is_subclass_flag(annotation, "_locus_config_class"):
            config_param, config_class = param.name, annotation
        elif _is_subclass_flag(annotation, "_locus_configurable_resource"):
            resource_params.append(param.name)
        else:
            inputs.append(param.name)
    return ComputeFn(
        fn=fn,
        context_param=context_param,
        config_param=config_param,
        config_class=config_class,
        resource_params=tuple(resource_params),
        input_params=tuple(inputs),
        is_generator=inspect.isgeneratorfunction(fn),
        signature_defaults={p.name: p.default for p in params if p.default is not _EMPTY and p.name in inputs},
    )

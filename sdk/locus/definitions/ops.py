"""``@op`` and its parts: ``In``, ``Out``, ``Output``. An op is one action;
jobs wire ops together by calling them inside a ``@job`` body."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, overload

from locus.definitions import composition
from locus.definitions.compute import ComputeFn, inspect_compute_fn
from locus.definitions.errors import DefinitionError
from locus.definitions.retry import RetryPolicy

DEFAULT_OUTPUT = "result"


class _NoDefault:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


# ``None`` is a legitimate default value, so "no default" needs its own marker.
NO_DEFAULT: Any = _NoDefault()


@dataclass(frozen=True)
class In:
    description: str | None = None
    default_value: Any = NO_DEFAULT
    metadata: Mapping[str, Any] = field(default_factory=dict)
    dagster_type: Any = None

    @property
    def has_default(self) -> bool:
        return self.default_value is not NO_DEFAULT


@dataclass(frozen=True)
class Out:
    description: str | None = None
    is_required: bool = True
    io_manager_key: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    dagster_type: Any = None


@dataclass(frozen=True)
class Output:
    """Return or yield to name the output and attach metadata."""

    value: Any
    output_name: str = DEFAULT_OUTPUT
    metadata: Mapping[str, Any] = field(default_factory=dict)


# Shared by every input/output declared without options (they are frozen),
# so large locations do not build thousands of identical objects.
_PLAIN_IN = In()
_PLAIN_OUT = Out()


def validate_name(name: str, what: str) -> str:
    if not isinstance(name, str) or not name.isidentifier():
        raise DefinitionError(
            f"{what} name {name!r} is not valid",
            "use letters, digits and underscores, not starting with a digit",
        )
    return name


def coerce_tags(tags: Mapping[str, Any] | None, owner: str) -> dict[str, str]:
    if not tags:
        return {}
    if not isinstance(tags, Mapping):
        raise DefinitionError(f"{owner}: tags must be a mapping of str to str, got {tags!r}")
    return {str(k): v if isinstance(v, str) else _json(v) for k, v in tags.items()}


def _json(value: Any) -> str:
    import json

    return json.dumps(value, sort_keys=True)


@dataclass(frozen=True, eq=False)
class OpDefinition:
    """A validated op: its function, inputs, outputs and settings."""

    name: str
    compute: ComputeFn
    ins: Mapping[str, In]
    outs: Mapping[str, Out]
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    config_schema: Any = None
    required_resource_keys: frozenset[str] = frozenset()
    retry_policy: RetryPolicy | None = None

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(self.ins)

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(self.outs)

    @property
    def resource_keys(self) -> frozenset[str]:
        return self.required_resource_keys | frozenset(self.compute.resource_params)

    @property
    def config_type(self) -> Any:
        """What config this op accepts: a Config class, a schema dict, or None."""
        return self.compute.config_class or self.config_schema

    def alias(self, name: str) -> _AliasedOp:
        return _AliasedOp(self, validate_name(name, "op alias"))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        builder = composition.current_builder()
        if builder is not None:
            return builder.invoke(self, self.name, args, kwargs)
        # Outside a job body: a plain call, as in unit tests of the op.
        return self.compute.fn(*args, **kwargs)


@dataclass(frozen=True)
class _AliasedOp:
    op_def: OpDefinition
    name: str

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        builder = composition.current_builder()
        if builder is None:
            raise DefinitionError(f"op alias '{self.name}' can only be called inside a @job or @graph body")
        return builder.invoke(self.op_def, self.name, args, kwargs)


def build_op(
    fn: Callable[..., Any],
    *,
    name: str | None,
    description: str | None,
    ins: Mapping[str, In] | None,
    out: Out | Mapping[str, Out] | None,
    config_schema: Any,
    required_resource_keys: set[str] | frozenset[str] | None,
    tags: Mapping[str, Any] | None,
    retry_policy: RetryPolicy | None,
    kind: str = "op",
) -> OpDefinition:
    op_name = validate_name(name or fn.__name__, kind)
    compute = inspect_compute_fn(fn, kind)
    declared_ins = dict(ins or {})
    unknown = set(declared_ins) - set(compute.input_params)
    if unknown:
        raise DefinitionError(
            f"{kind} '{op_name}': ins names {sorted(unknown)} which are not parameters of the function",
            f"add the parameters or remove them from ins (parameters: {list(compute.input_params)})",
        )
    # A default in the signature (``def f(n, m=7)``) makes the input optional, as In(default_value=7) does.
    signature_defaults = compute.signature_defaults
    all_ins: dict[str, In] = {}
    for param in compute.input_params:
        declared_in = declared_ins.get(param, _PLAIN_IN)
        if not declared_in.has_default and param in signature_defaults:
            declared_in = replace(declared_in, default_value=signature_defaults[param])
        all_ins[param] = declared_in
    defaults = {param: i.default_value for param, i in all_ins.items() if i.has_default}
    if defaults:
        compute = replace(compute, input_defaults=defaults)
    if out is None:
        outs: dict[str, Out] = {DEFAULT_OUTPUT: _PLAIN_OUT}
    elif isinstance(out, Out):
        outs = {DEFAULT_OUTPUT: out}
    elif isinstance(out, Mapping) and out and all(isinstance(o, Out) for o in out.values()):
        outs = {validate_name(k, "output"): v for k, v in out.items()}
    else:
        raise DefinitionError(
            f"{kind} '{op_name}': out must be an Out or a non-empty dict of name to Out, got {out!r}",
            'write out={"first": Out(), "second": Out()}',
        )
    if retry_policy is not None and not isinstance(retry_policy, RetryPolicy):
        raise DefinitionError(f"{kind} '{op_name}': retry_policy must be a RetryPolicy, got {retry_policy!r}")
    return OpDefinition(
        name=op_name,
        compute=compute,
        ins=all_ins,
        outs=outs,
        description=description if description is not None else docstring(fn),
        tags=coerce_tags(tags, f"{kind} '{op_name}'"),
        config_schema=config_schema,
        required_resource_keys=frozenset(required_resource_keys or ()),
        retry_policy=retry_policy,
    )


def docstring(fn: Callable[..., Any]) -> str | None:
    """A function's docstring without its indentation: the default description."""
    return inspect.getdoc(fn) or None


@overload
def op(fn: Callable[..., Any]) -> OpDefinition: ...
@overload
def op(
    fn: None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    ins: Mapping[str, In] | None = None,
    out: Out | Mapping[str, Out] | None = None,
    config_schema: Any = None,
    required_resource_keys: set[str] | None = None,
    tags: Mapping[str, Any] | None = None,
    retry_policy: RetryPolicy | None = None,
) -> Callable[[Callable[..., Any]], OpDefinition]: ...
def op(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    ins: Mapping[str, In] | None = None,
    out: Out | Mapping[str, Out] | None = None,
    config_schema: Any = None,
    required_resource_keys: set[str] | None = None,
    tags: Mapping[str, Any] | None = None,
    retry_policy: RetryPolicy | None = None,
) -> OpDefinition | Callable[[Callable[..., Any]], OpDefinition]:
    """Declare an op: ``@op`` or ``@op(description=..., out={...})``."""

    def decorate(f: Callable[..., Any]) -> OpDefinition:
        return build_op(
            f,
            name=name,
            description=description,
            ins=ins,
            out=out,
            config_schema=config_schema,
            required_resource_keys=required_resource_keys,
            tags=tags,
            retry_policy=retry_policy,
        )

    return decorate(fn) if fn is not None else decorate

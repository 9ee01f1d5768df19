"""``@asset``: a piece of data produced by a function. Parameters name the
upstream assets it reads; ``deps=[...]`` adds order-only upstreams."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from locus.definitions.asset_key import AssetKey, CoercibleToAssetKey
from locus.definitions.errors import DefinitionError
from locus.definitions.ops import OpDefinition, Out, build_op, coerce_tags
from locus.definitions.retry import RetryPolicy

DEFAULT_GROUP = "default"
DEFAULT_IO_MANAGER_KEY = "io_manager"


class AssetIn:
    """Names the upstream asset a parameter reads, when it is not the parameter's name."""

    __slots__ = ("input_manager_key", "key", "key_prefix", "metadata")

    def __init__(
        self,
        key: CoercibleToAssetKey | None = None,
        metadata: Mapping[str, Any] | None = None,
        key_prefix: str | Sequence[str] | None = None,
        input_manager_key: str | None = None,
        asset_key: CoercibleToAssetKey | None = None,
    ) -> None:
        chosen = key if key is not None else asset_key
        self.key = AssetKey.from_coercible(chosen) if chosen is not None else None
        self.metadata = dict(metadata or {})
        self.key_prefix = key_prefix.split("/") if isinstance(key_prefix, str) else key_prefix
        self.input_manager_key = input_manager_key

    def resolve(self, param: str) -> AssetKey:
        key = self.key or AssetKey(param)
        return key.with_prefix(self.key_prefix) if self.key_prefix else key


@dataclass(frozen=True)
class MaterializeResult:
    """Return from an asset that stores its data itself: no IO manager call,
    only the materialisation (with metadata) is recorded."""

    metadata: Mapping[str, Any] = field(default_factory=dict)
    asset_key: CoercibleToAssetKey | None = None


@dataclass(frozen=True, eq=False)
class AssetsDefinition:
    key: AssetKey
    op: OpDefinition
    input_keys: Mapping[str, AssetKey]
    dep_keys: tuple[AssetKey, ...] = ()
    group_name: str = DEFAULT_GROUP
    description: str | None = None
    kinds: frozenset[str] = frozenset()
    tags: Mapping[str, str] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    io_manager_key: str = DEFAULT_IO_MANAGER_KEY
    owners: tuple[str, ...] = ()
    code_version: str | None = None
    resource_defs: Mapping[str, Any] = field(default_factory=dict)
    # Parameters' upstreams, then deps=[...], without repeats; derived once
    # here because graph building reads it for every asset.
    upstream_keys: tuple[AssetKey, ...] = field(init=False)

    def __post_init__(self) -> None:
        upstream = tuple(dict.fromkeys((*self.input_keys.values(), *self.dep_keys)))
        object.__setattr__(self, "upstream_keys", upstream)

    @property
    def keys(self) -> frozenset[AssetKey]:
        return frozenset({self.key})

    @property
    def node_name(self) -> str:
        return self.op.name

    @property
    def resource_keys(self) -> frozenset[str]:
        return self.op.resource_keys | {self.io_manager_key}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the function directly, as unit tests do."""
        return self.op.compute.fn(*args, **kwargs)


def _dep_key(dep: Any, owner: str) -> AssetKey:
    if isinstance(dep, AssetsDefinition):
        return dep.key
    try:
        return AssetKey.from_coercible(dep)
    except (TypeError, ValueError):
        raise DefinitionError(
            f"asset '{owner}': deps entry {dep!r} is not an asset, AssetKey or key string",
            "pass deps=[upstream_asset, 'other_key']",
        ) from None


def build_asset(
    fn: Callable[..., Any],
    *,
    name: str | None = None,
    key_prefix: str | Sequence[str] | None = None,
    key: CoercibleToAssetKey | None = None,
    ins: Mapping[str, AssetIn] | None = None,
    deps: Iterable[Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    description: str | None = None,
    config_schema: Any = None,
    required_resource_keys: set[str] | None = None,
    resource_defs: Mapping[str, Any] | None = None,
    io_manager_key: str | None = None,
    group_name: str | None = None,
    kinds: Iterable[str] | None = None,
    tags: Mapping[str, Any] | None = None,
    retry_policy: RetryPolicy | None = None,
    owners: Sequence[str] | None = None,
    code_version: str | None = None,
    op_tags: Mapping[str, Any] | None = None,
) -> AssetsDefinition:
    base = name or fn.__name__
    if key is not None:
        asset_key = AssetKey.from_coercible(key)
    else:
        asset_key = AssetKey(base)
        if key_prefix:
            asset_key = asset_key.with_prefix(
                key_prefix.split("/") if isinstance(key_prefix, str) else key_prefix
            )
    op_name = "__".join(asset_key.path)
    op_def = build_op(
        fn,
        name=op_name,
        description=description,
        ins=None,
        out=Out(io_manager_key=io_manager_key) if io_manager_key else None,
        config_schema=config_schema,
        required_resource_keys=required_resource_keys,
        tags=op_tags,
        retry_policy=retry_policy,
        kind="asset",
    )
    declared = dict(ins or {})
    unknown = set(declared) - set(op_def.input_names)
    if unknown:
        raise DefinitionError(
            f"asset '{asset_key.to_user_string()}': ins names {sorted(unknown)} which are not parameters",
            f"parameters are {list(op_def.input_names)}",
        )
    input_keys = {
        param: (declared[param].resolve(param) if param in declared else AssetKey(param))
        for param in op_def.input_names
    }
    if kinds is not None and (isinstance(kinds, str) or not all(isinstance(k, str) for k in kinds)):
        raise DefinitionError(
            f"asset '{asset_key.to_user_string()}': kinds must be a list of strings, got {kinds!r}",
            'write kinds=["python"]',
        )
    if group_name is not None and not (isinstance(group_name, str) and group_name.isidentifier()):
        raise DefinitionError(
            f"asset '{asset_key.to_user_string()}': group_name {group_name!r} is not a valid name",
            "use letters, digits and underscores",
        )
    owner = asset_key.to_user_string()
    dep_keys = tuple(_dep_key(d, owner) for d in (deps or ()))
    if asset_key in dep_keys or asset_key in input_keys.values():
        raise DefinitionError(f"asset '{owner}' depends on itself", "remove it from its own deps/parameters")
    return AssetsDefinition(
        key=asset_key,
        op=op_def,
        input_keys=input_keys,
        dep_keys=dep_keys,
        group_name=group_name or DEFAULT_GROUP,
        description=op_def.description,
        kinds=frozenset(kinds or ()),
        tags=coerce_tags(tags, f"asset '{owner}'"),
        metadata=dict(metadata or {}),
        io_manager_key=io_manager_key or DEFAULT_IO_MANAGER_KEY,
        owners=tuple(owners or ()),
        code_version=code_version,
        resource_defs=dict(resource_defs or {}),
    )


@overload
def asset(compute_fn: Callable[..., Any]) -> AssetsDefinition: ...
@overload
def asset(
    compute_fn: None = None,
    *,
    name: str | None = ...,
    key_prefix: str | Sequence[str] | None = ...,
    key: CoercibleToAssetKey | None = ...,
    ins: Mapping[str, AssetIn] | None = ...,
    deps: Iterable[Any] | None = ...,
    metadata: Mapping[str, Any] | None = ...,
    description: str | None = ...,
    config_schema: Any = ...,
    required_resource_keys: set[str] | None = ...,
    resource_defs: Mapping[str, Any] | None = ...,
    io_manager_key: str | None = ...,
    group_name: str | None = ...,
    kinds: Iterable[str] | None = ...,
    tags: Mapping[str, Any] | None = ...,
    retry_policy: RetryPolicy | None = ...,
    owners: Sequence[str] | None = ...,
    code_version: str | None = ...,
    op_tags: Mapping[str, Any] | None = ...,
) -> Callable[[Callable[..., Any]], AssetsDefinition]: ...
def asset(
    compute_fn: Callable[..., Any] | None = None, **kwargs: Any
) -> AssetsDefinition | Callable[[Callable[..., Any]], AssetsDefinition]:
    """Declare an asset: ``@asset`` or ``@asset(group_name=..., deps=[...])``."""
    if compute_fn is not None:
        return build_asset(compute_fn)

    def decorate(fn: Callable[..., Any]) -> AssetsDefinition:
        try:
            return build_asset(fn, **kwargs)
        except TypeError as exc:
            raise DefinitionError(
                f"@asset on '{fn.__name__}': {exc}", "check the keyword arguments"
            ) from None

    return decorate

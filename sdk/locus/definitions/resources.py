"""Function-style resources (``@resource``), their init context and
``.configured()``. Pydantic-style resources live in ``configurable.py``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, overload

from locus.definitions.errors import DefinitionError


@dataclass(frozen=True)
class InitResourceContext:
    """Handed to a ``@resource`` function when a run starts."""

    resource_config: Any = None
    resources: Any = None
    run_id: str | None = None
    log: Any = None


class ResourceDefinition:
    """A resource built by a function from its config when a run starts."""

    def __init__(
        self,
        resource_fn: Callable[[InitResourceContext], Any],
        config_schema: Any = None,
        description: str | None = None,
        required_resource_keys: frozenset[str] = frozenset(),
        fixed_config: Any = None,
        name: str | None = None,
    ) -> None:
        self.name = name or getattr(resource_fn, "__name__", "resource")
        self.resource_fn = resource_fn
        self.config_schema = config_schema
        self.description = description
        self.required_resource_keys = required_resource_keys
        self.fixed_config = fixed_config

    def configured(self, config: Any) -> ResourceDefinition:
        """The same resource with its config fixed in code: checked against the
        schema now (defaults filled in), so a typo fails at import, not at run."""
        if self.config_schema is not None:
            from locus.definitions.config_schema import validate_config

            errors: list[tuple[str, str]] = []
            config = validate_config(self.config_schema, config, "config", errors)
            if errors:
                problems = "; ".join(f"{path}: {message}" for path, message in errors)
                raise DefinitionError(
                    f"resource '{self.name}': .configured() got invalid config: {problems}",
                    "pass values matching the resource's config_schema",
                )
        return ResourceDefinition(
            self.resource_fn, None, self.description, self.required_resource_keys, fixed_config=config,
            name=self.name,
        )

    @staticmethod
    def hardcoded_resource(value: Any, description: str | None = None) -> ResourceDefinition:
        return ResourceDefinition(lambda _ctx: value, description=description)

    @staticmethod
    def none_resource() -> ResourceDefinition:
        return ResourceDefinition.hardcoded_resource(None)


@overload
def resource(fn: Callable[..., Any]) -> ResourceDefinition: ...
@overload
def resource(
    fn: None = None,
    *,
    config_schema: Any = None,
    description: str | None = None,
    required_resource_keys: set[str] | None = None,
) -> Callable[[Callable[..., Any]], ResourceDefinition]: ...
def resource(
    fn: Callable[..., Any] | None = None,
    *,
    config_schema: Any = None,
    description: str | None = None,
    required_resource_keys: set[str] | None = None,
) -> ResourceDefinition | Callable[[Callable[..., Any]], ResourceDefinition]:
    """Decorate ``def my_resource(init_context): ...`` (the argument is optional)."""

    def build(f: Callable[..., Any]) -> ResourceDefinition:
        import inspect

        takes_context = bool(inspect.signature(f).parameters)
        resource_fn = f if takes_context else (lambda _ctx: f())
        return ResourceDefinition(
            resource_fn, config_schema, description or inspect.getdoc(f), frozenset(required_resource_keys or ()),
            name=f.__name__,
        )

    return build(fn) if fn is not None else build


@dataclass(frozen=True)
class ResourceRequirements:
    """The resource keys a node needs: by ``required_resource_keys`` or by
    parameters annotated with a resource class."""

    keys: frozenset[str] = field(default_factory=frozenset)


def is_configurable_resource(value: object) -> bool:
    """True for instances of ConfigurableResource, without importing pydantic."""
    return bool(getattr(type(value), "_locus_configurable_resource", False))


def resources_by_key(resources: Mapping[str, Any] | None) -> dict[str, Any]:
    if resources is None:
        return {}
    if not isinstance(resources, Mapping):
        raise DefinitionError(
            f"resources must be a mapping of key to resource, got {type(resources).__name__}",
            'pass resources={"io_manager": FilesystemIOManager(), ...}',
        )
    for key in resources:
        if not isinstance(key, str) or not key.isidentifier():
            raise DefinitionError(
                f"resource key {key!r} is not a valid Python identifier",
                "use names like 'io_manager' or 'warehouse'",
            )
    return dict(resources)

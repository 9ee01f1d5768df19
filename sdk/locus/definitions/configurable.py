"""Pydantic-based configuration: ``Config`` for op/asset config and
``ConfigurableResource`` / ``ConfigurableIOManager`` for resources.

Imported on first use only (``locus.__getattr__``): pydantic costs ~0.1 s to
load and most code locations start without needing it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, PrivateAttr

from locus.definitions.env_var import EnvVar
from locus.definitions.io_managers import InputContext, IOManager, OutputContext, PickledFilesystemIOManager


class Config(BaseModel):
    """Subclass with typed fields and annotate an op/asset parameter named
    ``config`` with it; values come from run config under ``ops.<name>.config``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    _locus_config_class: ClassVar[bool] = True


class PermissiveConfig(Config):
    """Config that also accepts keys it does not declare."""

    model_config = ConfigDict(extra="allow", frozen=True)


class ConfigurableResource(BaseModel):
    """A resource whose fields are its config. Fields set to ``EnvVar(...)``
    are read from the environment when a run starts, not at import."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    _locus_configurable_resource: ClassVar[bool] = True
    _env_fields: dict[str, str] = PrivateAttr(default_factory=dict)

    def __init__(self, **data: Any) -> None:
        env_fields = {k: v.env_var_name for k, v in data.items() if isinstance(v, EnvVar)}
        super().__init__(**data)
        self._env_fields.update(env_fields)

    def configured(self, config: dict[str, Any]) -> ConfigurableResource:
        """A copy with some fields replaced (validated like the constructor)."""
        fields = {**self.model_dump(), **{k: EnvVar(v) for k, v in self._env_fields.items()}, **config}
        return type(self)(**fields)

    def with_resolved_env(self, where: str) -> ConfigurableResource:
        """A copy whose EnvVar fields (here and in nested resources) hold the
        environment's current values."""
        values: dict[str, Any] = {
            k: EnvVar(name).resolve(f"{where}.{k}") for k, name in self._env_fields.items()
        }
        for name in type(self).model_fields:
            nested = getattr(self, name)
            if isinstance(nested, ConfigurableResource):
                resolved = nested.with_resolved_env(f"{where}.{name}")
                if resolved is not nested:
                    values[name] = resolved
        if not values:
            return self
        return type(self)(**{**{k: getattr(self, k) for k in type(self).model_fields}, **values})

    def with_instance_defaults(self, storage_dir: str) -> ConfigurableResource:
        """Fill settings that default to the instance's (e.g. a base folder)."""
        return self

    def env_var_fields(self) -> dict[str, str]:
        return dict(self._env_fields)

    def setup_for_execution(self, context: Any) -> None:
        """Called once per run before the first step uses the resource."""

    def teardown_after_execution(self, context: Any) -> None:
        """Called once per run after the last step."""


class ConfigurableIOManager(ConfigurableResource, IOManager):
    """An IO manager configured by its fields."""


class FilesystemIOManager(ConfigurableIOManager):
    """Pickles outputs to files under ``base_dir`` (default: the instance's
    storage folder). The default IO manager."""

    base_dir: str | None = None

    def with_instance_defaults(self, storage_dir: str) -> ConfigurableResource:
        return self if self.base_dir is not None else self.configured({"base_dir": storage_dir})

    def _store(self) -> PickledFilesystemIOManager:
        if self.base_dir is None:
            raise RuntimeError("FilesystemIOManager.base_dir was not filled in from the instance")
        return PickledFilesystemIOManager(self.base_dir)

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        self._store().handle_output(context, obj)

    def load_input(self, context: InputContext) -> Any:
        return self._store().load_input(context)

"""IO managers store step outputs and load step inputs. The plain classes
here import nothing heavy; FilesystemIOManager (pydantic-configurable) wraps
the same pickling store in ``configurable.py``."""

from __future__ import annotations

import os
import pickle
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from locus.definitions.asset_key import AssetKey


@dataclass(frozen=True)
class OutputContext:
    """What an IO manager knows when storing an output."""

    name: str
    step_key: str
    run_id: str
    asset_key: AssetKey | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    resource_config: Any = None

    @property
    def has_asset_key(self) -> bool:
        return self.asset_key is not None

    def get_identifier(self) -> list[str]:
        return [self.run_id, self.step_key, self.name]

    def get_asset_identifier(self) -> list[str]:
        assert self.asset_key is not None
        return list(self.asset_key.path)


@dataclass(frozen=True)
class InputContext:
    """What an IO manager knows when loading an input: the upstream output."""

    name: str
    upstream_output: OutputContext
    asset_key: AssetKey | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def has_asset_key(self) -> bool:
        return self.asset_key is not None

    def get_identifier(self) -> list[str]:
        return self.upstream_output.get_identifier()

    def get_asset_identifier(self) -> list[str]:
        assert self.asset_key is not None
        return list(self.asset_key.path)


class IOManager(ABC):
    """Subclass and implement ``handle_output`` and ``load_input``."""

    @abstractmethod
    def handle_output(self, context: OutputContext, obj: Any) -> None: ...

    @abstractmethod
    def load_input(self, context: InputContext) -> Any: ...

    # Whether outputs stay inside the process that produced them; the
    # multiprocess executor refuses such IO managers with a clear message.
    keeps_values_in_memory: ClassVar[bool] = False


class InMemoryIOManager(IOManager):
    """Keeps outputs in a dict: fast, for tests and in-process runs only."""

    keeps_values_in_memory = True

    def __init__(self) -> None:
        self.values: dict[tuple[str, ...], Any] = {}

    def _key(self, context: OutputContext) -> tuple[str, ...]:
        if context.asset_key is not None:
            return ("asset", *context.asset_key.path)
        return tuple(context.get_identifier())

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        self.values[self._key(context)] = obj

    def load_input(self, context: InputContext) -> Any:
        upstream = context.upstream_output
        if context.asset_key is not None and upstream.asset_key is None:
            upstream = OutputContext(name="result", step_key="", run_id="", asset_key=context.asset_key)
        return self.values[self._key(upstream)]


class PickledFilesystemIOManager(IOManager):
    """Pickles each output to a file: assets under ``base_dir/<key path>``,
    op outputs under ``base_dir/<run_id>/<step_key>/<output>``."""

    def __init__(self, base_dir: str | os.PathLike[str]) -> None:
        self.base_dir = Path(base_dir)

    def path_for(self, context: OutputContext) -> Path:
        parts = context.get_asset_identifier() if context.asset_key else context.get_identifier()
        return self.base_dir.joinpath(*parts)

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        path = self.path_for(context)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a reader never sees half a pickle.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "wb") as handle:
            pickle.dump(obj, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)

    def load_input(self, context: InputContext) -> Any:
        upstream = context.upstream_output
        if context.asset_key is not None:
            upstream = OutputContext(
                name=upstream.name,
                step_key=upstream.step_key,
                run_id=upstream.run_id,
                asset_key=context.asset_key,
            )
        path = self.path_for(upstream)
        try:
            with path.open("rb") as handle:
                return pickle.load(handle)
        except FileNotFoundError:
            what = (
                f"asset {context.asset_key.to_user_string()}" if context.asset_key else "the upstream output"
            )
            raise FileNotFoundError(
                f"{what} has not been materialised yet: no file at {path}. "
                "Materialise it first, or include it in the selection."
            ) from None

"""The context handed to op and asset functions: run id, config, resources,
a logger that writes to the run's event log, and output metadata."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any

from locus.definitions.asset_key import AssetKey
from locus.execution.events import Event, EventType
from locus.execution.runs import RunRecord


class StepLogger:
    """``context.log.info(...)``: each call becomes a LOG event of the run."""

    def __init__(self, emit: Callable[[Event], None], run_id: str, step_key: str | None) -> None:
        self._emit = emit
        self._run_id = run_id
        self._step_key = step_key

    def _log(self, level: str, message: str) -> None:
        self._emit(Event(self._run_id, EventType.LOG, str(message), self._step_key, level))

    def debug(self, message: str) -> None:
        self._log("DEBUG", message)

    def info(self, message: str) -> None:
        self._log("INFO", message)

    def warning(self, message: str) -> None:
        self._log("WARNING", message)

    warn = warning

    def error(self, message: str) -> None:
        self._log("ERROR", message)

    def exception(self, message: str) -> None:
        self._log("ERROR", message)


class OpExecutionContext:
    """Passed as the first parameter (named ``context``) of an op or asset."""

    _locus_context = True

    def __init__(
        self,
        run: RunRecord,
        step_key: str,
        op_config: Any,
        resources: Mapping[str, Any],
        log: StepLogger,
        asset_key: AssetKey | None = None,
        retry_number: int = 0,
        instance: Any = None,
    ) -> None:
        self.run = run
        self.step_key = step_key
        self.op_config = op_config
        self.resources = SimpleNamespace(**resources)
        self.log = log
        self.asset_key = asset_key
        self.retry_number = retry_number
        self.instance = instance
        self.output_metadata: dict[str, dict[str, Any]] = {}

    @property
    def run_id(self) -> str:
        return self.run.run_id

    @property
    def job_name(self) -> str:
        return self.run.job_name

    @property
    def run_config(self) -> Mapping[str, Any]:
        return self.run.run_config

    @property
    def has_assets_def(self) -> bool:
        return self.asset_key is not None

    @property
    def op_name(self) -> str:
        return self.step_key

    def add_output_metadata(self, metadata: Mapping[str, Any], output_name: str | None = None) -> None:
        self.output_metadata.setdefault(output_name or "result", {}).update(metadata)


class AssetExecutionContext(OpExecutionContext):
    """The context of an asset step; ``asset_key`` is always set."""

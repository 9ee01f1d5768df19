"""What ``materialize`` and ``execute_in_process`` return."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from locus.definitions.asset_key import AssetKey, CoercibleToAssetKey
from locus.definitions.errors import LocusError
from locus.definitions.jobs import JobDefinition
from locus.execution.events import Event, EventType
from locus.execution.runs import RunRecord


class ExecutionResult:
    def __init__(
        self,
        job: JobDefinition,
        run: RunRecord,
        success: bool,
        events: Sequence[Event],
        output_values: Mapping[tuple[str, str], Any],
    ) -> None:
        self.job_def = job
        self.run = run
        self.success = success
        self.all_events = list(events)
        self._values = output_values

    @property
    def run_id(self) -> str:
        return self.run.run_id

    @property
    def dagster_run(self) -> RunRecord:
        return self.run

    def output_for_node(self, node_name: str, output_name: str = "result") -> Any:
        try:
            return self._values[(node_name, output_name)]
        except KeyError:
            known = sorted({n for n, _ in self._values})
            raise LocusError(
                f"no output '{output_name}' of node '{node_name}' in run {self.run_id}",
                f"nodes with outputs: {known}",
            ) from None

    def asset_value(self, asset_key: CoercibleToAssetKey) -> Any:
        key = AssetKey.from_coercible(asset_key)
        for node, asset in self.job_def.asset_nodes.items():
            if asset.key == key:
                return self.output_for_node(node)
        raise LocusError(f"asset '{key.to_user_string()}' was not materialised in run {self.run_id}")

    def events_of_type(self, event_type: EventType) -> list[Event]:
        return [e for e in self.all_events if e.event_type == event_type]

    def get_step_failure_events(self) -> list[Event]:
        return self.events_of_type(EventType.STEP_FAILURE)

    def get_asset_materialization_events(self) -> list[Event]:
        return self.events_of_type(EventType.ASSET_MATERIALIZATION)

    def asset_materializations_for_node(self, node_name: str) -> list[Event]:
        return [e for e in self.get_asset_materialization_events() if e.step_key == node_name]

    def __repr__(self) -> str:
        return f"ExecutionResult(job={self.job_def.name!r}, run_id={self.run_id!r}, success={self.success})"

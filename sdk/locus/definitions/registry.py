"""``Definitions``: the one object per code location that registers assets,
jobs, schedules, sensors, resources and the default executor. Everything is
validated when it is built, so a broken location fails at load with a
message naming the culprit, never halfway through a run."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from locus.definitions.asset_graph import AssetGraph
from locus.definitions.asset_job import IMPLICIT_ASSET_JOB, UnresolvedAssetJobDefinition, build_asset_job
from locus.definitions.asset_key import AssetKey, CoercibleToAssetKey
from locus.definitions.assets import DEFAULT_IO_MANAGER_KEY, AssetsDefinition
from locus.definitions.errors import DefinitionError
from locus.definitions.executors import DEFAULT_EXECUTOR, ExecutorDefinition
from locus.definitions.jobs import JobDefinition
from locus.definitions.resources import resources_by_key
from locus.definitions.schedules import ScheduleDefinition
from locus.definitions.sensors import SensorDefinition

# Keys every run has even when Definitions does not name them.
DEFAULT_RESOURCE_KEYS = frozenset({DEFAULT_IO_MANAGER_KEY})


def flatten_assets(assets: Iterable[Any]) -> list[AssetsDefinition]:
    out: list[AssetsDefinition] = []
    for item in assets:
        if isinstance(item, AssetsDefinition):
            out.append(item)
        elif isinstance(item, list | tuple):
            out.extend(flatten_assets(item))
        else:
            raise DefinitionError(
                f"Definitions(assets=[...]) got {item!r}, which is not an asset",
                "pass functions decorated with @asset (or the list from load_assets_from_modules)",
            )
    return out


def _unique(kind: str, items: Iterable[Any]) -> dict[str, Any]:
    by_name: dict[str, Any] = {}
    for item in items:
        other = by_name.get(item.name)
        if other is not None and other is not item:
            raise DefinitionError(
                f"two different {kind}s are named '{item.name}'",
                f"give each {kind} a unique name",
            )
        by_name[item.name] = item
    return by_name


class Definitions:
    def __init__(
        self,
        assets: Iterable[Any] | None = None,
        schedules: Iterable[ScheduleDefinition] | None = None,
        sensors: Iterable[SensorDefinition] | None = None,
        jobs: Iterable[JobDefinition | UnresolvedAssetJobDefinition] | None = None,
        resources: Mapping[str, Any] | None = None,
        executor: ExecutorDefinition | None = None,
        loggers: Mapping[str, Any] | None = None,
    ) -> None:
        self.assets = flatten_assets(assets or ())
        self.asset_graph = AssetGraph(self.assets)
        self.resources = resources_by_key(resources)
        for a in self.assets:
            for key, value in a.resource_defs.items():
                if key in self.resources and self.resources[key] is not value:
                    raise DefinitionError(
                        f"asset '{a.key.to_user_string()}' brings resource '{key}', which Definitions "
                        "also defines differently",
                        "define the resource in one place",
                    )
                self.resources[key] = value
        if executor is not None and not isinstance(executor, ExecutorDefinition):
            raise DefinitionError(f"Definitions(executor=...) must be an executor, got {executor!r}")
        self.executor = executor
        self.loggers = dict(loggers or {})
        self.schedules: dict[str, ScheduleDefinition] = _unique(
            "schedule", self._typed(schedules, ScheduleDefinition)
        )
        self.sensors: dict[str, SensorDefinition] = _unique("sensor", self._typed(sensors, SensorDefinition))

        # Jobs named by schedules and sensors belong to the location too.
        declared = list(jobs or ())
        for s in self.schedules.values():
            if s.job is not None:
                declared.append(s.job)
        for sensor_def in self.sensors.values():
            declared.extend(sensor_def.jobs)
        unresolved = _unique("job", declared)
        self.jobs: dict[str, JobDefinition] = {}
        for name, job_def in unresolved.items():
            if isinstance(job_def, UnresolvedAssetJobDefinition):
                self.jobs[name] = job_def.resolve(self.asset_graph)
            elif isinstance(job_def, JobDefinition):
                self.jobs[name] = job_def
            else:
                raise DefinitionError(f"Definitions(jobs=[...]) got {job_def!r}, which is not a job")
        self._check_targets()
        self._check_resources()
        self._implicit_job: JobDefinition | None = None

    @staticmethod
    def _typed(items: Iterable[Any] | None, cls: type) -> list[Any]:
        out = list(items or ())
        for item in out:
            if not isinstance(item, cls):
                raise DefinitionError(f"expected {cls.__name__}, got {item!r}")
        return out

    def _check_targets(self) -> None:
        for s in self.schedules.values():
            if s.job_name not in self.jobs:
                raise DefinitionError(
                    f"schedule '{s.name}' targets job '{s.job_name}', which is not defined",
                    f"add the job to Definitions(jobs=[...]); jobs: {sorted(self.jobs)}",
                )
        for sensor_def in self.sensors.values():
            for job_name in sensor_def.job_names:
                if job_name not in self.jobs:
                    raise DefinitionError(
                        f"sensor '{sensor_def.name}' targets job '{job_name}', which is not defined",
                        f"add the job to Definitions(jobs=[...]); jobs: {sorted(self.jobs)}",
                    )

    def _check_resources(self) -> None:
        available = DEFAULT_RESOURCE_KEYS | self.resources.keys()
        for a in self.assets:
            missing = sorted(a.resource_keys - available)
            if missing:
                raise DefinitionError(
                    f"asset '{a.key.to_user_string()}' requires resource {', '.join(repr(m) for m in missing)}, "
                    "which Definitions does not provide",
                    f"add it to Definitions(resources={{{missing[0]!r}: ...}})",
                )
        for job_def in self.jobs.values():
            if job_def.is_asset_job:
                continue
            missing = sorted(job_def.resource_keys - available - job_def.resource_defs.keys())
            if missing:
                raise DefinitionError(
                    f"job '{job_def.name}' requires resource {', '.join(repr(m) for m in missing)}, "
                    "which neither the job's resource_defs nor Definitions provide",
                    f"add it to Definitions(resources={{{missing[0]!r}: ...}})",
                )

    # -- lookups -----------------------------------------------------------

    def get_job_def(self, name: str) -> JobDefinition:
        if name == IMPLICIT_ASSET_JOB:
            return self.get_implicit_global_asset_job_def()
        try:
            return self.jobs[name]
        except KeyError:
            raise DefinitionError(
                f"no job named '{name}'", f"pick one of: {', '.join(sorted(self.jobs)) or '(none defined)'}"
            ) from None

    def get_implicit_global_asset_job_def(self) -> JobDefinition:
        if self._implicit_job is None:
            if not self.assets:
                raise DefinitionError("this code location defines no assets")
            self._implicit_job = build_asset_job(IMPLICIT_ASSET_JOB, self.asset_graph, self.asset_graph.keys)
        return self._implicit_job

    def get_assets_def(self, key: CoercibleToAssetKey) -> AssetsDefinition:
        asset_key = AssetKey.from_coercible(key)
        try:
            return self.asset_graph.by_key[asset_key]
        except KeyError:
            raise DefinitionError(f"no asset with key '{asset_key.to_user_string()}'") from None

    def get_schedule_def(self, name: str) -> ScheduleDefinition:
        try:
            return self.schedules[name]
        except KeyError:
            raise DefinitionError(
                f"no schedule named '{name}'", f"schedules: {sorted(self.schedules)}"
            ) from None

    def get_sensor_def(self, name: str) -> SensorDefinition:
        try:
            return self.sensors[name]
        except KeyError:
            raise DefinitionError(f"no sensor named '{name}'", f"sensors: {sorted(self.sensors)}") from None

    def executor_for(self, job: JobDefinition) -> ExecutorDefinition:
        """The executor a run of ``job`` uses: the job's own, else the
        location's default, else multiprocess (as in Dagster)."""
        return job.executor_def or self.executor or DEFAULT_EXECUTOR

    def resources_for(self, job: JobDefinition) -> dict[str, Any]:
        """The resources a run of ``job`` gets: the location's, overridden by the job's own."""
        return {**self.resources, **job.resource_defs}

    def get_all_job_defs(self) -> Sequence[JobDefinition]:
        return list(self.jobs.values())

    @staticmethod
    def validate_loadable(defs: Definitions) -> None:
        """Definitions validate at construction; kept for Dagster parity."""
        if not isinstance(defs, Definitions):
            raise DefinitionError(f"expected Definitions, got {defs!r}")

    @staticmethod
    def merge(*defs: Definitions) -> Definitions:
        return Definitions(
            assets=[a for d in defs for a in d.assets],
            schedules=[s for d in defs for s in d.schedules.values()],
            sensors=[s for d in defs for s in d.sensors.values()],
            jobs=[j for d in defs for j in d.jobs.values()],
            resources={k: v for d in defs for k, v in d.resources.items()},
            executor=next((d.executor for d in reversed(defs) if d.executor), None),
        )

    def __repr__(self) -> str:
        return (
            f"Definitions({len(self.assets)} assets, {len(self.jobs)} jobs, "
            f"{len(self.schedules)} schedules, {len(self.sensors)} sensors)"
        )

"""The code location a server holds: its code loaded once, the encoded
snapshot and its id computed once, or the load error that is served instead.
Also the execution plans computed from it (run validation for the API)."""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from locus.codeserver.results import PlanResult
from locus.codeserver.snapshot import encode_definitions, snapshot_id
from locus.definitions.asset_job import IMPLICIT_ASSET_JOB
from locus.definitions.asset_key import AssetKey
from locus.definitions.errors import CodeLoadError, LocusError, RunConfigError
from locus.definitions.registry import Definitions
from locus.execution.code_pointer import CodePointer, load_definitions, resolve_job
from locus.execution.events import ErrorInfo
from locus.execution.plan import build_plan
from locus.execution.run_config import resolve_run_config


def served_pointer(pointer: CodePointer) -> CodePointer:
    """The pointer as other processes must use it: absolute paths, and a
    working directory even for modules (the server's, which it imports from)."""
    absolute = pointer.absolute()
    if absolute.working_directory is None and absolute.python_file is None:
        absolute = replace(absolute, working_directory=os.getcwd())
    return absolute


def load_error_info(exc: BaseException) -> ErrorInfo:
    """The error a location that failed to load answers with: the user's
    exception and traceback when there is one, else Locus's message and fix."""
    if isinstance(exc, CodeLoadError):
        if exc.error_info is not None:
            info: ErrorInfo = exc.error_info
            return info
        if exc.__cause__ is not None:
            return ErrorInfo.from_user_exception(exc.__cause__)
        return ErrorInfo(cls_name=type(exc).__name__, message=str(exc), traceback="")
    return ErrorInfo.from_user_exception(exc)


@dataclass(frozen=True)
class LoadedLocation:
    name: str
    pointer: CodePointer
    image: str | None
    definitions: Definitions | None
    load_error: ErrorInfo | None
    snapshot: bytes = b""
    snapshot_id: str = ""

    @staticmethod
    def load(pointer: CodePointer, name: str, image: str | None) -> LoadedLocation:
        """Never raises for the user's code: a failure becomes ``load_error``."""
        try:
            defs = load_definitions(pointer)
        except (Exception, SystemExit) as exc:
            return LoadedLocation(name, pointer, image, None, load_error_info(exc))
        try:
            data = encode_definitions(defs, name, pointer.to_dict(), image)
        except Exception as exc:
            info = ErrorInfo.from_exception(exc)
            info = replace(info, message=f"the definitions loaded but could not be snapshotted: {info.message}")
            return LoadedLocation(name, pointer, image, None, info)
        return LoadedLocation(name, pointer, image, defs, None, data, snapshot_id(data))

    def chunks(self, size: int) -> list[bytes]:
        data = self.snapshot
        return [data[i : i + size] for i in range(0, len(data), size)] or [b""]

    def plan(
        self,
        job_name: str,
        run_config: Mapping[str, Any] | None,
        asset_selection: Sequence[Sequence[str]] | None,
        step_keys: Sequence[str] | None,
    ) -> PlanResult:
        """Validate a run as ``create_run`` would; problems come back as errors."""
        assert self.definitions is not None
        try:
            return _plan(self.definitions, job_name, run_config, asset_selection, step_keys)
        except RunConfigError as exc:
            return PlanResult(job_name, errors=list(exc.errors))
        except LocusError as exc:
            return PlanResult(job_name, errors=[("", str(exc))])
        except Exception as exc:  # the user's config classes and validators may raise anything
            return PlanResult(job_name, errors=[("", f"{type(exc).__name__}: {exc}")])


def _plan(
    defs: Definitions,
    job_name: str,
    run_config: Mapping[str, Any] | None,
    asset_selection: Sequence[Sequence[str]] | None,
    step_keys: Sequence[str] | None,
) -> PlanResult:
    if job_name != IMPLICIT_ASSET_JOB and job_name not in defs.jobs:
        jobs = ", ".join(sorted(defs.jobs)) or "(none defined)"
        return PlanResult(job_name, errors=[("job_name", f"no job named '{job_name}'; jobs: {jobs}")])
    selected: tuple[AssetKey, ...] | None = None
    if asset_selection is not None:
        allowed: Collection[AssetKey]
        if job_name == IMPLICIT_ASSET_JOB:
            allowed = defs.asset_graph.by_key.keys()
        elif defs.jobs[job_name].is_asset_job:
            allowed = {a.key for a in defs.jobs[job_name].asset_nodes.values()}
        else:
            return PlanResult(job_name, errors=[("asset_selection", f"job '{job_name}' is not an asset job")])
        keys = [AssetKey(path) for path in asset_selection]
        unknown = [k.to_user_string() for k in keys if k not in allowed]
        if unknown or not keys:
            message = f"not assets of job '{job_name}': {unknown[:20]}" if unknown else "selects no assets"
            return PlanResult(job_name, errors=[("asset_selection", message)])
        selected = tuple(defs.asset_graph.toposort(keys))
    job = resolve_job(defs, job_name, selected)
    resolve_run_config(job, run_config, defs.resources_for(job), defs.executor_for(job))
    try:
        plan = build_plan(job, step_keys)
    except LocusError as exc:
        return PlanResult(job.name, errors=[("step_keys", exc.message)])
    return PlanResult(
        job.name,
        step_keys=list(plan.step_keys),
        asset_selection=[list(k.path) for k in selected] if selected is not None else None,
    )

"""Code pointers: where a code location's Definitions live (a file, a module
or a package, plus attribute and working directory) and how to load them,
with errors that say what is wrong and how to fix it."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from locus.definitions.asset_job import IMPLICIT_ASSET_JOB, UnresolvedAssetJobDefinition, build_asset_job
from locus.definitions.asset_key import AssetKey
from locus.definitions.assets import AssetsDefinition
from locus.definitions.errors import CodeLoadError, LocusError
from locus.definitions.jobs import JobDefinition
from locus.definitions.registry import Definitions
from locus.definitions.schedules import ScheduleDefinition
from locus.definitions.sensors import SensorDefinition
from locus.execution.events import ErrorInfo


@dataclass(frozen=True)
class CodePointer:
    python_file: str | None = None
    module_name: str | None = None
    package_name: str | None = None
    attribute: str | None = None
    working_directory: str | None = None

    def __post_init__(self) -> None:
        given = [x for x in (self.python_file, self.module_name, self.package_name) if x]
        if len(given) != 1:
            raise CodeLoadError(
                "name exactly one of a python file, a module or a package",
                "pass -f FILE, -m MODULE or --package-name PACKAGE",
            )

    @property
    def target(self) -> str:
        if self.python_file:
            return f"file {self.python_file}"
        if self.module_name:
            return f"module {self.module_name}"
        return f"package {self.package_name}"

    @property
    def default_location_name(self) -> str:
        base = Path(self.python_file).name if self.python_file else (self.module_name or self.package_name or "")
        return f"{base}:{self.attribute}" if self.attribute else base

    def absolute(self) -> CodePointer:
        """The same pointer with paths made absolute, for other processes."""
        wd = os.path.abspath(self.working_directory) if self.working_directory else None
        file = self.python_file
        if file and not os.path.isabs(file):
            file = os.path.abspath(os.path.join(wd or os.getcwd(), file))
        return CodePointer(file, self.module_name, self.package_name, self.attribute, wd)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(raw: Mapping[str, Any]) -> CodePointer:
        return CodePointer(**{k: raw.get(k) for k in CodePointer.__dataclass_fields__})


def _import(pointer: CodePointer) -> ModuleType:
    search_dir = pointer.working_directory
    if pointer.python_file:
        path = Path(pointer.python_file)
        if not path.is_file():
            raise CodeLoadError(f"no such python file: {path}", "check the path given with -f/--python-file")
        search_dir = search_dir or str(path.resolve().parent)
    search_dir = search_dir or os.getcwd()
    if search_dir not in sys.path:
        sys.path.insert(0, search_dir)
    if pointer.python_file:
        name = Path(pointer.python_file).stem
        spec = importlib.util.spec_from_file_location(name, pointer.python_file)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        return module
    return importlib.import_module(pointer.module_name or pointer.package_name or "")


def load_definitions(pointer: CodePointer) -> Definitions:
    """Import the pointer's code and return its one Definitions object."""
    try:
        module = _import(pointer)
    except LocusError as exc:
        if isinstance(exc, CodeLoadError) and exc.__cause__ is None and "no such python file" in exc.message:
            raise
        raise CodeLoadError(f"error loading {pointer.target}: {exc.message}", exc.hint) from exc
    except ModuleNotFoundError as exc:
        raise CodeLoadError(
            f"error loading {pointer.target}: {exc}",
            "check the module name and that its folder is the working directory (-d) or on PYTHONPATH",
            ErrorInfo.from_user_exception(exc),
        ) from exc
    except Exception as exc:
        raise CodeLoadError(
            f"error loading {pointer.target}: {type(exc).__name__}: {exc}",
            "fix the error shown in the traceback",
            ErrorInfo.from_user_exception(exc),
        ) from exc
    if pointer.attribute:
        value = getattr(module, pointer.attribute, None)
        if value is None:
            raise CodeLoadError(
                f"{pointer.target} has no attribute '{pointer.attribute}'",
                f"Definitions objects there: {_definitions_attrs(module) or 'none'}",
            )
        if callable(value) and not isinstance(value, Definitions):
            value = value()
        if not isinstance(value, Definitions):
            raise CodeLoadError(
                f"{pointer.target}: attribute '{pointer.attribute}' is a {type(value).__name__}, not Definitions",
                "point -a/--attribute at a Definitions object",
            )
        return value
    found = _definitions_attrs(module)
    if not found:
        implicit = _implicit_definitions(module)
        if implicit is not None:
            return implicit
        raise CodeLoadError(
            f"{pointer.target} defines no Definitions object (and no assets or jobs) at module level",
            "add `defs = Definitions(assets=[...], jobs=[...])` at the top level of the module",
        )
    if len(found) > 1:
        raise CodeLoadError(
            f"{pointer.target} defines several Definitions objects: {', '.join(found)}",
            "pick one with -a/--attribute (or `attribute:` in workspace.yaml)",
        )
    value = getattr(module, found[0])
    assert isinstance(value, Definitions)
    return value


def _implicit_definitions(module: ModuleType) -> Definitions | None:
    """As Dagster does: a module without Definitions but with top-level
    assets, jobs, schedules or sensors is a location of exactly those."""
    values = list(vars(module).values())
    assets = [v for v in values if isinstance(v, AssetsDefinition)]
    jobs = [v for v in values if isinstance(v, JobDefinition | UnresolvedAssetJobDefinition)]
    schedules = [v for v in values if isinstance(v, ScheduleDefinition)]
    sensors = [v for v in values if isinstance(v, SensorDefinition)]
    if not (assets or jobs or schedules or sensors):
        return None
    return Definitions(assets=assets, jobs=jobs, schedules=schedules, sensors=sensors)


def _definitions_attrs(module: ModuleType) -> list[str]:
    return [name for name, value in vars(module).items() if isinstance(value, Definitions)]


def resolve_job(defs: Definitions, job_name: str, asset_selection: tuple[AssetKey, ...] | None) -> JobDefinition:
    """The job a run executes: a named job, or an asset job narrowed to a selection."""
    if job_name == IMPLICIT_ASSET_JOB:
        keys = asset_selection if asset_selection is not None else tuple(defs.asset_graph.keys)
        return build_asset_job(IMPLICIT_ASSET_JOB, defs.asset_graph, keys, executor_def=defs.executor)
    job = defs.get_job_def(job_name)
    if asset_selection is not None and job.is_asset_job:
        assert job.asset_graph is not None
        return build_asset_job(
            job.name,
            job.asset_graph,
            asset_selection,
            executor_def=job.executor_def,
            tags=job.tags,
            config=job.config,
            description=job.description,
            resource_defs=job.resource_defs,
        )
    return job

"""Location snapshots: everything the API and the daemon may know about a code
location's definitions, as small frozen values that cross process boundaries.

Pure: built from a ``Definitions`` object, encoded to compact JSON bytes and
decoded back without importing grpc or user code. The encoding lists assets
as rows and refers to upstream assets by row number, so that a 10,000-asset
location encodes to a few MB and decodes in tens of milliseconds; decoded
objects share their key tuples and repeated strings.
"""

from __future__ import annotations

import gc
import hashlib
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from locus.definitions.asset_job import IMPLICIT_ASSET_JOB
from locus.definitions.composition import FromOutput, FromOutputs
from locus.definitions.config_schema import describe_schema
from locus.definitions.jobs import JobDefinition
from locus.definitions.registry import Definitions
from locus.definitions.resources import ResourceDefinition, is_configurable_resource

# Bumped when the encoding changes incompatibly; decode refuses other formats.
SNAPSHOT_FORMAT = 1

AssetKeyPath = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AssetSnapshot:
    key: AssetKeyPath
    node_name: str
    group_name: str
    description: str | None
    kinds: tuple[str, ...]
    tags: dict[str, str]
    metadata: dict[str, Any]
    # Every upstream asset, data inputs and order-only deps alike.
    upstream: tuple[AssetKeyPath, ...]
    # The upstreams that pass no data (``deps=[...]``).
    order_only_deps: tuple[AssetKeyPath, ...]
    io_manager_key: str
    owners: tuple[str, ...]
    code_version: str | None
    resource_keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class JobSnapshot:
    name: str
    description: str | None
    tags: dict[str, str]
    executor_name: str
    node_names: tuple[str, ...]
    # (upstream node, downstream node) for data and order-only dependencies.
    edges: tuple[tuple[str, str], ...]
    # The assets an asset job materialises; empty for op jobs.
    asset_keys: tuple[AssetKeyPath, ...]
    # Node name -> a JSON description of the config it accepts (nodes with config only).
    op_config_schemas: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ScheduleSnapshot:
    name: str
    job_name: str
    cron_schedules: tuple[str, ...]
    execution_timezone: str | None
    default_status: str
    description: str | None
    tags: dict[str, str]


@dataclass(frozen=True, slots=True)
class SensorSnapshot:
    name: str
    job_names: tuple[str, ...]
    minimum_interval_seconds: int
    default_status: str
    description: str | None


@dataclass(frozen=True, slots=True)
class ResourceSnapshot:
    key: str
    type_name: str
    # Field name -> {"type", "required", "default"?, "description"?}.
    config_fields: dict[str, Any]


@dataclass(frozen=True)
class LocationSnapshot:
    location_name: str
    image: str | None
    code_pointer: dict[str, Any]
    assets: tuple[AssetSnapshot, ...]
    jobs: tuple[JobSnapshot, ...]
    schedules: tuple[ScheduleSnapshot, ...]
    sensors: tuple[SensorSnapshot, ...]
    resources: tuple[ResourceSnapshot, ...]

    @property
    def counts(self) -> dict[str, int]:
        return {
            "assets": len(self.assets),
            "jobs": sum(1 for j in self.jobs if j.name != IMPLICIT_ASSET_JOB),
            "schedules": len(self.schedules),
            "sensors": len(self.sensors),
        }

    def job(self, name: str) -> JobSnapshot | None:
        return _index(self, "jobs", lambda j: j.name).get(name)

    def asset(self, key: AssetKeyPath | list[str] | str) -> AssetSnapshot | None:
        path = tuple(key.split("/")) if isinstance(key, str) else tuple(key)
        return _index(self, "assets", lambda a: a.key).get(path)

    def schedule(self, name: str) -> ScheduleSnapshot | None:
        return _index(self, "schedules", lambda s: s.name).get(name)

    def sensor(self, name: str) -> SensorSnapshot | None:
        return _index(self, "sensors", lambda s: s.name).get(name)


def _index(snapshot: LocationSnapshot, attr: str, key: Callable[[Any], Any]) -> dict[Any, Any]:
    # Built on first lookup and kept on the (frozen) snapshot.
    cache_name = f"_by_{attr}"
    found: dict[Any, Any] | None = snapshot.__dict__.get(cache_name)
    if found is None:
        found = {key(item): item for item in getattr(snapshot, attr)}
        object.__setattr__(snapshot, cache_name, found)
    return found


# -- building ------------------------------------------------------------------


def json_safe(value: Any) -> Any:
    """``value`` as plain JSON values; anything else becomes its ``str``."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    return str(value)


def _type_name(annotation: Any) -> str:
    return annotation.__name__ if isinstance(annotation, type) else str(annotation).replace("typing.", "")


def _model_fields(cls: Any) -> dict[str, Any]:
    """Pydantic fields (Config classes, configurable resources) described like dict schemas."""
    out: dict[str, Any] = {}
    for name, info in getattr(cls, "model_fields", {}).items():
        entry: dict[str, Any] = {"type": _type_name(info.annotation), "required": info.is_required()}
        if not info.is_required() and info.default_factory is None:
            entry["default"] = json_safe(info.default)
        if info.description:
            entry["description"] = info.description
        out[name] = entry
    return out


def _config_description(config_type: Any) -> Any:
    if isinstance(config_type, type) and hasattr(config_type, "model_fields"):
        return _model_fields(config_type)
    return json_safe(describe_schema(config_type))


def _resource(key: str, resource: Any) -> ResourceSnapshot:
    if is_configurable_resource(resource):
        return ResourceSnapshot(key, type(resource).__name__, _model_fields(type(resource)))
    if isinstance(resource, ResourceDefinition):
        schema = resource.config_schema
        fields = _config_description(schema) if isinstance(schema, Mapping) else {}
        return ResourceSnapshot(key, str(resource.name), fields)
    return ResourceSnapshot(key, type(resource).__name__, {})


def _job(job: JobDefinition, defs: Definitions, key_index: Mapping[Any, int]) -> dict[str, Any]:
    names = list(job.nodes)
    position = {name: i for i, name in enumerate(names)}
    edges: list[list[int]] = []
    for name, node in job.nodes.items():
        ups: list[str] = []
        for source in node.inputs.values():
            if isinstance(source, FromOutput):
                ups.append(source.node)
            elif isinstance(source, FromOutputs):
                ups.extend(s.node for s in source.sources)
        ups.extend(node.after)
        for up in dict.fromkeys(ups):
            if up in position:
                edges.append([position[up], position[name]])
    schemas = {
        name: _config_description(node.op.config_type)
        for name, node in job.nodes.items()
        if node.op.config_type is not None
    }
    executor = defs.executor_for(job)
    return {
        "name": job.name,
        "description": job.description,
        "tags": dict(job.tags),
        "executor_name": executor.name,
        "node_names": names,
        "edges": edges,
        "asset_keys": [key_index[a.key] for a in job.asset_nodes.values() if a.key in key_index],
        "op_config_schemas": schemas,
    }


def _encoded(defs: Definitions, location_name: str, code_pointer: Mapping[str, Any], image: str | None) -> Any:
    assets = list(defs.asset_graph.by_key.values())
    key_index = {a.key: i for i, a in enumerate(assets)}
    rows = []
    for a in assets:
        inputs = set(a.input_keys.values())
        rows.append(
            [
                list(a.key.path),
                a.node_name,
                a.group_name,
                a.description,
                sorted(a.kinds),
                dict(a.tags),
                json_safe(a.metadata) if a.metadata else {},
                [key_index[k] for k in a.upstream_keys],
                [key_index[k] for k in a.dep_keys if k not in inputs],
                a.io_manager_key,
                list(a.owners),
                a.code_version,
                sorted(a.resource_keys),
            ]
        )
    return {
        "format": SNAPSHOT_FORMAT,
        "location_name": location_name,
        "image": image,
        "code_pointer": dict(code_pointer),
        "assets": rows,
        "jobs": [_job(j, defs, key_index) for j in defs.jobs.values()],
        "schedules": [
            {
                "name": s.name,
                "job_name": s.job_name,
                "cron_schedules": list(s.cron_schedules),
                "execution_timezone": s.execution_timezone,
                "default_status": s.default_status.value,
                "description": s.description,
                "tags": dict(s.tags),
            }
            for s in defs.schedules.values()
        ],
        "sensors": [
            {
                "name": s.name,
                "job_names": list(s.job_names),
                "minimum_interval_seconds": s.minimum_interval_seconds,
                "default_status": s.default_status.value,
                "description": s.description,
            }
            for s in defs.sensors.values()
        ],
        "resources": [
            {"key": r.key, "type_name": r.type_name, "config_fields": r.config_fields}
            for r in (_resource(k, v) for k, v in defs.resources.items())
        ],
    }


def encode_definitions(
    defs: Definitions, location_name: str, code_pointer: Mapping[str, Any], image: str | None
) -> bytes:
    """``encode_snapshot(build_snapshot(...))`` without building the objects first."""
    return _dumps(_encoded(defs, location_name, code_pointer, image))


def build_snapshot(
    defs: Definitions, location_name: str, code_pointer: Mapping[str, Any], image: str | None
) -> LocationSnapshot:
    return decode_snapshot(encode_definitions(defs, location_name, code_pointer, image))


# -- encoding ------------------------------------------------------------------


def _dumps(raw: Any) -> bytes:
    # Insertion order is the definitions' order, so equal code encodes equally.
    return json.dumps(raw, separators=(",", ":"), ensure_ascii=False).encode()


def encode_snapshot(snapshot: LocationSnapshot) -> bytes:
    key_index = {a.key: i for i, a in enumerate(snapshot.assets)}
    rows = [
        [
            list(a.key),
            a.node_name,
            a.group_name,
            a.description,
            list(a.kinds),
            a.tags,
            a.metadata,
            [key_index[k] for k in a.upstream],
            [key_index[k] for k in a.order_only_deps],
            a.io_manager_key,
            list(a.owners),
            a.code_version,
            list(a.resource_keys),
        ]
        for a in snapshot.assets
    ]
    jobs = []
    for j in snapshot.jobs:
        position = {name: i for i, name in enumerate(j.node_names)}
        jobs.append(
            {
                "name": j.name,
                "description": j.description,
                "tags": j.tags,
                "executor_name": j.executor_name,
                "node_names": list(j.node_names),
                "edges": [[position[u], position[d]] for u, d in j.edges],
                "asset_keys": [key_index[k] for k in j.asset_keys],
                "op_config_schemas": j.op_config_schemas,
            }
        )
    return _dumps(
        {
            "format": SNAPSHOT_FORMAT,
            "location_name": snapshot.location_name,
            "image": snapshot.image,
            "code_pointer": snapshot.code_pointer,
            "assets": rows,
            "jobs": jobs,
            "schedules": [
                {**_fields(s), "cron_schedules": list(s.cron_schedules)} for s in snapshot.schedules
            ],
            "sensors": [{**_fields(s), "job_names": list(s.job_names)} for s in snapshot.sensors],
            "resources": [_fields(r) for r in snapshot.resources],
        }
    )


def _fields(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__dataclass_fields__}


def snapshot_id(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def decode_snapshot(data: bytes) -> LocationSnapshot:
    # Tens of thousands of small containers, none in a cycle: collector passes
    # triggered halfway would cost more than the whole decode.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _decode(json.loads(data))
    finally:
        if enabled:
            gc.enable()


def _decode(raw: Any) -> LocationSnapshot:
    if raw.get("format") != SNAPSHOT_FORMAT:
        raise ValueError(
            f"snapshot format {raw.get('format')!r} is not {SNAPSHOT_FORMAT}: the code server runs another "
            "Locus version; use the same Locus version for the code server and the system"
        )
    intern = sys.intern
    tuples: dict[tuple[str, ...], tuple[str, ...]] = {}

    def shared(items: list[str]) -> tuple[str, ...]:
        t = tuple(items)
        return tuples.setdefault(t, t)

    rows = raw["assets"]
    keys = [tuple(row[0]) for row in rows]
    assets = tuple(
        AssetSnapshot(
            keys[i],
            row[1],
            intern(row[2]),
            row[3],
            shared(row[4]),
            row[5],
            row[6],
            tuple([keys[u] for u in row[7]]),
            tuple([keys[u] for u in row[8]]),
            intern(row[9]),
            shared(row[10]),
            row[11],
            shared(row[12]),
        )
        for i, row in enumerate(rows)
    )
    jobs = []
    for j in raw["jobs"]:
        names = tuple(j["node_names"])
        jobs.append(
            JobSnapshot(
                j["name"],
                j["description"],
                j["tags"],
                j["executor_name"],
                names,
                tuple([(names[u], names[d]) for u, d in j["edges"]]),
                tuple([keys[i] for i in j["asset_keys"]]),
                j["op_config_schemas"],
            )
        )
    return LocationSnapshot(
        location_name=raw["location_name"],
        image=raw["image"],
        code_pointer=raw["code_pointer"],
        assets=assets,
        jobs=tuple(jobs),
        schedules=tuple(
            ScheduleSnapshot(**{**s, "cron_schedules": tuple(s["cron_schedules"])}) for s in raw["schedules"]
        ),
        sensors=tuple(SensorSnapshot(**{**s, "job_names": tuple(s["job_names"])}) for s in raw["sensors"]),
        resources=tuple(ResourceSnapshot(**r) for r in raw["resources"]),
    )

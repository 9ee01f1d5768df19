"""What the emulated API server serves: resource types, built-in and from CRDs.

A :class:`ResourceType` is one (group, version, plural) with everything the
discovery documents, the tables and the write path need. Built-in types are
declared below; a CustomResourceDefinition becomes one type per served version
(:func:`from_crd`). Objects are stored per (group, plural), so all versions of a
CRD share their objects, as with a CRD without conversion webhooks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

READ_VERBS = ("get", "list", "watch")
ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
StoreKey = tuple[str, str]  # (group, plural)


@dataclass(frozen=True)
class Column:
    """A printer column: evaluated from a JSONPath, or computed for built-ins."""

    name: str
    type: str = "string"
    json_path: str | None = None
    compute: Callable[[dict[str, Any]], Any] | None = None
    priority: int = 0
    description: str = ""
    format: str = ""


AGE = Column("Age", "date", ".metadata.creationTimestamp", description="Time since the object was created")


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    columns: tuple[Column, ...] = (AGE,)
    schema: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    crd_name: str | None = None
    max_objects: int | None = None  # oldest objects are dropped beyond this (events only)

    @property
    def key(self) -> StoreKey:
        return (self.group, self.plural)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    @property
    def qualified_kind(self) -> str:
        return f"{self.kind}.{self.group}" if self.group else self.kind


def _count(path: str) -> Callable[[dict[str, Any]], int]:
    return lambda obj: len(obj.get(path) or {})


def _created_at(obj: dict[str, Any]) -> str:
    return str(obj["metadata"]["creationTimestamp"])  # a timestamp, not an age, as the real server shows CRDs


def _pod_ready(pod: dict[str, Any]) -> str:
    statuses = pod.get("status", {}).get("containerStatuses") or []
    ready = sum(1 for s in statuses if s.get("ready"))
    return f"{ready}/{len(pod.get('spec', {}).get('containers') or [])}"


def _pod_restarts(pod: dict[str, Any]) -> int:
    return sum(s.get("restartCount", 0) for s in pod.get("status", {}).get("containerStatuses") or [])


def _status_count(key: str) -> Callable[[dict[str, Any]], int]:
    return lambda obj: int((obj.get("status") or {}).get(key, 0))


def _deployment_ready(deployment: dict[str, Any]) -> str:
    ready = deployment.get("status", {}).get("readyReplicas", 0)
    return f"{ready}/{deployment.get('spec', {}).get('replicas', 1)}"


def _job_completions(job: dict[str, Any]) -> str:
    return f"{job.get('status', {}).get('succeeded', 0)}/{job.get('spec', {}).get('completions', 1)}"


def _service_ports(service: dict[str, Any]) -> str:
    ports = service.get("spec", {}).get("ports") or []
    return ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in ports) or "<none>"


def _builtin(group: str, version: str, plural: str, kind: str, namespaced: bool = True, **extra: Any) -> ResourceType:
    return ResourceType(group, version, plural, kind, namespaced, **extra)


BUILTINS: tuple[ResourceType, ...] = (
    _builtin("", "v1", "namespaces", "Namespace", False, short_names=("ns",), subresources=("status", "finalize"),
             columns=(Column("Status", json_path=".status.phase"), AGE)),
    _builtin("", "v1", "pods", "Pod", short_names=("po",), categories=("all",), subresources=("status", "log"),
             columns=(Column("Ready", compute=_pod_ready), Column("Status", json_path=".status.phase"),
                      Column("Restarts", "integer", compute=_pod_restarts), AGE,
                      Column("IP", json_path=".status.podIP", priority=1))),
    _builtin("", "v1", "services", "Service", short_names=("svc",), categories=("all",), subresources=("status",),
             columns=(Column("Type", json_path=".spec.type"), Column("Cluster-IP", json_path=".spec.clusterIP"),
                      Column("Ports", compute=_service_ports), AGE)),
    _builtin("", "v1", "configmaps", "ConfigMap", short_names=("cm",),
             columns=(Column("Data", "integer", compute=_count("data")), AGE)),
    _builtin("", "v1", "secrets", "Secret",
             columns=(Column("Type", json_path=".type"), Column("Data", "integer", compute=_count("data")), AGE)),
    _builtin("", "v1", "serviceaccounts", "ServiceAccount", short_names=("sa",)),
    _builtin("", "v1", "events", "Event", short_names=("ev",), max_objects=5000,
             columns=(Column("Type", json_path=".type"), Column("Reason", json_path=".reason"),
                      Column("Message", json_path=".message"), AGE)),
    _builtin("apps", "v1", "deployments", "Deployment", short_names=("deploy",), categories=("all",),
             subresources=("status", "scale"),
             columns=(Column("Ready", compute=_deployment_ready),
                      Column("Up-to-date", "integer", compute=_status_count("updatedReplicas")),
                      Column("Available", "integer", compute=_status_count("availableReplicas")), AGE)),
    _builtin("batch", "v1", "jobs", "Job", categories=("all",), subresources=("status",),
             columns=(Column("Completions", compute=_job_completions), AGE)),
    _builtin("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False,
             short_names=("crd", "crds"), subresources=("status",),
             columns=(Column("Created At", "date", compute=_created_at),)),
    _builtin("events.k8s.io", "v1", "events", "Event", short_names=("ev",), max_objects=5000),
    _builtin("coordination.k8s.io", "v1", "leases", "Lease"),
    _builtin("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    _builtin("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    _builtin("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    _builtin("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    _builtin("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", short_names=("pdb",),
             subresources=("status",)),
)


def _printer_columns(version: dict[str, Any]) -> tuple[Column, ...]:
    columns = version.get("additionalPrinterColumns")
    if columns is None:
        return (AGE,)
    return tuple(
        Column(c["name"], c.get("type", "string"), c["jsonPath"], priority=c.get("priority", 0),
               description=c.get("description", ""), format=c.get("format", ""))
        for c in columns
    )


def from_crd(crd: dict[str, Any]) -> list[ResourceType]:
    """One type per served version of a CustomResourceDefinition."""
    spec, names = crd["spec"], crd["spec"]["names"]
    return [
        ResourceType(
            group=spec["group"], version=version["name"], plural=names["plural"], kind=names["kind"],
            namespaced=spec.get("scope", "Namespaced") == "Namespaced",
            short_names=tuple(names.get("shortNames") or ()), categories=tuple(names.get("categories") or ()),
            subresources=tuple(sorted(version.get("subresources") or {})),
            columns=_printer_columns(version),
            schema=(version.get("schema") or {}).get("openAPIV3Schema"),
            crd_name=crd["metadata"]["name"],
        )
        for version in spec.get("versions") or []
        if version.get("served", True)
    ]


class Catalog:
    """The served types by (group, version, plural), kept in registration order."""

    def __init__(self, types: Iterable[ResourceType] = BUILTINS) -> None:
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        for resource_type in types:
            self.add(resource_type)

    def add(self, resource_type: ResourceType) -> None:
        self._types[(resource_type.group, resource_type.version, resource_type.plural)] = resource_type

    def replace_crd(self, crd_name: str, types: Iterable[ResourceType]) -> None:
        self._types = {k: t for k, t in self._types.items() if t.crd_name != crd_name}
        for resource_type in types:
            self.add(resource_type)

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._types.get((group, version, plural))

    def by_key(self, key: StoreKey) -> ResourceType | None:
        """Any served version of the type stored under (group, plural)."""
        return next((t for t in self._types.values() if t.key == key), None)

    def all(self) -> list[ResourceType]:
        return list(self._types.values())

    def groups(self) -> dict[str, list[str]]:
        """Group name → its versions, the preferred (first declared) first."""
        found: dict[str, list[str]] = {}
        for group, version, _ in self._types:
            versions = found.setdefault(group, [])
            if version not in versions:
                versions.append(version)
        return found

    def in_version(self, group: str, version: str) -> list[ResourceType]:
        return [t for (g, v, _), t in self._types.items() if (g, v) == (group, version)]


@dataclass(frozen=True)
class Route:
    """A resource URL taken apart: ``/apis/{group}/{version}/namespaces/{ns}/{plural}/{name}/{sub}``."""

    group: str
    version: str
    plural: str | None = None
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None


NAMESPACE_SUBRESOURCES = {"status", "finalize"}


def parse_route(path: str) -> Route | None:
    """None for non-resource paths (discovery roots, /version, /openapi...)."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces" and not (len(rest) == 3 and rest[2] in NAMESPACE_SUBRESOURCES):
        namespace, rest = rest[1], rest[2:]
    if not rest:
        return Route(group, version)
    return Route(group, version, rest[0], namespace, rest[1] if len(rest) > 1 else None,
                 "/".join(rest[2:]) or None)

"""The cluster's state and its write paths, without HTTP.

:class:`Cluster` turns create / replace / patch / delete requests into store
writes with the real server's rules: admission of custom resources against
their CRD (:mod:`e2e.local.crdvalidation`), optimistic concurrency on
``resourceVersion``, no-op writes that change nothing (not even the
resourceVersion), CRDs that start serving their resources as soon as they are
written, namespaces created on first use, and deletion with finalizers and
garbage collection (:mod:`e2e.local._apiserver_deletion`, reached through
:meth:`Cluster.delete`).

Deliberate simplifications: garbage collection and namespace cleanup happen
synchronously within the deleting request (the real ones are asynchronous
controllers); a namespaced object may be created in a namespace that does not
exist yet — the Namespace is created for it, so tests need not create
namespaces first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from e2e.local import _apiserver_deletion as deletion
from e2e.local import _apiserver_objects as objects
from e2e.local._apiserver_errors import (
    ApiError,
    already_exists,
    bad_request,
    conflict,
    invalid,
    not_found,
    resource_not_found,
)
from e2e.local._apiserver_patch import APPLY, apply_patch
from e2e.local._apiserver_resources import Catalog, ResourceType, Route, from_crd
from e2e.local._apiserver_store import Store
from e2e.local.crdvalidation import CrdSchema

Obj = dict[str, Any]
NAMESPACES = ("", "namespaces")
CRDS = ("apiextensions.k8s.io", "customresourcedefinitions")


@dataclass
class WriteOptions:
    """Query parameters of a write: ``fieldValidation`` (Strict/Warn/Ignore) and ``dryRun``."""

    field_validation: str = "Warn"
    dry_run: bool = False
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def from_params(cls, params: dict[str, str]) -> WriteOptions:
        return cls(params.get("fieldValidation") or "Warn", params.get("dryRun") == "All")


def _without_version(obj: Obj) -> Obj:
    return {**obj, "metadata": {k: v for k, v in obj["metadata"].items() if k != "resourceVersion"}}


class Cluster:
    def __init__(self, store_log_size: int = 10000) -> None:
        self.catalog = Catalog()
        self.store = Store(store_log_size)
        self.ips = objects.ClusterIPs()
        self._schemas: dict[tuple[str, str], CrdSchema] = {}

    # Lookups
    def resource_type(self, route: Route) -> ResourceType:
        rt = self.catalog.get(route.group, route.version, route.plural or "")
        if rt is None:
            raise resource_not_found()
        if route.subresource and route.subresource not in rt.subresources:
            raise resource_not_found(route.subresource)
        return rt

    def get(self, rt: ResourceType, namespace: str | None, name: str) -> Obj:
        obj = self.store.get(rt.key, namespace if rt.namespaced else None, name)
        if obj is None:
            raise not_found(rt.plural, rt.group, name)
        return objects.with_version(rt, obj)

    def list_objects(self, rt: ResourceType, namespace: str | None) -> list[Obj]:
        stored = self.store.list_objects(rt.key, namespace if rt.namespaced else None)
        return [objects.with_version(rt, o) for o in stored]

    # Creating
    def create(self, rt: ResourceType, namespace: str | None, body: Any, options: WriteOptions) -> Obj:
        obj = objects.new_object(rt, body, namespace)
        meta = obj["metadata"]
        if self.store.get(rt.key, meta.get("namespace"), meta["name"]) is not None:
            raise already_exists(rt.plural, rt.group, meta["name"])
        if rt.crd_name is not None and rt.has_status:
            obj.pop("status", None)  # written through /status only, as on the real server
        objects.default_builtin(rt, obj, self.ips)
        obj = self._admit(rt, obj, None, options)
        if options.dry_run:
            return obj
        if rt.namespaced:
            self._ensure_namespace(meta["namespace"])
        stored = self.store.write(rt.key, obj, "ADDED")
        self._after_write(rt, stored)
        return stored

    def _ensure_namespace(self, name: str) -> None:
        namespace = self.store.get(NAMESPACES, None, name)
        if namespace is None:
            namespaces = self.catalog.get("", "v1", "namespaces")
            assert namespaces is not None
            self.create(namespaces, None, {"metadata": {"name": name}}, WriteOptions())
        elif namespace["metadata"].get("deletionTimestamp"):
            raise ApiError(403, "Forbidden", f"unable to create new content in namespace {name} because it is being "
                           "terminated", {"name": name, "kind": "namespaces"})

    def _after_write(self, rt: ResourceType, obj: Obj) -> None:
        if rt.key == CRDS:
            self._serve_crd(obj)
        if rt.max_objects is not None and self.store.count(rt.key) > rt.max_objects:
            oldest = self.store.oldest(rt.key)
            if oldest is not None:
                self.store.remove(rt.key, oldest)

    def _serve_crd(self, crd: Obj) -> None:
        name = crd["metadata"]["name"]
        self._schemas = {k: v for k, v in self._schemas.items() if k[0] != name}
        self.catalog.replace_crd(name, from_crd(crd))

    # Admission of custom resources
    def _schema(self, rt: ResourceType) -> CrdSchema | None:
        if rt.schema is None or rt.crd_name is None:
            return None
        key = (rt.crd_name, rt.version)
        if key not in self._schemas:
            self._schemas[key] = CrdSchema(rt.schema)
        return self._schemas[key]

    def _admit(self, rt: ResourceType, obj: Obj, old: Obj | None, options: WriteOptions) -> Obj:
        schema = self._schema(rt)
        if schema is None:
            return obj
        admission = schema.admit(obj, old)
        if admission.unknown_fields and options.field_validation == "Strict":
            raise bad_request("strict decoding error: " +
                              ", ".join(f'unknown field "{path}"' for path in admission.unknown_fields))
        if options.field_validation == "Warn":
            options.warnings += [f'unknown field "{path}"' for path in admission.unknown_fields]
        if admission.causes:
            raise invalid(rt.kind, rt.group, obj["metadata"]["name"], admission.causes)
        return admission.obj

    # Updating
    def replace(self, rt: ResourceType, route: Route, body: Any, options: WriteOptions) -> Obj:
        old = self.get(rt, route.namespace, route.name or "")
        if isinstance(body, dict):
            sent = (body.get("metadata") or {}).get("resourceVersion")
            if sent and sent != old["metadata"]["resourceVersion"]:
                raise conflict(rt.plural, rt.group, old["metadata"]["name"])
        return self._update(rt, old, body, route.subresource, options)

    def patch(self, rt: ResourceType, route: Route, content_type: str, patch: Any, options: WriteOptions) -> Obj:
        name = route.name or ""
        if content_type == APPLY and self.store.get(rt.key, route.namespace if rt.namespaced else None, name) is None:
            if not isinstance(patch, dict):
                raise bad_request("an apply patch must be an object")
            body = {**patch, "metadata": {**(patch.get("metadata") or {}), "name": name}}
            return self.create(rt, route.namespace, body, options)  # server-side apply creates
        old = self.get(rt, route.namespace, name)
        # The patch functions build new dicts and share the untouched parts with the stored (never mutated) object.
        body = apply_patch(content_type, old, patch, strategic=rt.crd_name is None)
        if (body.get("metadata") or {}).get("resourceVersion") != old["metadata"]["resourceVersion"]:
            raise conflict(rt.plural, rt.group, name)
        return self._update(rt, old, body, route.subresource, options)

    def _update(self, rt: ResourceType, old: Obj, body: Any, subresource: str | None, options: WriteOptions) -> Obj:
        new = objects.updated_object(rt, old, body, subresource)
        objects.keep_immutable_on_update(rt, old, new)
        new = self._admit(rt, new, old, options)
        if options.dry_run:
            return new
        if _without_version(new) == _without_version(old):
            return old  # nothing changed: no new resourceVersion, no event
        meta = new["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers") and not meta.get("deletionGracePeriodSeconds"):
            return deletion.remove(self, rt, new, "Background")
        stored = self.store.write(rt.key, new, "MODIFIED")
        self._after_write(rt, stored)
        return stored

    # Deleting
    def delete(self, rt: ResourceType, route: Route, options: deletion.DeleteOptions) -> Obj:
        return deletion.delete(self, rt, self.get(rt, route.namespace, route.name or ""), options)

    def delete_collection(self, rt: ResourceType, victims: list[Obj], options: deletion.DeleteOptions) -> list[Obj]:
        return [deletion.delete(self, rt, obj, options) for obj in victims]

    def type_of(self, key: tuple[str, str]) -> ResourceType | None:
        return self.catalog.by_key(key)

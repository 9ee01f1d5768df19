"""Deletion: finalizers, garbage collection, namespaces and CRDs going away.

An object with finalizers gets a ``deletionTimestamp`` and stays until a write
removes its last finalizer (then :func:`remove` runs); so does a pod that a
kubelet runs, for its grace period, until the kubelet deletes it with
``gracePeriodSeconds=0`` (:func:`e2e.local._apiserver_objects.pod_grace`). Removing an object
garbage-collects its dependents — every object whose ``ownerReferences`` names
its uid, in any namespace — unless another owner still exists (then only the
reference is dropped) or the policy is ``Orphan``. ``Foreground`` deletes the
dependents before the owner, ``Background`` (the default) after. Deleting a
Namespace deletes what is in it; deleting a CRD deletes its custom resources
and stops serving them. All of this happens within the deleting request.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from e2e.local import _apiserver_objects as objects
from e2e.local._apiserver_errors import bad_request, conflict
from e2e.local._apiserver_resources import ResourceType, StoreKey

if TYPE_CHECKING:
    from e2e.local._apiserver_cluster import Cluster

Obj = dict[str, Any]
NAMESPACES: StoreKey = ("", "namespaces")
CRDS: StoreKey = ("apiextensions.k8s.io", "customresourcedefinitions")
PODS: StoreKey = ("", "pods")
POLICIES = ("Background", "Foreground", "Orphan")


@dataclass(frozen=True)
class DeleteOptions:
    policy: str = "Background"
    uid: str | None = None
    resource_version: str | None = None
    dry_run: bool = False
    grace: int | None = None  # gracePeriodSeconds: for pods only

    @classmethod
    def parse(cls, params: dict[str, str], body: Any) -> DeleteOptions:
        """From the query and/or a ``DeleteOptions`` body (kubectl sends the body)."""
        body = body if isinstance(body, dict) else {}
        policy = body.get("propagationPolicy") or params.get("propagationPolicy")
        orphan = body.get("orphanDependents", params.get("orphanDependents") in ("true", True))
        policy = policy or ("Orphan" if orphan is True else "Background")
        if policy not in POLICIES:
            raise bad_request(f"propagationPolicy must be one of {', '.join(POLICIES)}: {json.dumps(policy)}")
        preconditions = body.get("preconditions") or {}
        dry_run = "All" in (body.get("dryRun") or []) or params.get("dryRun") == "All"
        grace = body.get("gracePeriodSeconds", params.get("gracePeriodSeconds"))
        return cls(policy, preconditions.get("uid"), preconditions.get("resourceVersion"), dry_run,
                   int(grace) if grace is not None else None)


def delete(cluster: Cluster, rt: ResourceType, obj: Obj, options: DeleteOptions) -> Obj:
    """The DELETE verb on one object; answers its last state."""
    meta = obj["metadata"]
    if options.uid and options.uid != meta["uid"]:
        raise conflict(rt.plural, rt.group, meta["name"], f"Precondition failed: UID in precondition: {options.uid}, "
                                                          f"UID in object meta: {meta['uid']}")
    if options.resource_version and options.resource_version != meta["resourceVersion"]:
        raise conflict(rt.plural, rt.group, meta["name"])
    if options.dry_run:
        return obj
    return delete_object(cluster, rt, obj, options.policy, options.grace)


def delete_object(cluster: Cluster, rt: ResourceType, obj: Obj, policy: str, grace: int | None = None) -> Obj:
    current = cluster.store.get(rt.key, obj["metadata"].get("namespace"), obj["metadata"]["name"])
    if current is None:
        return obj
    if policy == "Foreground":
        _collect_dependents(cluster, current["metadata"]["uid"], "Background")
    if rt.key == NAMESPACES:
        _empty_namespace(cluster, current["metadata"]["name"])
    seconds = objects.pod_grace(current, grace) if rt.key == PODS else 0
    if current["metadata"].get("finalizers") or _still_populated(cluster, rt, current) or seconds:
        if current["metadata"].get("deletionTimestamp"):
            return current
        marked = objects.marked_for_deletion(current, seconds)
        if rt.key == NAMESPACES:
            marked["status"] = {"phase": "Terminating"}
        return cluster.store.write(rt.key, marked, "MODIFIED")
    return remove(cluster, rt, current, policy)


def remove(cluster: Cluster, rt: ResourceType, obj: Obj, policy: str) -> Obj:
    """Drop the object from the store, then collect what depended on it."""
    final = cluster.store.remove(rt.key, obj)
    if rt.key == ("", "services"):
        cluster.ips.release((obj.get("spec") or {}).get("clusterIP"))
    if rt.key == CRDS:
        _drop_custom_resources(cluster, obj)
    _collect_dependents(cluster, obj["metadata"]["uid"], "Orphan" if policy == "Orphan" else "Background")
    namespace = obj["metadata"].get("namespace")
    if namespace:
        _finish_namespace(cluster, namespace)
    return final


def _collect_dependents(cluster: Cluster, owner_uid: str, policy: str) -> None:
    for key, namespace, name in cluster.store.dependents(owner_uid):
        dependent = cluster.store.get(key, namespace, name)
        rt = cluster.type_of(key)
        if dependent is None or rt is None:
            continue
        refs = dependent["metadata"].get("ownerReferences") or []
        others = [r for r in refs if r.get("uid") != owner_uid]
        if policy == "Orphan" or any(cluster.store.by_uid(r.get("uid", "")) for r in others):
            meta = {**dependent["metadata"], "ownerReferences": others}
            if not others:
                del meta["ownerReferences"]
            cluster.store.write(key, {**dependent, "metadata": meta}, "MODIFIED")
        else:
            delete_object(cluster, rt, dependent, "Background")


def _empty_namespace(cluster: Cluster, namespace: str) -> None:
    for key, ns, name in list(cluster.store.namespaced_keys(namespace)):
        obj, rt = cluster.store.get(key, ns, name), cluster.type_of(key)
        if obj is not None and rt is not None:
            delete_object(cluster, rt, obj, "Background")


def _still_populated(cluster: Cluster, rt: ResourceType, obj: Obj) -> bool:
    return rt.key == NAMESPACES and next(cluster.store.namespaced_keys(obj["metadata"]["name"]), None) is not None


def _finish_namespace(cluster: Cluster, namespace: str) -> None:
    """A terminating namespace goes once the last object in it has gone."""
    ns = cluster.store.get(NAMESPACES, None, namespace)
    if ns is None or not ns["metadata"].get("deletionTimestamp") or ns["metadata"].get("finalizers"):
        return
    if next(cluster.store.namespaced_keys(namespace), None) is None:
        rt = cluster.type_of(NAMESPACES)
        assert rt is not None
        remove(cluster, rt, ns, "Background")


def _drop_custom_resources(cluster: Cluster, crd: Obj) -> None:
    """The CRD's objects go regardless of their finalizers (nothing could serve them any more)."""
    key: StoreKey = (crd["spec"]["group"], crd["spec"]["names"]["plural"])
    rt = cluster.type_of(key)
    for obj in cluster.store.list_objects(key):
        if rt is not None:
            remove(cluster, rt, obj, "Background")
        else:
            cluster.store.remove(key, obj)
    cluster.catalog.replace_crd(crd["metadata"]["name"], [])

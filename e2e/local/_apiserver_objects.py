"""What the API server does to an object between the request and the store.

Pure functions: metadata on create (``uid``, ``generation``,
``creationTimestamp``, ``generateName``), the update rules (a write to the main
resource keeps the stored ``status`` when the type has a status subresource, a
write to ``/status`` changes nothing but ``status``; ``generation`` grows only
when the spec changes), name validation, and the defaults the built-in kinds
get from their real controllers' admission (``status.phase``, a Service's
``clusterIP`` from :class:`ClusterIPs`, a CRD's ``Established`` condition).
"""

from __future__ import annotations

import copy
import datetime
import ipaddress
import re
import secrets
import string
import uuid
from typing import Any

from e2e.local._apiserver_errors import bad_request, invalid
from e2e.local._apiserver_resources import ResourceType

Obj = dict[str, Any]
SERVER_OWNED_META = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation",
                     "name", "namespace", "selfLink")
NOT_SPEC = ("metadata", "status", "apiVersion", "kind")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_GENERATED_ALPHABET = string.ascii_lowercase + string.digits


def now(later: float = 0) -> str:
    moment = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=later)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


_NAME_RULES = {  # plural -> (pattern, what it is, max length, which characters)
    "namespaces": (_LABEL, "RFC 1123 label", 63, "lower case alphanumeric characters or '-'"),
    "services": (_LABEL_1035, "RFC 1035 label", 63, "lower case alphanumeric characters or '-'"),
}
_SUBDOMAIN_RULE = (_SUBDOMAIN, "RFC 1123 subdomain", 253, "lower case alphanumeric characters, '-' or '.'")


def _name_problem(rt: ResourceType, name: str) -> str | None:
    if rt.group == "rbac.authorization.k8s.io":  # path segment names, e.g. "system:controller"
        bad = name in (".", "..") or "/" in name or "%" in name
        return "may not contain '/' or '%' or be '.' or '..'" if bad else None
    pattern, what, limit, characters = _NAME_RULES.get(rt.plural, _SUBDOMAIN_RULE) if not rt.group else _SUBDOMAIN_RULE
    if len(name) > limit:
        return f"must be no more than {limit} characters"
    if not pattern.match(name):
        return (f"a lowercase {what} must consist of {characters}, and must start and end with an alphanumeric "
                f"character (regex used for validation is '{pattern.pattern.strip('^$')}')")
    return None


def _check_name(rt: ResourceType, obj: Obj) -> None:
    name = obj["metadata"].get("name")
    if not name:
        raise invalid(rt.kind, rt.group, "", [{"reason": "FieldValueRequired", "field": "metadata.name",
                                                "message": "Required value: name or generateName is required"}])
    problem = _name_problem(rt, name)
    if problem:
        raise invalid(rt.kind, rt.group, name, [{"reason": "FieldValueInvalid", "field": "metadata.name",
                                                 "message": f'Invalid value: "{name}": {problem}'}])


def _generated_name(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_GENERATED_ALPHABET) for _ in range(5))


def new_object(rt: ResourceType, body: Any, namespace: str | None) -> Obj:
    """A created object with its server-set metadata (but no resourceVersion: the store sets it)."""
    if not isinstance(body, dict):
        raise bad_request("the body of the request must be a JSON object")
    obj = copy.deepcopy(body)
    meta = obj.setdefault("metadata", {})
    if not isinstance(meta, dict):
        raise bad_request("metadata must be an object")
    if rt.namespaced:
        if meta.get("namespace") and namespace and meta["namespace"] != namespace:
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
        meta["namespace"] = namespace or meta.get("namespace") or "default"
    else:
        meta.pop("namespace", None)
    if not meta.get("name") and meta.get("generateName"):
        meta["name"] = _generated_name(meta["generateName"])
    _check_name(rt, obj)
    for key in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink"):
        meta.pop(key, None)
    meta.update(uid=str(uuid.uuid4()), creationTimestamp=now(), generation=1)
    obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
    return obj


def _spec_of(obj: Obj) -> Any:
    return obj.get("spec") if "spec" in obj else {k: v for k, v in obj.items() if k not in NOT_SPEC}


def updated_object(rt: ResourceType, old: Obj, body: Any, subresource: str | None) -> Obj:
    """The object to store after a PUT or a patch result, following the status-subresource rules."""
    if not isinstance(body, dict) or not isinstance(body.get("metadata", {}), dict):
        raise bad_request("the body of the request must be a JSON object with object metadata")
    if subresource == "status":
        new = {k: v for k, v in old.items() if k != "status"}
        new["metadata"] = dict(old["metadata"])  # the store stamps a new resourceVersion on it
        if "status" in body:
            new["status"] = body["status"]
        return new
    new = dict(body)  # a shallow copy: nested values may be shared with the stored object, never mutated
    if rt.has_status:
        new.pop("status", None)
        if "status" in old:
            new["status"] = old["status"]
    meta = new["metadata"] = dict(new.get("metadata") or {})
    for key in SERVER_OWNED_META:
        meta.pop(key, None)
        if key in old["metadata"]:
            meta[key] = old["metadata"][key]
    meta.pop("managedFields", None)
    _check_finalizers(rt, old, new)
    if _spec_of(new) != _spec_of(old):
        meta["generation"] = old["metadata"].get("generation", 1) + 1
    new["apiVersion"], new["kind"] = old["apiVersion"], old["kind"]
    return new


def _check_finalizers(rt: ResourceType, old: Obj, new: Obj) -> None:
    if not old["metadata"].get("deletionTimestamp"):
        return
    added = set(new["metadata"].get("finalizers") or []) - set(old["metadata"].get("finalizers") or [])
    if added:
        raise invalid(rt.kind, rt.group, old["metadata"]["name"], [{
            "reason": "FieldValueForbidden", "field": "metadata.finalizers",
            "message": "Forbidden: no new finalizers can be added if the object is being deleted"}])


def marked_for_deletion(obj: Obj, grace: int = 0) -> Obj:
    """An object that stays while being deleted (finalizers, or a pod's grace period), with a deletionTimestamp."""
    meta = {**obj["metadata"], "deletionTimestamp": now(grace), "deletionGracePeriodSeconds": grace,
            "generation": obj["metadata"].get("generation", 1) + 1}
    return {**obj, "metadata": meta}


def pod_grace(pod: Obj, requested: int | None) -> int:
    """Seconds a deleted pod stays Terminating for its kubelet to stop it (Kubernetes' CheckGracefulDelete).

    A pod no kubelet has taken (no ``spec.nodeName``, no ``status.hostIP``) or that has finished goes at
    once, so pods are not stuck when no kubelet runs; otherwise the kubelet deletes it with grace 0.
    """
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    if status.get("phase") in ("Succeeded", "Failed") or not (spec.get("nodeName") or status.get("hostIP")):
        return 0
    return int(requested if requested is not None else spec.get("terminationGracePeriodSeconds", 30))


def with_version(rt: ResourceType, obj: Obj) -> Obj:
    """The object as seen through a version of its type (CRDs serve one object in several versions)."""
    return obj if obj.get("apiVersion") == rt.api_version else {**obj, "apiVersion": rt.api_version}


class ClusterIPs:
    """Service addresses from 127.1.0.0/16: the harness's stand-in for kube-proxy's virtual IPs."""

    def __init__(self, network: str = "127.1.0.0/16") -> None:
        self._hosts = ipaddress.ip_network(network).hosts()
        self._free: list[str] = []
        self._used: set[str] = set()

    def allocate(self) -> str:
        address = self._free.pop(0) if self._free else str(next(self._hosts))
        while address in self._used:
            address = str(next(self._hosts))
        self._used.add(address)
        return address

    def reserve(self, address: str) -> None:
        self._used.add(address)

    def release(self, address: str | None) -> None:
        if address in self._used:
            self._used.discard(address)
            self._free.append(address)


def default_service(service: Obj, ips: ClusterIPs) -> None:
    spec = service.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port.get("port"))
    if spec["type"] == "ExternalName":
        return
    if spec.get("clusterIP") and spec["clusterIP"] != "None":
        ips.reserve(spec["clusterIP"])
    elif not spec.get("clusterIP"):
        spec["clusterIP"] = ips.allocate()
    spec["clusterIPs"] = [spec["clusterIP"]]
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("sessionAffinity", "None")
    service.setdefault("status", {"loadBalancer": {}})


def crd_status(crd: Obj) -> Obj:
    names = crd["spec"]["names"]
    accepted = {"singular": names["kind"].lower(), "listKind": f"{names['kind']}List", **names}
    stamp = now()
    conditions = [
        {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
         "message": "no conflicts found", "lastTransitionTime": stamp},
        {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
         "message": "the initial names have been accepted", "lastTransitionTime": stamp},
    ]
    stored = [v["name"] for v in crd["spec"].get("versions") or [] if v.get("storage")]
    return {"conditions": conditions, "acceptedNames": accepted, "storedVersions": stored}


def check_crd(rt: ResourceType, crd: Obj) -> None:
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    causes = [{"reason": "FieldValueRequired", "field": f"spec.{path}", "message": "Required value"}
              for path, value in (("group", spec.get("group")), ("names.plural", names.get("plural")),
                                  ("names.kind", names.get("kind")), ("versions", spec.get("versions")))
              if not value]
    expected = f"{names.get('plural')}.{spec.get('group')}"
    if not causes and crd["metadata"]["name"] != expected:
        causes.append({"reason": "FieldValueInvalid", "field": "metadata.name",
                       "message": f'Invalid value: "{crd["metadata"]["name"]}": must be spec.names.plural+"."+'
                                  f'spec.group'})
    if causes:
        raise invalid(rt.kind, rt.group, crd["metadata"]["name"], causes)


def default_builtin(rt: ResourceType, obj: Obj, ips: ClusterIPs) -> None:
    """Defaults the real server (or its admission) puts on a new object of a built-in kind."""
    spec = obj.get("spec")
    match rt.key:
        case ("", "namespaces"):
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
            obj.setdefault("spec", {"finalizers": ["kubernetes"]})
            obj["status"] = {"phase": "Active"}
        case ("", "pods"):
            obj.setdefault("spec", {}).setdefault("restartPolicy", "Always")
            obj["spec"].setdefault("serviceAccountName", "default")
            obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
        case ("", "services"):
            default_service(obj, ips)
        case ("apps", "deployments") if isinstance(spec, dict):
            spec.setdefault("replicas", 1)
            spec.setdefault("revisionHistoryLimit", 10)
            spec.setdefault("progressDeadlineSeconds", 600)
            spec.setdefault("strategy", {"type": "RollingUpdate",
                                         "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
            obj["status"] = {}
        case ("batch", "jobs") if isinstance(spec, dict):
            for key, value in (("completions", 1), ("parallelism", 1), ("backoffLimit", 6)):
                spec.setdefault(key, value)
            obj["status"] = {}
        case ("apiextensions.k8s.io", "customresourcedefinitions"):
            check_crd(rt, obj)
            obj["status"] = crd_status(obj)


def keep_immutable_on_update(rt: ResourceType, old: Obj, new: Obj) -> None:
    """Fields the real server keeps (or forbids changing) on update, filled in when a write omits them."""
    if rt.key == ("", "services") and isinstance(new.get("spec"), dict):
        old_spec = old.get("spec") or {}
        new["spec"] = dict(new["spec"])
        for key in ("clusterIP", "clusterIPs", "ipFamilies"):
            if key in old_spec and not new["spec"].get(key):
                new["spec"][key] = old_spec[key]
    if rt.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
        check_crd(rt, new)
        new["status"] = {**crd_status(new), **{k: v for k, v in (old.get("status") or {}).items()
                                               if k not in ("acceptedNames", "storedVersions", "conditions")}}
    if rt.key == ("", "namespaces"):
        new["status"] = old.get("status", {"phase": "Active"})

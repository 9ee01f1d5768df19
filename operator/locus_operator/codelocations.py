"""CodeLocation → a code-server Deployment and Service, a registry entry in
its Instance's storage, and a status that tells the truth.

``desired_children`` and ``location_status`` are pure; ``reconcile_location``
reads the cluster, applies, asks the pods' code servers what they loaded and
writes the status. A rollout whose new pods fail to load leaves the old pods
serving (the Deployment's ``maxUnavailable: 0`` and the ``locus.loaded``
readiness probe see to that): the location stays Ready, says Degraded, and
carries the new revision's error."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from locus.execution.events import ErrorInfo
from locus.k8s.codeserver import (
    COMPONENT,
    CodeServerSpec,
    code_server_deployment,
    code_server_endpoint,
    code_server_service,
)
from locus.k8s.labels import LOCATION_LABEL, Owner, label_value
from locus.k8s.podhealth import PodProblem, pod_problem, pod_ready
from locus.storage.records import LocationRecord, LocationStatus
from locus_operator.apply import apply
from locus_operator.conditions import Cond, merge_conditions
from locus_operator.context import LocationKey, OperatorContext
from locus_operator.events import post_event
from locus_operator.probe import Probe
from locus_operator.resources import CodeLocation
from locus_operator.storages import InstanceKey, deregister, register
from locus_operator.validation import describe_validation_error

log = logging.getLogger(__name__)

KIND = "CodeLocation"
# On the pod template: which revision of the spec a pod runs, so the status
# can tell the new revision's pods from the old ones.
REVISION_ANNOTATION = "locus.dev/revision"


def instance_key(location: CodeLocation, namespace: str) -> InstanceKey:
    ref = location.spec.instance
    return (ref.namespace or namespace, ref.name)


def server_spec(location: CodeLocation, namespace: str, name: str, uid: str) -> CodeServerSpec:
    spec = location.spec
    return CodeServerSpec(
        location=name,
        namespace=namespace,
        image=spec.image,
        owner=Owner(KIND, name, uid),
        module=spec.module,
        python_file=spec.python_file,
        package=spec.package,
        attribute=spec.attribute,
        working_directory=spec.working_directory,
        image_pull_policy=spec.image_pull_policy or "IfNotPresent",
        port=spec.port,
        replicas=spec.replicas,
        env=spec.env or (),
        env_from=spec.env_from or (),
        resources=spec.resources,
        service_account_name=spec.service_account_name,
        pod_template=spec.pod_template,
    )


def desired_children(spec: CodeServerSpec) -> tuple[dict[str, Any], dict[str, Any], str]:
    """The Deployment (its pod template stamped with its revision), the
    Service, and the revision."""
    deployment = code_server_deployment(spec)
    template = deployment["spec"]["template"]
    revision = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:12]
    template["metadata"].setdefault("annotations", {})[REVISION_ANNOTATION] = revision
    return deployment, code_server_service(spec), revision


@dataclass(frozen=True)
class PodView:
    """One code-server pod, as the status needs it."""

    name: str
    revision: str | None
    image: str | None
    ready: bool
    problem: PodProblem | None
    probe: Probe | None

    @property
    def serving(self) -> bool:
        return self.ready and self.probe is not None and self.probe.loaded

    @property
    def load_error(self) -> dict[str, Any] | None:
        """What keeps this pod from serving: the code's load error, or the pod's problem."""
        if self.probe is not None and self.probe.load_error is not None:
            return _load_error(self.probe.load_error)
        if self.problem is not None and self.problem.final:
            return {"message": self.problem.message}
        if self.problem is not None and self.problem.reason == "CrashLoopBackOff":
            return {"message": self.problem.message}
        return None


def _load_error(error: ErrorInfo) -> dict[str, Any]:
    return {"message": error.summary(), "traceback": error.traceback}


def view_pod(pod: Mapping[str, Any], probe: Probe | None) -> PodView:
    meta = pod.get("metadata") or {}
    containers = (pod.get("spec") or {}).get("containers") or [{}]
    return PodView(
        name=meta.get("name", ""),
        revision=(meta.get("annotations") or {}).get(REVISION_ANNOTATION),
        image=containers[0].get("image"),
        ready=pod_ready(pod),
        problem=pod_problem(pod),
        probe=probe,
    )


@dataclass(frozen=True)
class LocationObservation:
    """Everything the status is computed from."""

    generation: int | None
    revision: str
    replicas: int
    endpoint: str
    pods: Sequence[PodView]
    # Whether the Instance named by instanceRef has the location in its registry.
    registered: Cond | None = None


def location_status(obs: LocationObservation, previous: Mapping[str, Any] | None) -> dict[str, Any]:
    """The CodeLocation's ``status`` for what was observed (pure)."""
    current = [p for p in obs.pods if p.revision == obs.revision]
    old = [p for p in obs.pods if p.revision != obs.revision]
    serving = [p for p in current if p.serving] or [p for p in old if p.serving]
    failed = next((p for p in current if p.load_error is not None), None)
    load_error = failed.load_error if failed is not None else None
    reason = _failure_reason(failed) if failed is not None else ""
    loaded_current = [p for p in current if p.probe is not None and p.probe.loaded]

    if loaded_current:
        loaded = Cond("Loaded", "True", "Loaded", "the code server loaded the definitions")
    elif load_error is not None:
        loaded = Cond("Loaded", "False", reason, load_error["message"])
    else:
        loaded = Cond("Loaded", "Unknown", "Starting", "waiting for the code server to start")

    rolled_out = len(current) >= obs.replicas and all(p.serving for p in current) and not old
    if obs.replicas == 0:
        ready = Cond("Ready", "False", "ScaledToZero", "spec.replicas is 0: no code server runs")
    elif serving and serving[0].revision == obs.revision:
        ready = Cond("Ready", "True", "Serving", f"{len(serving)} code server pod(s) serving")
    elif serving:
        ready = Cond("Ready", "True", "ServingPreviousRevision", "the previous revision keeps serving")
    elif load_error is not None:
        ready = Cond("Ready", "False", reason, load_error["message"])
    else:
        ready = Cond("Ready", "False", "Starting", "waiting for a code server pod to load the definitions")

    if load_error is not None:
        progressing = Cond("Progressing", "False", "RolloutFailed", load_error["message"])
    elif rolled_out or obs.replicas == 0:
        progressing = Cond("Progressing", "False", "RolloutComplete", "every pod runs the current revision")
    else:
        progressing = Cond("Progressing", "True", "RollingOut", "pods of the current revision are starting")

    if load_error is not None and serving:
        degraded = Cond(
            "Degraded",
            "True",
            "NewRevisionFailed",
            f"the new revision fails ({load_error['message']}); the previous revision keeps serving",
        )
    else:
        degraded = Cond("Degraded", "False", "AsExpected", "")

    status: dict[str, Any] = {
        "observedGeneration": obs.generation,
        "conditions": merge_conditions(
            (previous or {}).get("conditions"),
            [ready, loaded, progressing, degraded, *([obs.registered] if obs.registered else [])],
            obs.generation,
        ),
        "endpoint": obs.endpoint,
        "image": serving[0].image if serving else None,
        "definitions": _counts(serving[0].probe) if serving and serving[0].probe is not None else None,
        "loadError": load_error,
    }
    return status


def _failure_reason(pod: PodView) -> str:
    if pod.probe is not None and pod.probe.load_error is not None:
        return "LoadFailed"
    if pod.problem is not None and pod.problem.reason in ("ErrImagePull", "ImagePullBackOff", "InvalidImageName"):
        return "ImagePullFailed"
    if pod.problem is not None and pod.problem.reason == "CrashLoopBackOff":
        return "CrashLoop"
    return pod.problem.reason if pod.problem is not None else "Failed"


def _counts(probe: Probe) -> dict[str, int]:
    return {key: int(probe.counts.get(key, 0)) for key in ("assets", "jobs", "schedules", "sensors")}


def registry_record(name: str, status: Mapping[str, Any], endpoint: str, snapshot_id: str | None) -> LocationRecord:
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in status["conditions"])
    error = status.get("loadError")
    if ready:
        state = LocationStatus.LOADED
    elif error is not None:
        state = LocationStatus.ERROR
    else:
        state = LocationStatus.LOADING
    load_error = None
    if error is not None and not ready:
        load_error = ErrorInfo(cls_name="LoadError", message=error["message"], traceback=error.get("traceback") or "")
    return LocationRecord(
        name=name,
        status=state,
        image=status.get("image"),
        endpoint=endpoint,
        snapshot_id=snapshot_id,
        load_error=load_error,
        counts=dict(status.get("definitions") or {}),
    )


def invalid_status(error: str, generation: int | None, previous: Mapping[str, Any] | None) -> dict[str, Any]:
    conds = [
        Cond("Ready", "False", "InvalidSpec", error),
        Cond("Loaded", "Unknown", "InvalidSpec", error),
        Cond("Progressing", "False", "InvalidSpec", error),
    ]
    return {
        "observedGeneration": generation,
        "conditions": merge_conditions((previous or {}).get("conditions"), conds, generation),
    }


def _comparable(status: Mapping[str, Any] | None) -> str:
    return json.dumps(status or {}, sort_keys=True, default=str)


def _merged(previous: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """``previous`` after a merge patch of its top-level keys (None removes)."""
    merged = {**previous, **patch}
    return {key: value for key, value in merged.items() if value is not None}


async def write_status(
    ctx: OperatorContext,
    namespace: str,
    name: str,
    obj: Mapping[str, Any],
    status: dict[str, Any],
    kind: str = KIND,
) -> None:
    """Patch ``status`` when it changed; post events for Ready/Degraded transitions."""
    previous = obj.get("status") or {}
    if _comparable(previous) == _comparable(_merged(previous, status)):
        return
    # A merge patch: keys set to None are removed (e.g. loadError once healed).
    await ctx.client.patch(kind, namespace, name, {"status": status}, subresource="status")
    await _post_transitions(ctx, obj, previous, status)


async def _post_transitions(
    ctx: OperatorContext, obj: Mapping[str, Any], previous: Mapping[str, Any], status: Mapping[str, Any]
) -> None:
    def state(s: Mapping[str, Any], type_: str) -> tuple[str, str]:
        found: Mapping[str, Any] = next((c for c in s.get("conditions") or () if c.get("type") == type_), {})
        return str(found.get("status", "")), str(found.get("reason", ""))

    ready_now, ready_before = state(status, "Ready"), state(previous, "Ready")
    degraded_now, degraded_before = state(status, "Degraded"), state(previous, "Degraded")
    message = next((c["message"] for c in status["conditions"] if c["type"] == "Ready"), "")
    if ready_now != ready_before:
        if ready_now[0] == "True":
            await post_event(ctx.client, obj, "Ready", message)
        elif ready_now[1] not in ("Starting", ""):
            await post_event(ctx.client, obj, ready_now[1], message, "Warning")
    if degraded_now != degraded_before and degraded_now[0] == "True":
        degraded_message = next(c["message"] for c in status["conditions"] if c["type"] == "Degraded")
        await post_event(ctx.client, obj, "Degraded", degraded_message, "Warning")


async def reconcile_location(ctx: OperatorContext, key: LocationKey) -> None:
    namespace, name = key
    obj = await ctx.client.get(KIND, namespace, name)
    if obj is None or (obj.get("metadata") or {}).get("deletionTimestamp"):
        return  # deregistration happens in the delete handler
    meta = obj["metadata"]
    generation = meta.get("generation")
    ctx.location_labels[(namespace, label_value(name))] = name
    try:
        location = CodeLocation.model_validate(obj)
    except ValidationError as error:
        message = describe_validation_error(KIND, name, error)
        await write_status(ctx, namespace, name, obj, invalid_status(message, generation, obj.get("status")))
        return

    spec = server_spec(location, namespace, name, meta["uid"])
    deployment, service, revision = desired_children(spec)
    await apply(ctx.client, deployment)
    live_service = (await apply(ctx.client, service)).obj
    target = instance_key(location, namespace)
    before = ctx.location_instances.get(key)
    if before is not None and before != target and (old := ctx.storages.get(before)) is not None:
        await deregister(old, name)  # instanceRef moved to another Instance
    ctx.location_instances[key] = target

    pods = await ctx.client.list("Pod", namespace, spec.selector)
    views = []
    for pod in pods:
        if (pod.get("metadata") or {}).get("deletionTimestamp"):
            continue
        ip = (pod.get("status") or {}).get("podIP")
        running = (pod.get("status") or {}).get("phase") == "Running"
        probe = await ctx.prober.probe(ip, spec.port) if ip and running else None
        views.append(view_pod(pod, probe))
    endpoint = code_server_endpoint(spec)
    storage_ready = ctx.storages.get(target) is not None
    registered = (
        Cond("Registered", "True", "Registered", f"in the registry of Instance {target[0]}/{target[1]}")
        if storage_ready
        else Cond("Registered", "False", "InstanceNotReady",
                  f"Instance {target[0]}/{target[1]} (spec.instanceRef) does not exist or its storage is not "
                  "ready yet; runs and schedules start once it is")
    )
    obs = LocationObservation(generation, revision, spec.replicas, endpoint, views, registered)
    status = location_status(obs, obj.get("status"))
    await _register(ctx, key, name, status, live_service, spec.port, views)
    await write_status(ctx, namespace, name, obj, status)


def _service_address(service: Mapping[str, Any], port: int, fallback: str) -> str:
    """Where the daemon and API reach the code server: the Service's cluster
    IP (stable for the Service's life, and needing no cluster DNS)."""
    ip = (service.get("spec") or {}).get("clusterIP")
    return f"{ip}:{port}" if ip and ip != "None" else fallback


async def _register(
    ctx: OperatorContext,
    key: LocationKey,
    name: str,
    status: Mapping[str, Any],
    service: Mapping[str, Any],
    port: int,
    views: Sequence[PodView],
) -> None:
    storage = ctx.storages.get(ctx.location_instances[key])
    if storage is None:
        return  # the Instance's reconcile wakes this location once its storage is ready
    snapshot_id = next((p.probe.snapshot_id for p in views if p.serving and p.probe is not None), None)
    record = registry_record(name, status, _service_address(service, port, status["endpoint"]), snapshot_id)
    await register(storage, record)


async def delete_location(ctx: OperatorContext, obj: Mapping[str, Any]) -> None:
    """Deregister; the Deployment and Service go with their owner reference."""
    meta = obj.get("metadata") or {}
    key = (meta.get("namespace", ""), meta.get("name", ""))
    target = ctx.location_instances.pop(key, None)
    if target is None:
        try:
            target = instance_key(CodeLocation.model_validate(obj), key[0])
        except ValidationError:
            return  # never valid, never registered
    storage = ctx.storages.get(target)
    if storage is not None:
        await deregister(storage, key[1])


def location_for_child(ctx: OperatorContext, child: Mapping[str, Any]) -> LocationKey | None:
    """The CodeLocation a code-server Deployment, Service or Pod belongs to."""
    meta = child.get("metadata") or {}
    labels = meta.get("labels") or {}
    if labels.get("app.kubernetes.io/component") != COMPONENT or LOCATION_LABEL not in labels:
        return None
    namespace = meta.get("namespace", "")
    value = labels[LOCATION_LABEL]
    return (namespace, ctx.location_labels.get((namespace, value), value))

"""An in-memory stand-in for the Kubernetes API as k8s_job_executor uses it,
whose step Jobs "run" by writing the step's events into the run's storage,
one poll after another, the way a step pod would. For fast tests of the
executor's decisions; the harness test runs the real thing."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from locus.execution.engine import RunCanceled
from locus.execution.events import ErrorInfo, Event, EventType
from locus.k8s.client import JOBS, PODS, KubernetesApiError, Resource, selector_string
from locus.k8s.jobs import STEP_KEY_LABEL

# What a step Job does on each poll after it was created.
SUCCEED = "succeed"  # STEP_START, STEP_SUCCESS; the Job completes
FAIL = "fail"  # STEP_START, STEP_FAILURE; the pod exits 1, the Job fails
IMAGE_PULL = "image-pull"  # the pod waits in ErrImagePull forever
SILENT = "silent"  # the Job completes without the step reporting anything
HANG = "hang"  # runs until deleted
UNSCHEDULABLE = "unschedulable"  # the pod stays Pending: no node fits

Objs = list[dict[str, Any]]  # (the class's own `list` method shadows the builtin in its body)


@dataclass
class FakeCluster:
    store: Any  # the run's ExecutionInstance
    run_id: str
    behaviour: Mapping[str, str] = field(default_factory=dict)  # step key -> one of the above; default SUCCEED
    # Called at each poll (list of Jobs), e.g. to raise RunCanceled like a SIGTERM would.
    on_poll: Callable[[FakeCluster], None] | None = None
    objects: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (plural, name) -> object
    created: list[str] = field(default_factory=list)  # step keys, in creation order
    deleted: list[str] = field(default_factory=list)  # Job names
    max_active: int = 0
    polls: int = 0
    _uids: Any = field(default_factory=lambda: itertools.count(1))

    namespace = "data"

    # -- the client's interface --------------------------------------------------

    def create(self, resource: Resource, body: Mapping[str, Any], namespace: str | None = None) -> dict[str, Any]:
        name = body["metadata"]["name"]
        if (resource.plural, name) in self.objects:
            raise KubernetesApiError(409, "AlreadyExists", f'jobs.batch "{name}" already exists')
        obj = {**body, "metadata": {**body["metadata"], "uid": f"uid-{next(self._uids)}"}, "status": {}}
        self.objects[(resource.plural, name)] = obj
        if resource is JOBS:
            step_key = body["metadata"]["labels"][STEP_KEY_LABEL]
            self.created.append(step_key)
            pod_labels = body["spec"]["template"]["metadata"]["labels"]
            self.objects[("pods", f"{name}-pod")] = {"metadata": {"name": f"{name}-pod", "labels": pod_labels},
                                                      "status": {"phase": "Pending"}}
            self.max_active = max(self.max_active, len(self._active()))
        return obj

    def get(self, resource: Resource, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        return self.objects.get((resource.plural, name))

    def list(self, resource: Resource, namespace: str | None = None,
             label_selector: str | Mapping[str, str] | None = None) -> Objs:
        if resource is JOBS:
            self.polls += 1
            if self.on_poll is not None:
                self.on_poll(self)
            for job in self._active():
                self._advance(job)
        wanted = dict(part.split("=", 1) for part in selector_string(label_selector).split(",") if part)
        return [obj for (plural, _), obj in self.objects.items() if plural == resource.plural
                and wanted.items() <= (obj["metadata"].get("labels") or {}).items()]

    def delete(self, resource: Resource, name: str, namespace: str | None = None,
               propagation: str | None = "Background") -> bool:
        if self.objects.pop((resource.plural, name), None) is None:
            return False
        if resource is JOBS:
            self.deleted.append(name)
            self.objects.pop(("pods", f"{name}-pod"), None)
        return True

    # -- the steps "running" -----------------------------------------------------

    def jobs(self) -> Objs:
        return [obj for (plural, _), obj in self.objects.items() if plural == "jobs"]

    def pods(self) -> Objs:
        return [obj for (plural, _), obj in self.objects.items() if plural == "pods"]

    def _active(self) -> Objs:
        return [job for job in self.jobs() if not job["status"].get("conditions")]

    def _event(self, kind: EventType, step_key: str, message: str = "", error: ErrorInfo | None = None) -> None:
        self.store.store_event(Event(self.run_id, kind, message or f"{kind.value} {step_key}", step_key, error=error))

    def _advance(self, job: dict[str, Any]) -> None:
        step_key = job["metadata"]["labels"][STEP_KEY_LABEL]  # plain step keys are their own label value
        pod = self.objects[("pods", f"{job['metadata']['name']}-pod")]
        what = self.behaviour.get(step_key, SUCCEED)
        if what == SUCCEED:
            self._event(EventType.STEP_START, step_key)
            self._event(EventType.STEP_SUCCESS, step_key)
            job["status"] = {"conditions": [{"type": "Complete", "status": "True"}]}
        elif what == FAIL:
            self._event(EventType.STEP_START, step_key)
            self._event(EventType.STEP_FAILURE, step_key, f"{step_key} failed: ValueError: boom",
                        ErrorInfo("ValueError", "boom", ""))
            pod["status"] = {"phase": "Failed", "containerStatuses": [
                {"name": "locus", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}
            job["status"] = {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                                             "message": "Job has reached the specified backoff limit"}]}
        elif what == IMAGE_PULL:
            pod["status"] = {"phase": "Pending", "containerStatuses": [
                {"name": "locus", "image": "nowhere/image:1", "state": {"waiting": {
                    "reason": "ErrImagePull", "message": "image not found"}}}]}
        elif what == UNSCHEDULABLE:
            pod["status"] = {"phase": "Pending", "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                 "message": "0/3 nodes are available: 3 Insufficient memory."}]}
        elif what == SILENT:
            job["status"] = {"conditions": [{"type": "Complete", "status": "True"}]}


def cancel_after(polls: int) -> Callable[[FakeCluster], None]:
    """What SIGTERM does to the run process: RunCanceled, at the given poll."""

    def on_poll(cluster: FakeCluster) -> None:
        if cluster.polls == polls:
            raise RunCanceled()

    return on_poll


__all__ = ["FAIL", "HANG", "IMAGE_PULL", "PODS", "SILENT", "SUCCEED", "UNSCHEDULABLE", "FakeCluster", "cancel_after"]

"""The Deployment and Job controllers of the local cluster (same process as the kubelet).

Both are level-triggered: watch events enqueue the owning object's key
(:mod:`e2e.local._kubelet_workqueue`) and a reconcile looks at the cached
state, acts, and writes ``status``. Pods are found through their controller
owner reference (the owner's uid), so a restarted controller adopts the pods
that already exist instead of creating more: Deployment pods are matched to
revisions by their ``pod-template-hash`` label, which is a stable hash of the
template, and Job counters are recomputed from the pods' phases.

Deployments manage Pods directly -- no ReplicaSet objects are created (the
pods are still named ``<deployment>-<hash>-<suffix>`` and labelled
``pod-template-hash``), so ``kubectl rollout undo/history`` do not work.
Jobs run NonIndexed completions with ``parallelism``; ``suspend``,
``completionMode: Indexed``, ``podFailurePolicy`` and ``successPolicy`` are
ignored. Timings: the progress deadline is capped (30 s by default) and a Job's
retry back-off is 0.2 s doubling to 5 s instead of 10 s to 6 min.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable
from typing import Any

from e2e.local._kubelet_api import ApiClient, ApiError, Informer
from e2e.local._kubelet_rollout import PodView, deployment_status, max_surge_unavailable, plan_rollout
from e2e.local._kubelet_util import (
    Obj,
    condition,
    controller_uid,
    now,
    parse_time,
    pod_ready,
    pod_terminal,
    pod_terminating,
    random_suffix,
    rfc3339,
    template_hash,
)
from e2e.local._kubelet_workqueue import WorkQueue

log = logging.getLogger("kubelet.controllers")

__all__ = ["DeploymentController", "JobController", "OwnedPods"]

Key = tuple[str, str]
JOB_BACKOFF_START = 0.2
JOB_BACKOFF_MAX = 5.0


class OwnedPods:
    """An index of pods by their controller's uid, kept current from the pod informer."""

    def __init__(self, pods: Informer) -> None:
        self.pods = pods
        self._by_owner: dict[str, set[Key]] = {}
        self._owner_of: dict[Key, str] = {}

    def observe(self, kind: str, pod: Obj) -> str | None:
        meta = pod.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        owner = controller_uid(pod)
        previous = self._owner_of.pop(key, None)
        if previous is not None:
            self._by_owner.get(previous, set()).discard(key)
        if kind != "DELETED" and owner is not None:
            self._owner_of[key] = owner
            self._by_owner.setdefault(owner, set()).add(key)
        return owner or previous

    def of(self, owner: str) -> list[Obj]:
        result = []
        for key in list(self._by_owner.get(owner, ())):
            pod = self.pods.get(*key)
            if pod is not None and controller_uid(pod) == owner:
                result.append(pod)
        return result

    def forget(self, owner: str) -> None:
        for key in self._by_owner.pop(owner, set()):
            self._owner_of.pop(key, None)


class _Controller:
    """Shared plumbing: owner-uid -> key map, pod index, queue, pod creation and deletion."""

    kind = ""
    plural = ""
    api_path = ""

    def __init__(self, api: ApiClient, owners: Informer, pods: Informer, workers: int = 4) -> None:
        self.api = api
        self.owners = owners
        self.pods = pods
        self.owned = OwnedPods(pods)
        self.queue = WorkQueue(self.kind.lower(), self._reconcile_key, workers)
        self._keys: dict[str, Key] = {}
        self._deleting: dict[str, float] = {}  # pod uid -> when we asked, so a delete is not repeated at once
        owners.add_handler(self._on_owner)
        pods.add_handler(self._on_pod)

    def start(self) -> None:
        self.queue.start()

    async def stop(self) -> None:
        await self.queue.stop()

    def _on_owner(self, kind: str, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        uid = str(meta.get("uid") or "")
        if kind == "DELETED":
            self._keys.pop(uid, None)
            self.owned.forget(uid)
            return
        self._keys[uid] = key
        self.queue.add(key)

    def _on_pod(self, kind: str, pod: Obj) -> None:
        owner = self.owned.observe(kind, pod)
        if kind == "DELETED":
            self._deleting.pop(str((pod.get("metadata") or {}).get("uid")), None)
        if owner is not None and owner in self._keys:
            self.queue.add(self._keys[owner])

    async def _reconcile_key(self, key: Hashable) -> float | None:
        assert isinstance(key, tuple)
        obj = self.owners.get(*key)
        if obj is None or (obj.get("metadata") or {}).get("deletionTimestamp"):
            return None
        return await self.reconcile(obj)

    async def reconcile(self, obj: Obj) -> float | None:
        raise NotImplementedError

    def _owner_reference(self, obj: Obj, api_version: str) -> Obj:
        meta = obj["metadata"]
        return {"apiVersion": api_version, "kind": self.kind, "name": meta["name"], "uid": meta["uid"],
                "controller": True, "blockOwnerDeletion": True}

    async def _create_pod(self, namespace: str, prefix: str, template: Obj, labels: dict[str, str],
                          owner_ref: Obj) -> None:
        template_meta = template.get("metadata") or {}
        for _ in range(5):
            body = {
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {
                    "name": f"{prefix}{random_suffix()}", "generateName": prefix, "namespace": namespace,
                    "labels": {**(template_meta.get("labels") or {}), **labels},
                    "annotations": dict(template_meta.get("annotations") or {}),
                    "ownerReferences": [owner_ref],
                },
                "spec": template.get("spec") or {},
            }
            try:
                created = await self.api.create(f"/api/v1/namespaces/{namespace}/pods", body)
            except ApiError as exc:
                if exc.status == 409:
                    continue  # name taken: another suffix
                raise
            self.pods.remember(created)
            self.owned.observe("ADDED", created)
            return
        raise RuntimeError(f"could not find a free pod name for {prefix}")

    def deleting(self, pod: Obj) -> bool:
        """Being deleted: by the API (``deletionTimestamp``) or by us, before the watch has told."""
        return pod_terminating(pod) or str((pod.get("metadata") or {}).get("uid")) in self._deleting

    async def _delete_pod(self, pod: Obj) -> None:
        meta = pod["metadata"]
        uid = str(meta.get("uid"))
        loop = asyncio.get_running_loop()
        if loop.time() - self._deleting.get(uid, -1e9) < 5:
            return
        self._deleting[uid] = loop.time()
        try:
            await self.api.delete(f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}")
        except BaseException:
            self._deleting.pop(uid, None)
            raise

    async def _patch_status(self, obj: Obj, status: Obj) -> None:
        current = obj.get("status") or {}
        if all(current.get(k) == v for k, v in status.items()):
            return
        meta = obj["metadata"]
        try:
            await self.api.merge_patch(f"{self.api_path}/namespaces/{meta['namespace']}/{self.plural}/"
                                       f"{meta['name']}/status", {"status": status})
        except ApiError as exc:
            if exc.status != 404:
                raise


class DeploymentController(_Controller):
    kind = "Deployment"
    plural = "deployments"
    api_path = "/apis/apps/v1"

    def __init__(self, api: ApiClient, deployments: Informer, pods: Informer, *, progress_deadline_cap: float = 30.0,
                 workers: int = 4) -> None:
        super().__init__(api, deployments, pods, workers)
        self.progress_deadline_cap = progress_deadline_cap

    def _views(self, pods: list[Obj], revision: str, min_ready: float) -> tuple[list[PodView], float | None]:
        views = []
        wake: float | None = None
        moment = now()
        for pod in pods:
            meta = pod["metadata"]
            ready = pod_ready(pod)
            available = ready
            if ready and min_ready > 0:
                since = parse_time((condition(pod, "Ready") or {}).get("lastTransitionTime")) or moment
                left = min_ready - (moment - since).total_seconds()
                if left > 0:
                    available = False
                    wake = left if wake is None else min(wake, left)
            views.append(PodView(
                name=str(meta["name"]), new=(meta.get("labels") or {}).get("pod-template-hash") == revision,
                ready=ready, available=available, created=str(meta.get("creationTimestamp") or ""),
                terminating=self.deleting(pod),
            ))
        return views, wake

    async def reconcile(self, deployment: Obj) -> float | None:
        meta = deployment["metadata"]
        spec = deployment.get("spec") or {}
        namespace, name = str(meta.get("namespace") or "default"), str(meta["name"])
        template = spec.get("template") or {}
        revision = template_hash(template)
        pods = self.owned.of(str(meta["uid"]))
        for pod in pods:
            if pod_terminal(pod) and not self.deleting(pod):
                await self._delete_pod(pod)  # a ReplicaSet replaces failed pods; we also clean them up
        pods = [p for p in pods if not pod_terminal(p)]
        views, wake = self._views(pods, revision, float(spec.get("minReadySeconds") or 0))
        desired = int(spec.get("replicas", 1))
        strategy = str((spec.get("strategy") or {}).get("type") or "RollingUpdate")
        surge, unavailable = max_surge_unavailable(spec, desired)
        if not spec.get("paused"):
            plan = plan_rollout(strategy, desired, surge, unavailable, views)
            by_name = {p["metadata"]["name"]: p for p in pods}
            for pod_name in plan.delete:
                await self._delete_pod(by_name[pod_name])
            owner_ref = self._owner_reference(deployment, "apps/v1")
            for _ in range(plan.create):
                await self._create_pod(namespace, f"{name}-{revision}-", template, {"pod-template-hash": revision},
                                       owner_ref)
        status, deadline = deployment_status(deployment, views, f"{name}-{revision}", self.progress_deadline_cap,
                                             now())
        await self._patch_status(deployment, status)
        timers = [t for t in (wake, deadline) if t is not None]
        return min(timers) + 0.1 if timers else None


def _set_job_condition(conditions: list[Obj], kind: str, reason: str, message: str, stamp: str) -> list[Obj]:
    if any(c.get("type") == kind and c.get("status") == "True" for c in conditions):
        return conditions
    return [c for c in conditions if c.get("type") != kind] + [{
        "type": kind, "status": "True", "reason": reason, "message": message,
        "lastProbeTime": stamp, "lastTransitionTime": stamp}]


def _finished_at(pod: Obj) -> str | None:
    times = [str(s["state"]["terminated"].get("finishedAt")) for s in (pod.get("status") or {}).get(
        "containerStatuses") or [] if "terminated" in (s.get("state") or {})]
    return max(times) if times else None


class JobController(_Controller):
    kind = "Job"
    plural = "jobs"
    api_path = "/apis/batch/v1"

    async def reconcile(self, job: Obj) -> float | None:
        meta = job["metadata"]
        spec = job.get("spec") or {}
        old = job.get("status") or {}
        namespace, name, uid = str(meta.get("namespace") or "default"), str(meta["name"]), str(meta["uid"])
        moment = now()
        stamp = rfc3339(moment)
        conditions: list[Obj] = [dict(c) for c in old.get("conditions") or []]
        pods = self.owned.of(uid)
        active = [p for p in pods if not pod_terminal(p) and not self.deleting(p)]
        terminating = [p for p in pods if self.deleting(p) and not pod_terminal(p)]
        succeeded = max(int(old.get("succeeded") or 0),
                        sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Succeeded"))
        failed_pods = [p for p in pods if (p.get("status") or {}).get("phase") == "Failed"]
        failed = max(int(old.get("failed") or 0), len(failed_pods))

        finished = next((c for c in conditions if c.get("type") in ("Complete", "Failed")
                         and c.get("status") == "True"), None)
        if finished is not None:
            for pod in active:
                await self._delete_pod(pod)
            return await self._ttl(job, finished, moment)

        start = parse_time(old.get("startTime")) or moment
        completions = int(spec["completions"]) if spec.get("completions") is not None else 1
        parallelism = int(spec["parallelism"]) if spec.get("parallelism") is not None else 1
        backoff_limit = int(spec["backoffLimit"]) if spec.get("backoffLimit") is not None else 6
        policy = ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy")
        restarts = 0
        if policy == "OnFailure":
            restarts = sum(int(s.get("restartCount") or 0) for p in active
                           for s in (p.get("status") or {}).get("containerStatuses") or [])
        deadline = spec.get("activeDeadlineSeconds")
        requeue: float | None = None

        success = condition(job, "SuccessCriteriaMet")
        failure = condition(job, "FailureTarget")
        if not (success and success.get("status") == "True") and not (failure and failure.get("status") == "True"):
            if succeeded >= completions:
                conditions = _set_job_condition(conditions, "SuccessCriteriaMet", "CompletionsReached",
                                                "Reached expected number of succeeded pods", stamp)
            elif failed + restarts > backoff_limit:
                conditions = _set_job_condition(conditions, "FailureTarget", "BackoffLimitExceeded",
                                                "Job has reached the specified backoff limit", stamp)
            elif deadline is not None and (moment - start).total_seconds() >= float(deadline):
                conditions = _set_job_condition(conditions, "FailureTarget", "DeadlineExceeded",
                                                "Job was active longer than specified deadline", stamp)
        target = next((c for c in conditions if c.get("type") in ("SuccessCriteriaMet", "FailureTarget")
                       and c.get("status") == "True"), None)
        completion_time = old.get("completionTime")
        if target is not None:
            for pod in active:
                await self._delete_pod(pod)
            if not active and not terminating:  # every pod has terminated: the terminal condition
                final = "Complete" if target["type"] == "SuccessCriteriaMet" else "Failed"
                conditions = _set_job_condition(conditions, final, target["reason"], target["message"], stamp)
                if final == "Complete":
                    completion_time = completion_time or stamp
            else:
                requeue = 1.0
            active = []
        else:
            wanted = min(parallelism, completions - succeeded) - len(active)
            if wanted > 0:
                delay = 0.0
                if failed_pods:
                    last = max(parse_time(_finished_at(p)) or moment for p in failed_pods)
                    backoff = min(JOB_BACKOFF_START * 2 ** (len(failed_pods) - 1), JOB_BACKOFF_MAX)
                    delay = backoff - (moment - last).total_seconds()
                if delay > 0:
                    requeue = delay
                else:
                    template = spec.get("template") or {}
                    labels = {"job-name": name, "batch.kubernetes.io/job-name": name,
                              "controller-uid": uid, "batch.kubernetes.io/controller-uid": uid}
                    owner_ref = self._owner_reference(job, "batch/v1")
                    for _ in range(wanted):
                        await self._create_pod(namespace, f"{name}-", template, labels, owner_ref)
            if deadline is not None:
                left = float(deadline) - (moment - start).total_seconds()
                requeue = left if requeue is None else min(requeue, left)

        status: Obj = {
            "startTime": old.get("startTime") or stamp,
            "active": 0 if target is not None else sum(
                1 for p in self.owned.of(uid) if not pod_terminal(p) and not self.deleting(p)),
            "ready": sum(1 for p in active if pod_ready(p)),
            "succeeded": succeeded, "failed": failed, "terminating": len(terminating),
            "conditions": conditions,
        }
        if completion_time:
            status["completionTime"] = completion_time
        await self._patch_status(job, status)
        finished = next((c for c in conditions if c.get("type") in ("Complete", "Failed")), None)
        if finished is not None:
            ttl = await self._ttl({**job, "status": {**old, **status}}, finished, moment)
            requeue = min((t for t in (requeue, ttl) if t is not None), default=None)
        return max(requeue, 0.05) if requeue is not None else None

    async def _ttl(self, job: Obj, finished: Obj, moment: Any) -> float | None:
        """``ttlSecondsAfterFinished``: delete the finished Job (pods go by background propagation)."""
        ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
        if ttl is None:
            return None
        at = parse_time((job.get("status") or {}).get("completionTime")) or parse_time(
            finished.get("lastTransitionTime")) or moment
        left: float = float(ttl) - (moment - at).total_seconds()
        if left > 0:
            return left
        meta = job["metadata"]
        await self.api.delete(f"/apis/batch/v1/namespaces/{meta['namespace']}/jobs/{meta['name']}",
                              propagation="Background")
        return None

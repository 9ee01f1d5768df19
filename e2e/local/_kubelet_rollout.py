"""Deployment rollout decisions and status, as pure functions.

The harness's Deployment controller manages Pods directly (there are no
ReplicaSet objects; a "revision" is the set of pods sharing a
``pod-template-hash``), but it decides like the real one
(``pkg/controller/deployment``):

* RollingUpdate: the new revision may grow to ``replicas + maxSurge`` pods in
  total; old pods are removed only while at least ``replicas - maxUnavailable``
  pods stay available, unhealthy old pods first. So a new revision that never
  becomes Ready never replaces the old pods: they keep serving.
* Recreate: every old pod is deleted and gone before a new one is created.
* Status and the Available/Progressing conditions follow ``syncRolloutStatus``,
  including ``ProgressDeadlineExceeded`` when no progress is seen in time.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from e2e.local._kubelet_util import Obj, int_or_percent, parse_time, rfc3339

__all__ = ["PodView", "RolloutPlan", "deployment_status", "max_surge_unavailable", "plan_rollout"]


@dataclass(frozen=True)
class PodView:
    """What a rollout decision needs to know about one pod."""

    name: str
    new: bool  # has the current template hash
    ready: bool
    available: bool  # ready for at least minReadySeconds
    created: str = ""  # creationTimestamp, for ordering
    terminating: bool = False


@dataclass
class RolloutPlan:
    create: int = 0
    delete: list[str] = field(default_factory=list)


def max_surge_unavailable(spec: Mapping[str, Any], desired: int) -> tuple[int, int]:
    strategy = spec.get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 0, 0
    rolling = strategy.get("rollingUpdate") or {}
    surge = int_or_percent(rolling.get("maxSurge"), desired, "25%", round_up=True)
    unavailable = int_or_percent(rolling.get("maxUnavailable"), desired, "25%", round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1  # the API validation forbids both zero; the controller treats it as 1
    return surge, min(unavailable, desired)


def _deletion_order(pods: Sequence[PodView]) -> list[PodView]:
    """Not-ready pods first, then the most recently created (ReplicaSet's scale-down ranking, roughly)."""
    newest_first = sorted(pods, key=lambda p: p.created, reverse=True)
    return sorted(newest_first, key=lambda p: p.ready)


def plan_rollout(strategy: str, desired: int, max_surge: int, max_unavailable: int,
                 pods: Sequence[PodView]) -> RolloutPlan:
    """Pods to create (of the new revision) and pods to delete, for one reconcile."""
    active = [p for p in pods if not p.terminating]
    new = [p for p in active if p.new]
    old = [p for p in active if not p.new]
    plan = RolloutPlan()

    if strategy == "Recreate":
        if any(not p.new for p in pods):  # old pods, even terminating ones, must be gone first
            plan.delete = [p.name for p in old]
            return plan
        old = []

    if not old:
        if len(new) < desired:
            plan.create = desired - len(new)
        elif len(new) > desired:
            plan.delete = [p.name for p in _deletion_order(new)[: len(new) - desired]]
        return plan

    # Rolling update: scale the new revision up within the surge budget...
    if len(new) < desired:
        plan.create = max(0, min(desired - len(new), desired + max_surge - len(active)))
    elif len(new) > desired:
        plan.delete = [p.name for p in _deletion_order(new)[: len(new) - desired]]
    new_count = len(new) + plan.create if len(new) <= desired else desired
    # ...and the old revisions down while availability allows (reconcileOldReplicaSets).
    all_pods = len(old) + new_count
    min_available = desired - max_unavailable
    new_unavailable = new_count - sum(1 for p in new if p.available and p.name not in plan.delete)
    max_scaled_down = all_pods - min_available - new_unavailable
    if max_scaled_down <= 0:
        return plan
    unhealthy = [p for p in sorted(old, key=lambda p: p.created) if not p.available]
    cleanup = unhealthy[:max_scaled_down]
    plan.delete += [p.name for p in cleanup]
    remaining_old = [p for p in old if p not in cleanup]
    available = sum(1 for p in remaining_old if p.available) + sum(
        1 for p in new if p.available and p.name not in plan.delete)
    if available > min_available:
        healthy = sorted((p for p in remaining_old if p.available), key=lambda p: p.created)
        plan.delete += [p.name for p in healthy[: available - min_available]]
    return plan


def _find(conditions: Sequence[Obj], kind: str) -> Obj | None:
    return next((c for c in conditions if c.get("type") == kind), None)


def _set(conditions: list[Obj], new: Obj, now: str, *, keep_transition: bool = True) -> list[Obj]:
    """SetDeploymentCondition: no change when status and reason are the same."""
    current = _find(conditions, new["type"])
    if current and current.get("status") == new["status"] and current.get("reason") == new.get("reason"):
        return conditions
    merged = {**new, "lastUpdateTime": now, "lastTransitionTime": now}
    if current and current.get("status") == new["status"] and keep_transition:
        merged["lastTransitionTime"] = current.get("lastTransitionTime", now)
    return [c for c in conditions if c.get("type") != new["type"]] + [merged]


def deployment_status(deployment: Mapping[str, Any], pods: Sequence[PodView], revision: str,
                      deadline_cap: float, now: datetime.datetime) -> tuple[Obj, float | None]:
    """The new ``status`` and, when a progress deadline is pending, the seconds until it expires."""
    spec = deployment.get("spec") or {}
    old_status = deployment.get("status") or {}
    desired = int(spec.get("replicas", 1))
    _, max_unavailable = max_surge_unavailable(spec, desired)
    active = [p for p in pods if not p.terminating]
    status: Obj = {
        "observedGeneration": (deployment.get("metadata") or {}).get("generation", 1),
        "replicas": len(active),
        "updatedReplicas": sum(1 for p in active if p.new),
        "readyReplicas": sum(1 for p in active if p.ready),
        "availableReplicas": sum(1 for p in active if p.available),
    }
    status["unavailableReplicas"] = max(0, status["replicas"] - status["availableReplicas"])
    stamp = rfc3339(now)
    conditions: list[Obj] = [dict(c) for c in old_status.get("conditions") or []]
    if status["availableReplicas"] >= desired - max_unavailable:
        available = {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                     "message": "Deployment has minimum availability."}
    else:
        available = {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable",
                     "message": "Deployment does not have minimum availability."}
    conditions = _set(conditions, available, stamp)

    progressing = _find(conditions, "Progressing")
    complete = (status["updatedReplicas"] == desired and status["replicas"] == desired
                and status["availableReplicas"] == desired)
    deadline = min(float(spec.get("progressDeadlineSeconds", 600)), deadline_cap)
    until_deadline: float | None = None
    if progressing is None or revision not in str(progressing.get("message", "")):
        # A new revision (or none seen yet): progress is measured from now (NewReplicaSetCreated).
        if complete:
            cond = {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                    "message": f'ReplicaSet "{revision}" has successfully progressed.'}
        else:
            cond = {"type": "Progressing", "status": "True", "reason": "NewReplicaSetCreated",
                    "message": f'Created new replica set "{revision}"'}
        conditions = _set(conditions, cond, stamp)
        progressing = _find(conditions, "Progressing")
        assert progressing is not None
        progressing["lastUpdateTime"] = stamp
        if not complete:
            until_deadline = deadline
    elif not (status["replicas"] == status["updatedReplicas"]
              and progressing.get("reason") == "NewReplicaSetAvailable"):
        old_old = int(old_status.get("replicas", 0)) - int(old_status.get("updatedReplicas", 0))
        made_progress = (status["updatedReplicas"] > int(old_status.get("updatedReplicas", 0))
                         or status["replicas"] - status["updatedReplicas"] < old_old
                         or status["readyReplicas"] > int(old_status.get("readyReplicas", 0))
                         or status["availableReplicas"] > int(old_status.get("availableReplicas", 0)))
        if complete:
            conditions = _set(conditions, {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                                           "message": f'ReplicaSet "{revision}" has successfully progressed.'}, stamp)
        elif made_progress:
            transition = progressing.get("lastTransitionTime", stamp) if progressing.get("status") == "True" else stamp
            cond = {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
                    "message": f'ReplicaSet "{revision}" is progressing.', "lastUpdateTime": stamp,
                    "lastTransitionTime": transition}
            conditions = [c for c in conditions if c.get("type") != "Progressing"] + [cond]
            until_deadline = deadline
        elif progressing.get("reason") != "ProgressDeadlineExceeded":
            since = parse_time(progressing.get("lastUpdateTime")) or now
            left = deadline - (now - since).total_seconds()
            if left <= 0:
                conditions = _set(conditions, {"type": "Progressing", "status": "False",
                                               "reason": "ProgressDeadlineExceeded",
                                               "message": f'ReplicaSet "{revision}" has timed out progressing.'},
                                  stamp)
            else:
                until_deadline = left
    status["conditions"] = conditions
    return status, until_deadline

"""What is wrong with a pod, in words a user can act on.

Kubernetes spreads a pod's trouble over container states, conditions and the
pod's own status; these pure functions read them in one place, so that a
CodeLocation's status and a run's event log explain an image-pull error, an
unschedulable pod or an OOM kill in the same sentences."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Waiting reasons that will not resolve by waiting a few seconds.
_STUCK_WAITING = {
    "ErrImagePull": "the image could not be pulled",
    "ImagePullBackOff": "the image could not be pulled",
    "InvalidImageName": "the image name is invalid",
    "CreateContainerConfigError": "the container's configuration is invalid",
    "CreateContainerError": "the container could not be created",
    "CrashLoopBackOff": "the container keeps crashing",
}


@dataclass(frozen=True)
class PodProblem:
    """``reason`` is Kubernetes' CamelCase word; ``message`` says what happened
    and, where there is one, what to do."""

    reason: str
    message: str
    final: bool  # the pod will not recover by itself


def _containers(pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    status = pod.get("status") or {}
    return [*(status.get("initContainerStatuses") or ()), *(status.get("containerStatuses") or ())]


def _terminated_problem(name: str, terminated: Mapping[str, Any]) -> PodProblem | None:
    code = terminated.get("exitCode", 0)
    reason = terminated.get("reason") or "Error"
    if reason == "OOMKilled":
        return PodProblem(
            "OOMKilled",
            f"container {name!r} was killed for using more memory than its limit (OOMKilled, exit code {code}); "
            "raise resources.limits.memory",
            True,
        )
    if code not in (0, None):
        detail = f": {terminated['message']}" if terminated.get("message") else ""
        signal = f", signal {terminated['signal']}" if terminated.get("signal") else ""
        return PodProblem(reason, f"container {name!r} exited with code {code} ({reason}{signal}){detail}", True)
    return None


def pod_problem(pod: Mapping[str, Any]) -> PodProblem | None:
    """The first thing keeping ``pod`` from running, or None when it runs
    (or is simply still starting)."""
    status = pod.get("status") or {}
    if status.get("reason") == "Evicted":
        return PodProblem("Evicted", f"the pod was evicted: {status.get('message', 'no message')}", True)
    if status.get("reason") == "DeadlineExceeded":
        return PodProblem("DeadlineExceeded", f"the pod ran past its deadline: {status.get('message', '')}", True)
    for cond in status.get("conditions") or ():
        unschedulable = cond.get("status") == "False" and cond.get("reason") == "Unschedulable"
        if cond.get("type") == "PodScheduled" and unschedulable:
            return PodProblem("Unschedulable", f"the pod cannot be scheduled: {cond.get('message', '')}", False)
    for container in _containers(pod):
        name = container.get("name", "?")
        state = container.get("state") or {}
        waiting = state.get("waiting") or {}
        reason = waiting.get("reason")
        if reason in _STUCK_WAITING:
            message = waiting.get("message") or ""
            if reason == "CrashLoopBackOff":
                last = (container.get("lastState") or {}).get("terminated") or {}
                previous = _terminated_problem(name, last)
                if previous is not None:
                    message = previous.message
            image = container.get("image") or ""
            text = f"container {name!r}: {_STUCK_WAITING[reason]} ({reason})"
            if image and reason in ("ErrImagePull", "ImagePullBackOff", "InvalidImageName"):
                text = f"container {name!r}: image {image!r} could not be pulled ({reason})"
            return PodProblem(reason, f"{text}: {message}" if message else text, reason != "CrashLoopBackOff")
        terminated = state.get("terminated")
        if terminated:
            found = _terminated_problem(name, terminated)
            if found is not None:
                return found
    return None


def pod_ready(pod: Mapping[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or ()
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)

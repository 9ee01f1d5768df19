"""Reading a step Job and its pods: why the step will not report a result."""

from __future__ import annotations

from typing import Any

from locus.launchers.k8s_executor import step_trouble

JOB: dict[str, Any] = {"metadata": {"name": "locus-step-1"}, "status": {}}


def _job(kind: str, reason: str, message: str) -> dict[str, Any]:
    return {**JOB, "status": {"conditions": [{"type": kind, "status": "True", "reason": reason, "message": message}]}}


def _pod(**status: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p"}, "status": status}


def _terminated(**state: Any) -> dict[str, Any]:
    return _pod(phase="Failed", containerStatuses=[{"name": "locus", "state": {"terminated": state}}])


def test_running_step_has_no_trouble() -> None:
    assert step_trouble(JOB, [_pod(phase="Running")]) is None
    assert step_trouble(JOB, []) is None  # the pod is not created yet


def test_oom_killed_pod() -> None:
    problem = step_trouble(JOB, [_terminated(exitCode=137, reason="OOMKilled")])
    assert problem is not None and problem.final and problem.reason == "OOMKilled"
    assert "raise resources.limits.memory" in problem.message


def test_evicted_pod() -> None:
    problem = step_trouble(JOB, [_pod(phase="Failed", reason="Evicted", message="The node was low on memory.")])
    assert problem is not None and problem.final and "evicted: The node was low on memory." in problem.message


def test_job_deadline_wins_over_the_killed_pod() -> None:
    job = _job("Failed", "DeadlineExceeded", "Job was active longer than specified deadline")
    problem = step_trouble(job, [_terminated(exitCode=143, reason="Error")])
    assert problem is not None and problem.reason == "DeadlineExceeded"
    assert problem.message == "its Job failed (DeadlineExceeded): Job was active longer than specified deadline"


def test_failed_job_without_pods_says_so() -> None:
    problem = step_trouble(_job("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit"), [])
    assert problem is not None and problem.message == "its Job failed: Job has reached the specified backoff limit"


def test_unschedulable_is_not_final_by_itself() -> None:
    pending = _pod(phase="Pending", conditions=[
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "no nodes"}])
    problem = step_trouble(JOB, [pending])
    assert problem is not None and not problem.final and problem.reason == "Unschedulable"


def test_deleted_job() -> None:
    problem = step_trouble(None, [])
    assert problem is not None and problem.final and "deleted" in problem.message

"""The CodeLocation status the operator writes, for the situations a user
meets: healthy, broken code, an image that cannot be pulled, a rollout
whose new revision fails while the old one keeps serving."""

from __future__ import annotations

from typing import Any

from locus.execution.events import ErrorInfo
from locus.k8s.podhealth import PodProblem, pod_problem
from locus_operator.codelocations import LocationObservation, PodView, location_status, registry_record
from locus_operator.probe import Probe

COUNTS = {"assets": 6, "jobs": 1, "schedules": 0, "sensors": 1}
ERROR = ErrorInfo("RuntimeError", "boom at import",
                  'Traceback (most recent call last):\n  File "broken.py"\nRuntimeError')


def pod(revision: str, *, ready: bool = True, probe: Probe | None = None, problem: PodProblem | None = None,
        image: str = "img:1") -> PodView:
    return PodView(f"p-{revision}", revision, image, ready, problem, probe)


def loaded(snapshot: str = "s1") -> Probe:
    return Probe(True, image="img:1", snapshot_id=snapshot, counts=COUNTS)


def conds(status: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}


def observe(*pods: PodView, revision: str = "r2", replicas: int = 1) -> dict[str, Any]:
    return location_status(LocationObservation(3, revision, replicas, "cs.ns.svc:4000", list(pods)), None)


def test_a_loaded_pod_makes_the_location_ready_with_its_counts() -> None:
    status = observe(pod("r2", probe=loaded()))
    assert conds(status)["Ready"] == ("True", "Serving")
    assert conds(status)["Loaded"] == ("True", "Loaded")
    assert conds(status)["Progressing"] == ("False", "RolloutComplete")
    assert status["definitions"] == COUNTS
    assert status["image"] == "img:1"
    assert status["observedGeneration"] == 3
    assert status["loadError"] is None
    assert all(c["observedGeneration"] == 3 for c in status["conditions"])


def test_broken_code_is_not_ready_and_carries_the_traceback() -> None:
    status = observe(pod("r2", ready=False, probe=Probe(True, image="img:1", load_error=ERROR)))
    assert conds(status)["Ready"] == ("False", "LoadFailed")
    assert conds(status)["Loaded"] == ("False", "LoadFailed")
    assert status["loadError"]["message"] == "RuntimeError: boom at import"
    assert "broken.py" in status["loadError"]["traceback"]
    assert status["definitions"] is None


def test_a_failing_new_revision_leaves_the_old_one_serving_and_says_degraded() -> None:
    old = pod("r1", probe=loaded(), image="img:1")
    new = pod("r2", ready=False, probe=Probe(True, image="img:2", load_error=ERROR), image="img:2")
    status = observe(old, new)
    assert conds(status)["Ready"] == ("True", "ServingPreviousRevision")
    assert conds(status)["Degraded"] == ("True", "NewRevisionFailed")
    assert conds(status)["Progressing"] == ("False", "RolloutFailed")
    assert status["image"] == "img:1"
    assert "boom at import" in status["loadError"]["message"]


def test_an_image_that_cannot_be_pulled_is_explained() -> None:
    waiting = {"status": {"containerStatuses": [{"name": "codeserver", "image": "nope:1", "state": {
        "waiting": {"reason": "ImagePullBackOff", "message": 'Back-off pulling image "nope:1"'}}}]}}
    problem = pod_problem(waiting)
    assert problem is not None and problem.final
    status = observe(pod("r2", ready=False, problem=problem, image="nope:1"))
    assert conds(status)["Ready"] == ("False", "ImagePullFailed")
    assert "'nope:1' could not be pulled" in status["loadError"]["message"]


def test_starting_is_neither_ready_nor_failed() -> None:
    status = observe(pod("r2", ready=False))
    assert conds(status)["Ready"] == ("False", "Starting")
    assert conds(status)["Loaded"] == ("Unknown", "Starting")
    assert conds(status)["Progressing"] == ("True", "RollingOut")


def test_transition_time_moves_only_when_the_status_changes() -> None:
    first = observe(pod("r2", probe=loaded()))
    obs = LocationObservation(4, "r2", 1, "cs.ns.svc:4000", [pod("r2", probe=loaded("s2"))])
    again = location_status(obs, first)
    before = {c["type"]: c["lastTransitionTime"] for c in first["conditions"]}
    assert all(c["lastTransitionTime"] == before[c["type"]] for c in again["conditions"])


def test_the_registry_gets_the_load_error_only_when_nothing_serves() -> None:
    broken = observe(pod("r2", ready=False, probe=Probe(True, load_error=ERROR)))
    record = registry_record("numbers", broken, "127.1.0.1:4000", None)
    assert record.status.value == "ERROR" and record.load_error is not None
    healthy = registry_record("numbers", observe(pod("r2", probe=loaded())), "127.1.0.1:4000", "s1")
    assert healthy.status.value == "LOADED" and healthy.counts == COUNTS and healthy.load_error is None


def test_oom_and_crash_loops_are_named() -> None:
    oom = {"status": {"containerStatuses": [{"name": "run", "state": {
        "terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]}}
    problem = pod_problem(oom)
    assert problem is not None and problem.reason == "OOMKilled" and "limits.memory" in problem.message
    crash = {"status": {"containerStatuses": [{
        "name": "codeserver",
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": 3, "reason": "Error"}},
    }]}}
    problem = pod_problem(crash)
    assert problem is not None and "exited with code 3" in problem.message
    unschedulable = {"status": {"conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                                 "message": "0/3 nodes are available: insufficient memory"}]}}
    problem = pod_problem(unschedulable)
    assert problem is not None and "insufficient memory" in problem.message

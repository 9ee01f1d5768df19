"""The pure planner: stable step order, step selection, re-execution from failure."""

from __future__ import annotations

import pytest

import locus as dg
from locus.execution.events import EventType
from locus.execution.plan import build_plan, steps_to_reexecute_from_failure


@dg.op
def source() -> int:
    return 2


@dg.op
def double(n: int) -> int:
    return n * 2


BROKEN = {"fragile": True}


@dg.op
def fragile(n: int) -> int:
    if BROKEN["fragile"]:
        raise ValueError("broken for now")
    return n + 1


@dg.op
def report(a: int, b: int) -> str:
    return f"{a}/{b}"


@dg.job
def pipeline() -> None:
    n = source()
    report(double(n), fragile(n))


def test_plan_orders_steps_after_their_upstreams_in_definition_order() -> None:
    plan = build_plan(pipeline)
    assert plan.step_keys == ("source", "double", "fragile", "report")
    assert plan.get("report").upstream == ("double", "fragile")


def test_step_selection_keeps_only_selected_steps() -> None:
    plan = build_plan(pipeline, ["fragile", "report"])
    assert plan.step_keys == ("fragile", "report")
    assert plan.get("fragile").upstream == ()


def test_unknown_selected_step_is_named() -> None:
    with pytest.raises(dg.ExecutionError, match=r"has no steps \['nope'\]"):
        build_plan(pipeline, ["nope"])


def test_reexecution_from_failure_reruns_failed_and_downstream_reusing_parent_outputs(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    io = {"io_manager": dg.FilesystemIOManager(base_dir=str(tmp_path))}
    parent = pipeline.execute_in_process(resources=io, raise_on_error=False)
    assert not parent.success
    succeeded = [e.step_key for e in parent.events_of_type(EventType.STEP_SUCCESS) if e.step_key]
    steps = steps_to_reexecute_from_failure(build_plan(pipeline), succeeded)
    assert steps == ["fragile", "report"]

    monkeypatch.setitem(BROKEN, "fragile", False)
    child = pipeline.execute_in_process(resources=io, op_selection=steps, parent_run_id=parent.run_id)
    assert child.success
    assert [e.step_key for e in child.events_of_type(EventType.STEP_START)] == ["fragile", "report"]
    assert child.output_for_node("report") == "4/3"  # double and source come from the parent run
    assert child.run.parent_run_id == parent.run_id and child.run.root_run_id == parent.run_id

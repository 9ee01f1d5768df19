"""Endpoints that need code servers, against real ones (the `locus dev`
wiring) on SQLite and on PostgreSQL: definitions with lineage and the
latest materialisation, schedules and sensors, launching and watching a
run's stream, terminating and re-executing."""

from __future__ import annotations

import time
from typing import Any

import httpx
from fastapi.testclient import TestClient

from api.stack import Stack, served
from api.test_events_logs_and_health import sse_messages
from dev.localmode import wait_until
from locus.api.app import create_app
from locus.storage.records import InstigatorState, TickRecord, TickStatus


def test_assets_have_lineage_groups_kinds_and_their_latest_materialization(stack: Stack) -> None:
    run_id = stack.launch(location="pipeline", asset_selection=["orders", "order_count"])
    assert stack.wait_run(run_id)["run"]["status"] == "SUCCESS"
    assets = {a["key"]: a for a in stack.http.get("/api/assets").json()["assets"]}
    assert set(assets) == {"orders", "order_count", "audit"}
    orders = assets["orders"]
    assert orders["location"] == "pipeline" and orders["group"] == "raw" and orders["kinds"] == ["python"]
    assert orders["description"] == "orders as they arrive"
    assert orders["upstream"] == [] and orders["downstream"] == ["audit", "order_count"]
    assert assets["audit"]["upstream"] == ["orders"] and assets["audit"]["latest_materialization"] is None
    assert orders["latest_materialization"]["run_id"] == run_id
    assert stack.http.get("/api/assets/order_count").json() == assets["order_count"]
    assert [a["key"] for a in stack.http.get("/api/assets", params={"group": "reports"}).json()["assets"]] == [
        "order_count", "audit"]
    assert [a["key"] for a in stack.http.get("/api/assets", params={"kind": "python"}).json()["assets"]] == ["orders"]
    missing = stack.http.get("/api/assets/no/such").json()["error"]
    assert missing["code"] == "asset_not_found" and "GET /api/assets" in missing["hint"]
    assert stack.http.get("/api/locations/pipeline/assets").json()["assets"] == list(assets.values())
    broken = stack.http.get("/api/locations/broken/assets")
    assert broken.status_code == 409 and "broken on purpose" in broken.json()["error"]["message"]
    assert stack.http.get("/api/assets", params={"location": "nope"}).status_code == 404


def test_jobs_per_location_and_across(stack: Stack) -> None:
    jobs = stack.http.get("/api/jobs").json()["jobs"]
    assert [j["name"] for j in jobs] == ["etl", "blocking"]
    etl = jobs[0]
    assert etl["location"] == "pipeline" and etl["ops"] == ["extract", "transform", "load"]
    assert etl["edges"] == [["extract", "transform"], ["transform", "load"]]
    assert stack.http.get("/api/locations/pipeline/jobs").json()["jobs"] == jobs
    assert stack.http.get("/api/jobs", params={"location": "broken"}).status_code == 409


def test_schedules_and_sensors_start_stop_and_show_ticks(stack: Stack) -> None:
    (schedule,) = stack.http.get("/api/schedules").json()["schedules"]
    assert schedule | {"last_tick": None} == {
        "location": "pipeline", "name": "nightly", "origin_id": "pipeline:nightly", "job_name": "etl",
        "status": "STOPPED", "default_status": "STOPPED", "cron_schedule": "0 3 * * *",
        "cron_schedules": ["0 3 * * *"], "execution_timezone": "UTC", "description": None, "last_tick": None,
    }
    started = stack.http.post("/api/schedules/pipeline/nightly/start").json()
    assert started["status"] == "RUNNING"
    stored = stack.instance.storage.get_instigator_state("pipeline:nightly")
    assert stored is not None and stored.status == "RUNNING" and stored.instigator_type == "schedule"
    storage = stack.instance.storage
    for n in range(3):
        storage.create_tick(TickRecord("pipeline:nightly", f"t{n}", TickStatus.SUCCESS, timestamp=time.time() + n))
    ticks = stack.http.get("/api/schedules/pipeline/nightly/ticks", params={"limit": 2}).json()["ticks"]
    assert [t["tick_key"] for t in ticks] == ["t2", "t1"]
    assert stack.http.get("/api/schedules").json()["schedules"][0]["last_tick"]["tick_key"] == "t2"
    metrics = stack.http.get("/metrics").text
    assert 'locus_schedule_tick_lag_seconds{location="pipeline",schedule="nightly"} 0' in metrics
    assert stack.http.post("/api/schedules/pipeline/nightly/stop").json()["status"] == "STOPPED"
    assert stack.http.get("/api/locations/pipeline/schedules").json()["schedules"][0]["status"] == "STOPPED"

    (sensor,) = stack.http.get("/api/sensors").json()["sensors"]
    assert sensor["name"] == "new_files" and sensor["minimum_interval_seconds"] == 45
    assert sensor["status"] == "STOPPED" and sensor["job_names"] == ["etl"]
    storage.set_instigator_state(
        InstigatorState("pipeline:new_files", "new_files", "pipeline", "sensor", "RUNNING", cursor="c-41"))
    stopped = stack.http.post("/api/sensors/pipeline/new_files/stop").json()
    assert stopped["status"] == "STOPPED" and stopped["cursor"] == "c-41"  # the cursor survives
    assert stack.http.post("/api/sensors/pipeline/new_files/start").json()["status"] == "RUNNING"
    assert stack.http.get("/api/locations/pipeline/sensors").json()["sensors"][0]["cursor"] == "c-41"
    assert stack.http.get("/api/sensors/pipeline/new_files/ticks").json() == {"ticks": []}
    assert stack.http.post("/api/sensors/pipeline/nope/start").json()["error"]["code"] == "sensor_not_found"
    assert stack.http.post("/api/schedules/nope/nightly/start").status_code == 404
    assert stack.http.post("/api/schedules/broken/x/stop").status_code == 409


def test_a_live_run_streams_its_events_over_http_until_run_success(stack: Stack) -> None:
    with served(stack.app) as url:
        run_id = stack.launch(location="pipeline", job_name="etl", tags={"flag": "none"})
        with httpx.stream("GET", f"{url}/api/runs/{run_id}/events/stream", timeout=60) as response:
            messages = sse_messages(response.iter_lines())
    body = stack.run(run_id)
    types = [m["data"]["event_type"] for m in messages[:-1]]
    assert types == [e["event_type"] for e in body["events"]]
    assert types[0] == "RUN_ENQUEUED" and types[-1] == "RUN_FAILURE"  # transform fails until fixed
    assert messages[-1] == {"event": "end", "data": {"status": "FAILURE", "last_id": body["events"][-1]["storage_id"]}}
    logs = stack.http.get(f"/api/runs/{run_id}/logs").json()["steps"]
    assert "extracting to stdout" in logs["extract"]["stdout"]


def test_re_executing_from_failure_runs_only_the_failed_steps(stack: Stack) -> None:
    parent = stack.launch(location="pipeline", job_name="etl")
    assert stack.wait_run(parent)["run"]["status"] == "FAILURE"
    (stack.code / "fixed.flag").touch()
    try:
        response = stack.http.post(f"/api/runs/{parent}/reexecute", json={"strategy": "FROM_FAILURE"})
        assert response.status_code == 201, response.text
        child = stack.wait_run(response.json()["run_id"])
    finally:
        (stack.code / "fixed.flag").unlink()
    run = child["run"]
    assert run["status"] == "SUCCESS", child["events"]
    assert run["parent_run_id"] == parent and run["root_run_id"] == parent
    assert run["step_keys_to_execute"] == ["transform", "load"]
    started = [e["step_key"] for e in child["events"] if e["event_type"] == "STEP_START"]
    assert started == ["transform", "load"]
    again = stack.http.post(f"/api/runs/{run['run_id']}/reexecute", json={"strategy": "FROM_FAILURE"})
    assert again.status_code == 422 and again.json()["error"]["code"] == "not_failed"
    whole = stack.http.post(f"/api/runs/{parent}/reexecute", json={"strategy": "ALL_STEPS"}).json()["run_id"]
    whole_run = stack.wait_run(whole)["run"]
    assert whole_run["root_run_id"] == parent and whole_run["status"] == "FAILURE"  # the flag is gone again


def test_terminating_a_blocked_run_cancels_it_and_a_finished_one_is_409(stack: Stack) -> None:
    run_id = stack.launch(location="pipeline", job_name="blocking")
    wait_until(lambda: stack.run(run_id)["run"]["status"] == "STARTED" and any(
        e["event_type"] == "STEP_START" for e in stack.run(run_id)["events"]), 60, "the run to block")
    response = stack.http.post(f"/api/runs/{run_id}/terminate")
    assert response.status_code == 200, response.text
    assert response.json()["status"] in ("CANCELING", "CANCELED")
    body = stack.wait_run(run_id, timeout=30)
    assert body["run"]["status"] == "CANCELED", body["events"]
    types = [e["event_type"] for e in body["events"]]
    assert types.index("RUN_CANCELING") < types.index("RUN_CANCELED")
    finished = stack.http.post(f"/api/runs/{run_id}/terminate")
    assert finished.status_code == 409 and finished.json()["error"]["code"] == "run_finished"
    assert stack.http.post("/api/runs/nope/terminate").status_code == 404


def test_a_replica_without_a_workspace_reads_definitions_from_the_code_servers(stack: Stack) -> None:
    """What a second API replica sees: the registry says where each code
    server listens, and the replica fetches snapshots from there."""
    with TestClient(create_app(stack.instance, auth_token=None)) as replica:
        keys = [a["key"] for a in replica.get("/api/assets").json()["assets"]]
        assert keys == ["orders", "order_count", "audit"]
        assert [j["name"] for j in replica.get("/api/jobs").json()["jobs"]] == ["etl", "blocking"]
        assert replica.get("/api/locations/broken/jobs").status_code == 409
        runs: list[dict[str, Any]] = replica.get("/api/runs", params={"location": "pipeline"}).json()["runs"]
        assert runs and all(r["location_name"] == "pipeline" for r in runs)
        assert replica.post(f"/api/runs/{runs[0]['run_id']}/reexecute", json={}).json()["error"]["code"] == (
            "no_workspace")

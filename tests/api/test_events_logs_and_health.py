"""A run's events (paged and streamed), its compute logs, health,
readiness and metrics, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.stack import seed_run
from locus.api.app import create_app
from locus.execution.events import Event, EventType, RunStatus
from locus.instance.instance import LocusInstance
from locus.storage.records import DaemonHeartbeat, LocationRecord, LocationStatus


def sse_messages(text_lines: Any) -> list[dict[str, Any]]:
    """Parse server-sent events into {"event", "id", "data"} dicts, stopping after `end`."""
    messages, current = [], {}
    for line in text_lines:
        if line == "":
            if current:
                messages.append(current)
                if current.get("event") == "end":
                    break
            current = {}
        elif not line.startswith(":"):
            field, _, value = line.partition(": ")
            current[field] = json.loads(value) if field == "data" else value
    return messages


def test_events_page_after_an_id(instance: LocusInstance, http: TestClient) -> None:
    seed_run(instance, "r1", status=RunStatus.SUCCESS)
    everything = http.get("/api/runs/r1/events").json()
    assert [e["event_type"] for e in everything["events"]] == ["RUN_ENQUEUED", "RUN_START", "RUN_SUCCESS"]
    first = http.get("/api/runs/r1/events", params={"limit": 1}).json()
    rest = http.get("/api/runs/r1/events", params={"after": first["last_id"]}).json()
    assert [e["storage_id"] for e in first["events"] + rest["events"]] == [
        e["storage_id"] for e in everything["events"]
    ]
    empty = http.get("/api/runs/r1/events", params={"after": rest["last_id"]}).json()
    assert empty == {"events": [], "last_id": rest["last_id"]}
    assert http.get("/api/runs/nope/events").json()["error"]["code"] == "run_not_found"


def test_the_stream_sends_live_events_in_order_and_ends_after_run_success(instance: LocusInstance) -> None:
    seed_run(instance, "live", status=RunStatus.STARTED)

    def write_the_rest() -> None:
        for n in range(5):
            time.sleep(0.05)
            instance.store_event(Event("live", EventType.LOG, f"line {n}"))
        instance.store_event(Event("live", EventType.RUN_SUCCESS, "done"))

    writer = threading.Thread(target=write_the_rest)
    with TestClient(create_app(instance, auth_token=None)) as http:
        with http.stream("GET", "/api/runs/live/events/stream") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            writer.start()
            messages = sse_messages(response.iter_lines())
        writer.join()
        events, end = messages[:-1], messages[-1]
        assert [m["data"]["event_type"] for m in events] == (
            ["RUN_ENQUEUED", "RUN_STARTING", "RUN_START"] + ["LOG"] * 5 + ["RUN_SUCCESS"]
        )
        assert [m["data"]["message"] for m in events[3:8]] == [f"line {n}" for n in range(5)]
        ids = [int(m["id"]) for m in events]
        assert ids == sorted(ids) and ids == [m["data"]["storage_id"] for m in events]
        assert end["event"] == "end" and end["data"] == {"status": "SUCCESS", "last_id": ids[-1]}

        # Resuming after an id (as EventSource does with Last-Event-ID) sends only the rest.
        with http.stream("GET", "/api/runs/live/events/stream", headers={"Last-Event-ID": str(ids[-3])}) as again:
            resumed = sse_messages(again.iter_lines())
        assert [int(m["id"]) for m in resumed[:-1]] == ids[-2:]
        with http.stream("GET", "/api/runs/live/events/stream", params={"after": ids[-1]}) as done:
            assert [m.get("event") for m in sse_messages(done.iter_lines())] == ["end"]
        assert http.get("/api/runs/nope/events/stream").status_code == 404


def test_logs_come_from_the_compute_log_folder(instance: LocusInstance, http: TestClient) -> None:
    seed_run(instance, "r1")
    folder = instance.compute_logs_dir / "r1"  # type: ignore[operator]
    folder.mkdir(parents=True)
    (folder / "extract.out").write_text("hello\n")
    (folder / "extract.err").write_text("warning\n")
    (folder / "load.out").write_text("loaded\n")
    assert http.get("/api/runs/r1/logs").json() == {"steps": {
        "extract": {"stdout": "hello\n", "stderr": "warning\n"},
        "load": {"stdout": "loaded\n", "stderr": ""},
    }}
    assert http.get("/api/runs/r1/logs", params={"step": "load"}).json() == {
        "steps": {"load": {"stdout": "loaded\n", "stderr": ""}}
    }
    assert http.get("/api/runs/r1/logs", params={"step": "../../etc/passwd"}).json() == {"steps": {}}
    seed_run(instance, "r2")
    assert http.get("/api/runs/r2/logs").json() == {"steps": {}}


def test_healthz_and_readyz(instance: LocusInstance, http: TestClient) -> None:
    assert http.get("/healthz").json() == {"status": "ok"}
    ready = http.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready", ready.text
    with instance.storage._db.write() as conn:  # type: ignore[attr-defined]
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0000'"))
    outdated = http.get("/readyz")
    assert outdated.status_code == 503
    error = outdated.json()["error"]
    assert error["code"] == "schema_outdated" and "locus instance migrate" in error["hint"]


def test_metrics_in_prometheus_text(instance: LocusInstance, http: TestClient) -> None:
    for n, status in enumerate([RunStatus.SUCCESS, RunStatus.SUCCESS, RunStatus.FAILURE, RunStatus.QUEUED]):
        seed_run(instance, f"r{n}", status=status)
    storage = instance.storage
    storage.upsert_location(LocationRecord("pipeline", LocationStatus.LOADED))
    storage.upsert_location(LocationRecord("broken", LocationStatus.ERROR))
    storage.add_daemon_heartbeat(DaemonHeartbeat("SCHEDULER", "d1", time.time() - 30))
    response = http.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    lines = set(response.text.splitlines())
    assert {'locus_runs{status="SUCCESS"} 2', 'locus_runs{status="FAILURE"} 1', 'locus_runs{status="QUEUED"} 1',
            "locus_run_queue_depth 1", 'locus_code_locations{status="LOADED"} 1',
            'locus_code_locations{status="ERROR"} 1', "# TYPE locus_daemon_heartbeat_age_seconds gauge"} <= lines
    age = next(line for line in lines if line.startswith('locus_daemon_heartbeat_age_seconds{daemon="SCHEDULER"}'))
    assert 29 <= float(age.split()[-1]) < 60

"""The REST API over real code servers: locations with their load errors,
launching runs validated by the code server, and one error shape for every
4xx. (Manager, run queue and API run in this process; the code servers and
runs are real child processes.)"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dev.localmode import LocalApi, copy_departments, stored_value
from locus.api.app import create_app
from locus.instance.instance import LocusInstance

CONFIGURED = '''
from locus import Definitions, job, op


@op(config_schema={"n": int})
def emit(context):
    return int(context.op_config["n"]) * 2


@job(tags={"team": "numbers"})
def configured():
    emit()


defs = Definitions(jobs=[configured])
'''


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalApi]:
    root = tmp_path_factory.mktemp("api")
    departments = copy_departments(root)
    (departments / "configured.py").write_text(CONFIGURED)
    workspace = departments / "api_workspace.yaml"
    workspace.write_text(textwrap.dedent("""\
        load_from:
          - python_file: {relative_path: sales_code_location.py, location_name: sales}
          - python_file: broken_location.py
          - python_file: {relative_path: configured.py, location_name: configured, rpc_timeout_seconds: 20}
        """))
    with LocalApi(workspace, root / "home") as local:
        yield local


def error_of(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "hint", "details"}, body
    assert body["error"]["code"] == code, body
    error: dict[str, Any] = body["error"]
    return error


def test_healthz(api: LocalApi) -> None:
    assert api.http.get("/healthz").json() == {"status": "ok"}


def test_locations_show_status_counts_and_the_load_error_with_traceback(api: LocalApi) -> None:
    found = {loc["name"]: loc for loc in api.http.get("/api/locations").json()["locations"]}
    assert set(found) == {"sales", "broken_location.py", "configured"}
    sales = found["sales"]
    assert sales["status"] == "LOADED" and sales["counts"]["assets"] == 2 and sales["snapshot_id"]
    assert sales["endpoint"].startswith("unix:") and sales["load_error"] is None
    broken = found["broken_location.py"]
    assert broken["status"] == "ERROR" and broken["snapshot_id"] is None
    assert "deliberately broken" in broken["load_error"]["message"]
    assert 'raise RuntimeError("this code location is deliberately broken")' in broken["load_error"]["traceback"]
    assert api.manager.settings_for("configured").rpc_timeout_seconds == 20


def test_an_asset_run_is_queued_launched_and_succeeds_with_its_events_in_order(api: LocalApi) -> None:
    run_id = api.launch(location="sales", asset_selection="*", tags={"who": "test"})
    body = api.wait_run(run_id)
    run, events = body["run"], body["events"]
    assert run["status"] == "SUCCESS", events
    assert run["job_name"] == "__ASSET_JOB" and run["location_name"] == "sales"
    assert run["asset_selection"] == [["sales_data"], ["sales_metrics"]] and run["tags"]["who"] == "test"
    assert run["origin"]["location_name"] == "sales"
    assert run["origin"]["pointer"]["python_file"].endswith("sales_code_location.py")
    types = [e["event_type"] for e in events]
    assert types[:2] == ["RUN_ENQUEUED", "RUN_STARTING"] and types[-1] == "RUN_SUCCESS"
    assert [e["storage_id"] for e in events] == sorted(e["storage_id"] for e in events)
    assert stored_value(api.home, "sales_metrics") == {"orders": 3, "revenue": 60}


def test_a_list_of_keys_selects_those_assets(api: LocalApi) -> None:
    run_id = api.launch(location="sales", asset_selection=["sales_data"])
    body = api.wait_run(run_id)
    assert body["run"]["status"] == "SUCCESS" and body["run"]["asset_selection"] == [["sales_data"]]


def test_an_op_job_runs_with_its_config_and_tags(api: LocalApi) -> None:
    run_id = api.launch(location="configured", job_name="configured",
                        run_config={"ops": {"emit": {"config": {"n": 21}}}})
    body = api.wait_run(run_id)
    assert body["run"]["status"] == "SUCCESS", body["events"]
    assert body["run"]["tags"]["team"] == "numbers"


def test_bad_run_config_is_422_with_the_error_paths(api: LocalApi) -> None:
    response = api.http.post("/api/runs", json={"location": "configured", "job_name": "configured",
                                                "run_config": {"ops": {"emit": {"config": {"n": "x"}}}}})
    error = error_of(response, 422, "invalid_run")
    paths = [e["path"] for e in error["details"]["errors"]]
    assert any("emit" in path for path in paths), error
    missing = api.http.post("/api/runs", json={"location": "configured", "job_name": "configured"})
    assert error_of(missing, 422, "invalid_run")["details"]["errors"]


def test_unknown_location_is_404_naming_the_known_ones(api: LocalApi) -> None:
    error = error_of(api.http.post("/api/runs", json={"location": "nope", "asset_selection": "*"}),
                     404, "location_not_found")
    assert "nope" in error["message"] and "sales" in error["hint"]
    error_of(api.http.post("/api/locations/nope/reload"), 404, "location_not_found")


def test_a_broken_location_is_409_with_its_load_error(api: LocalApi) -> None:
    response = api.http.post("/api/runs", json={"location": "broken_location.py", "asset_selection": "*"})
    error = error_of(response, 409, "location_not_loaded")
    assert "deliberately broken" in error["message"]
    assert "Traceback" in error["details"]["load_error"]["traceback"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"location": "sales"}, "invalid_request"),
        ({"location": "sales", "job_name": "no_such_job"}, "unknown_job"),
        ({"location": "sales", "asset_selection": ["no_such_asset"]}, "invalid_asset_selection"),
        ({"location": "sales", "asset_selection": "group:nothing_here"}, "invalid_asset_selection"),
        ({"location": "sales", "asset_selection": "key:("}, "invalid_asset_selection"),
        ({"job_name": "x"}, "invalid_request"),
        ({"location": "sales", "asset_selection": "*", "tags": {"a": [1]}}, "invalid_request"),
    ],
)
def test_invalid_requests_are_422_in_the_one_error_shape(api: LocalApi, body: dict[str, Any], code: str) -> None:
    error = error_of(api.http.post("/api/runs", json=body), 422, code)
    assert error["message"] and error["details"]["errors"]


def test_unknown_run_and_unknown_route_are_404_in_the_same_shape(api: LocalApi) -> None:
    error_of(api.http.get("/api/runs/does-not-exist"), 404, "run_not_found")
    error_of(api.http.get("/api/nothing-here"), 404, "not_found")


def test_without_a_workspace_locations_come_from_the_registry_and_runs_cannot_launch(api: LocalApi) -> None:
    instance = LocusInstance.for_url(f"sqlite:///{api.home / 'locus.db'}", api.home)
    try:
        with TestClient(create_app(instance)) as http:
            found = {loc["name"]: loc for loc in http.get("/api/locations").json()["locations"]}
            assert found["sales"]["status"] == "LOADED"
            assert "Traceback" in found["broken_location.py"]["load_error"]["traceback"]
            assert http.get("/api/locations/sales").json()["snapshot_id"] == found["sales"]["snapshot_id"]
            error_of(http.post("/api/runs", json={"location": "sales", "asset_selection": "*"}), 409, "no_workspace")
    finally:
        instance.dispose()


def test_reloading_one_location_restarts_only_its_server(api: LocalApi) -> None:
    before = {s.name: s for s in api.manager.locations()}
    response = api.http.post("/api/locations/configured/reload")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "LOADED"
    after = {s.name: s for s in api.manager.locations()}
    assert after["configured"].pid != before["configured"].pid
    assert after["sales"].pid == before["sales"].pid
    assert after["broken_location.py"].pid == before["broken_location.py"].pid

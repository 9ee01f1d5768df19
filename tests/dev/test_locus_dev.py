"""`locus dev` end to end: a subprocess serving the departments workspace
on a free port, its code servers, runs launched over HTTP, reload, crash
recovery, and a clean stop on SIGINT/SIGTERM."""

from __future__ import annotations

import os
import signal
import textwrap
from pathlib import Path

import pytest

from dev.localmode import LocusDev, code_server_pids, copy_departments, stored_value, wait_until
from support import run_locus

DEPARTMENTS = {"sales": "LOADED", "marketing": "LOADED", "inventory_code_location.py": "LOADED"}

FORECAST = '''

@asset
def sales_forecast(sales_metrics):
    return sales_metrics["revenue"] * 2


sales_defs = Definitions(assets=[sales_data, sales_metrics, sales_forecast])
'''


@pytest.mark.slow
def test_dev_serves_the_departments_runs_reloads_and_stops_cleanly(tmp_path: Path) -> None:
    departments = copy_departments(tmp_path)
    home = tmp_path / "home"
    with LocusDev(["-w", "departments/workspace.yaml"], cwd=tmp_path, home=home) as dev:
        found = dev.wait_statuses(DEPARTMENTS)
        assert set(found) == set(DEPARTMENTS)
        assert len(code_server_pids(home)) == 3

        runs = {
            "sales": dev.launch(location="sales", asset_selection="*"),
            "marketing": dev.launch(location="marketing", asset_selection=["campaign_data", "customer_segments"]),
            "inventory_code_location.py": dev.launch(location="inventory_code_location.py", job_name="refresh"),
        }
        for name, run_id in runs.items():
            body = dev.wait_run(run_id)
            assert body["run"]["status"] == "SUCCESS", (name, body["events"])
        assert stored_value(home, "sales_metrics") == {"orders": 3, "revenue": 60}
        assert stored_value(home, "customer_segments") == ["new", "returning"]
        assert stored_value(home, "reorder_alerts") == ["widget"]

        # Edit one location and reload it: only its server restarts.
        sales_file = departments / "sales_code_location.py"
        old_defs = "sales_defs = Definitions(assets=[sales_data, sales_metrics])\n"
        assert old_defs in sales_file.read_text()
        sales_file.write_text(sales_file.read_text().replace(old_defs, "") + FORECAST)
        response = dev.http.post("/api/locations/sales/reload")
        assert response.status_code == 200, response.text
        reloaded = response.json()
        assert reloaded["status"] == "LOADED", reloaded
        assert reloaded["counts"]["assets"] == 3
        assert reloaded["snapshot_id"] != found["sales"]["snapshot_id"]
        after = dev.locations()
        assert after["sales"]["pid"] != found["sales"]["pid"]
        for other in ("marketing", "inventory_code_location.py"):
            assert after[other]["pid"] == found[other]["pid"]
            assert after[other]["snapshot_id"] == found[other]["snapshot_id"]
        body = dev.wait_run(dev.launch(location="sales", asset_selection=["sales_forecast"]))
        assert body["run"]["status"] == "SUCCESS", body["events"]
        assert stored_value(home, "sales_forecast") == 120

        assert dev.stop(signal.SIGINT) == 0
        assert code_server_pids(home) == []
        output = dev.text()
        assert "http://127.0.0.1:" in output and "sales: LOADED" in output and "stopped" in output


@pytest.mark.slow
def test_a_broken_location_and_a_killed_server_leave_the_others_working(tmp_path: Path) -> None:
    departments = copy_departments(tmp_path)
    (departments / "with_broken.yaml").write_text(textwrap.dedent("""\
        load_from:
          - python_file: broken_location.py
          - python_file: {relative_path: sales_code_location.py, location_name: sales}
          - python_file: {relative_path: marketing_code_location.py, location_name: marketing}
          - python_file: inventory_code_location.py
        """))
    home = tmp_path / "home"
    with LocusDev(["-w", str(departments / "with_broken.yaml")], cwd=tmp_path, home=home) as dev:
        found = dev.wait_statuses({**DEPARTMENTS, "broken_location.py": "ERROR"})
        error = found["broken_location.py"]["load_error"]
        assert "RuntimeError" in error["cls_name"] and "deliberately broken" in error["message"]
        assert "broken_location.py" in error["traceback"] and "raise RuntimeError" in error["traceback"]

        status = run_locus("workspace", "status", cwd=tmp_path, home=home)
        assert status.code == 0, status.output
        assert "broken_location.py" in status.stdout and "ERROR" in status.stdout
        assert "deliberately broken" in status.stdout and "Traceback (most recent call last)" in status.stdout
        assert status.stdout.count("LOADED") == 3

        refused = dev.http.post("/api/runs", json={"location": "broken_location.py", "asset_selection": "*"})
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "location_not_loaded"

        # kill -9 one code server while a run goes on in another location.
        sales_run = dev.launch(location="sales", asset_selection="*")
        os.kill(found["marketing"]["pid"], signal.SIGKILL)
        wait_until(lambda: dev.locations()["marketing"]["status"] == "UNREACHABLE", 20, "marketing UNREACHABLE")
        back = dev.wait_statuses({"marketing": "LOADED"}, timeout=30)["marketing"]
        assert back["pid"] != found["marketing"]["pid"] and back["restarts"] >= 1
        assert dev.wait_run(sales_run)["run"]["status"] == "SUCCESS"
        assert dev.locations()["sales"]["pid"] == found["sales"]["pid"]
        body = dev.wait_run(dev.launch(location="marketing", asset_selection="*"))
        assert body["run"]["status"] == "SUCCESS", body["events"]

        assert dev.stop(signal.SIGTERM) == 0
        assert code_server_pids(home) == []


SLOW = '''
import time
from locus import Definitions, asset


@asset
def slow():
    deadline = time.time() + 60
    while time.time() < deadline:
        time.sleep(0.05)
    return 1


defs = Definitions(assets=[slow])
'''


@pytest.mark.slow
def test_stopping_dev_cancels_a_run_in_flight_and_leaves_no_process(tmp_path: Path) -> None:
    (tmp_path / "slow.py").write_text(SLOW)
    home = tmp_path / "home"
    with LocusDev(["-f", "slow.py"], cwd=tmp_path, home=home) as dev:
        dev.wait_statuses({"slow.py": "LOADED"})
        run_id = dev.launch(location="slow.py", asset_selection="*")

        def started() -> int | None:
            body = dev.http.get(f"/api/runs/{run_id}").json()
            if body["run"]["status"] != "STARTED":
                return None
            return next(e["data"]["pid"] for e in body["events"] if e["event_type"] == "ENGINE_EVENT")

        run_pid = wait_until(started, 30, "the run to start")
        assert dev.stop(signal.SIGINT) == 0
        assert code_server_pids(home) == []
        assert not Path(f"/proc/{run_pid}").exists() or "Z" in Path(f"/proc/{run_pid}/stat").read_text().split()[2]
    status = run_locus("run", "show", run_id, cwd=tmp_path, home=home)
    assert "CANCELED" in status.output, status.output


def test_api_serve_without_a_workspace_leaves_out_locations_not_serving_yet(tmp_path: Path) -> None:
    """A registered location with no endpoint yet (its code server not up) is
    not offered for launching; see tests/daemon/test_registry_mode.py for
    one that serves."""
    from locus.instance.instance import LocusInstance
    from locus.storage.records import LocationRecord, LocationStatus

    home = tmp_path / "home"
    home.mkdir()
    with LocusInstance.for_url(f"sqlite:///{home / 'locus.db'}", home) as instance:
        instance.storage.upsert_location(LocationRecord("elsewhere", LocationStatus.LOADING))
    with LocusDev([], cwd=tmp_path, home=home, command="api serve") as api:
        assert api.http.get("/api/locations").json()["locations"] == []
        refused = api.http.post("/api/runs", json={"location": "elsewhere", "asset_selection": "*"})
        assert refused.status_code == 404 and refused.json()["error"]["code"] == "location_not_found"
        assert api.stop(signal.SIGTERM) == 0


def test_dev_refuses_a_busy_port_and_a_missing_workspace_clearly(tmp_path: Path) -> None:
    import socket

    (tmp_path / "hello.py").write_text("from locus import Definitions\ndefs = Definitions()\n")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_locus("dev", "-f", "hello.py", "--port", str(port), cwd=tmp_path, home=tmp_path / "home")
    assert result.code == 2 and f"cannot listen on 127.0.0.1:{port}" in result.stderr and "--port" in result.stderr
    assert code_server_pids(tmp_path / "home") == []
    missing = run_locus("dev", cwd=tmp_path, home=tmp_path / "home")
    assert missing.code == 2 and "no workspace.yaml" in missing.stderr

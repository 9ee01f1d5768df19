"""A real `locus api grpc` process per location, driven through the client:
snapshots, restarts, load errors, plans, schedules and sensors, and stopping."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from codeserver_support import EXAMPLES, LOCATIONS, RunningServer, free_port, running_server, short_tmp_dir

from locus.codeserver.client import CodeServerClient, CodeServerUnavailable, LocationLoadError
from locus.codeserver.snapshot import build_snapshot
from locus.execution.code_pointer import CodePointer, load_definitions


@pytest.fixture(scope="module")
def numbers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, Path]]:
    """The numbers example, from the examples folder, on a loopback port."""
    tmp = tmp_path_factory.mktemp("numbers")
    marker = tmp / "check"
    with running_server(
        ["-f", "numbers_assets.py"], cwd=EXAMPLES, log=tmp / "server.log", env={"CHECK_FILE": str(marker)}
    ) as server:
        yield server, marker


@pytest.fixture(scope="module")
def service() -> Iterator[RunningServer]:
    """The test location, on a unix socket."""
    with short_tmp_dir() as tmp, running_server(
        ["-f", str(LOCATIONS / "service_location.py"), "--location-name", "service"],
        cwd=tmp,
        log=tmp / "server.log",
        socket_path=tmp / "s.sock",
    ) as server:
        yield server


def test_numbers_snapshot_matches_the_definitions(numbers: tuple[RunningServer, Path]) -> None:
    server, _marker = numbers
    with server.client() as client:
        info = client.server_info()
        snapshot = client.snapshot()
    assert snapshot.counts == {"assets": 6, "jobs": 2, "schedules": 2, "sensors": 1}
    assert [s.name for s in snapshot.schedules] == ["process_numbers_schedule", "process_numbers_asset_schedule"]
    assert [s.name for s in snapshot.sensors] == ["check_file_sensor"]
    assert info.location_name == "numbers_assets.py" and info.load_error is None
    assert info.code_pointer["python_file"] == str(EXAMPLES / "numbers_assets.py")
    # What the server sent decodes to exactly what this process builds from the same code.
    defs = load_definitions(CodePointer.from_dict(info.code_pointer))
    assert snapshot == build_snapshot(defs, info.location_name, info.code_pointer, None)
    summed = snapshot.asset(["summed_two_sums"])
    assert summed is not None and summed.upstream == (("summed_even_numbers",), ("summed_odd_numbers",))


def test_snapshot_id_is_stable_across_restarts_but_server_id_is_not(tmp_path: Path) -> None:
    seen = []
    with short_tmp_dir() as tmp:
        for attempt in range(2):
            with running_server(
                ["-f", "numbers_assets.py"], cwd=EXAMPLES, log=tmp_path / f"{attempt}.log", socket_path=tmp / "s.sock"
            ) as server, server.client() as client:
                seen.append((client.snapshot_id(), client.server_info().server_id))
            assert not (tmp / "s.sock").exists(), "the socket file is removed on stop"
    (first_snapshot, first_server), (second_snapshot, second_server) = seen
    assert first_snapshot == second_snapshot and len(first_snapshot) == 16
    assert first_server != second_server


def test_broken_location_serves_its_load_error(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with running_server(["-f", "broken_location.py"], cwd=EXAMPLES, log=log) as server, server.client() as client:
        assert client.health()
        assert client.ping(echo="still up") == "still up"
        info = client.server_info()
        with pytest.raises(LocationLoadError) as caught:
            client.snapshot()
        with pytest.raises(LocationLoadError):
            client.execution_plan("anything")
        with pytest.raises(LocationLoadError):
            client.evaluate_sensor("anything")
    error = caught.value.error_info
    assert info.load_error == error
    assert error.cls_name == "RuntimeError" and "deliberately broken" in error.message
    assert 'broken_location.py", line 11' in error.traceback
    assert "broken_location.py" in str(caught.value) and "RuntimeError" in str(caught.value)
    assert "deliberately broken" in server.output(), "the load error is also printed where the server runs"


def test_numbers_sensor_skips_then_requests_a_run(numbers: tuple[RunningServer, Path]) -> None:
    server, marker = numbers
    with server.client() as client:
        skipped = client.evaluate_sensor("check_file_sensor")
        assert skipped.error is None and skipped.run_requests == []
        assert skipped.skip_message == "check file not exists"
        marker.write_text("")
        try:
            requested = client.evaluate_sensor("check_file_sensor", cursor="c1", last_run_key=None)
        finally:
            marker.unlink()
    assert requested.error is None and requested.skip_message is None
    assert [(r["run_key"], r["job_name"]) for r in requested.run_requests] == [("check_file_exists", "process_numbers")]
    assert requested.cursor == "c1"


def test_sensor_cursor_moves_and_schedules_evaluate(
    numbers: tuple[RunningServer, Path], service: RunningServer
) -> None:
    with service.client() as client:
        tick = client.evaluate_sensor("cursor_sensor", cursor="4")
        missing = client.evaluate_sensor("no_such_sensor")
    assert tick.cursor == "5" and tick.run_requests[0]["run_key"] == "tick-4"
    assert tick.run_requests[0]["tags"] == {"seen": "4"}
    assert missing.error is not None and "no sensor named 'no_such_sensor'" in missing.error.message
    with numbers[0].client() as client:
        scheduled = client.evaluate_schedule("process_numbers_schedule", scheduled_time=1_700_000_000.0)
    assert scheduled.error is None
    assert [r["job_name"] for r in scheduled.run_requests] == ["process_numbers"]


def test_a_sensor_past_its_timeout_fails_without_blocking_other_calls(service: RunningServer) -> None:
    results = []
    with service.client() as client:
        started = time.monotonic()
        worker = threading.Thread(target=lambda: results.append(client.evaluate_sensor("slow_sensor", timeout=1.5)))
        worker.start()
        time.sleep(0.2)  # let the evaluation start; the ping must not queue behind it
        ping_started = time.monotonic()
        assert client.ping(echo="meanwhile") == "meanwhile"
        ping_took = time.monotonic() - ping_started
        worker.join(20)
        took = time.monotonic() - started
    assert ping_took < 0.5
    (result,) = results
    assert result.error is not None
    assert result.error.message == "sensor 'slow_sensor' timed out after 1.5s"
    assert 1.4 < took < 5


def test_execution_plan_returns_steps_or_config_errors(
    numbers: tuple[RunningServer, Path], service: RunningServer
) -> None:
    with numbers[0].client() as client:
        selection = [["summed_two_sums"], ["generated_numbers"]]
        plan = client.execution_plan("process_numbers_asset", asset_selection=selection)
        assert plan.errors == [] and plan.step_keys == ["generated_numbers", "summed_two_sums"]
        assert plan.asset_selection == [["generated_numbers"], ["summed_two_sums"]]
        unknown = client.execution_plan("no_such_job")
        assert [path for path, _ in unknown.errors] == ["job_name"]
        steps = client.execution_plan("process_numbers", step_keys=["sum_two_sums", "nope"])
        assert [path for path, _ in steps.errors] == ["step_keys"]
    with service.client() as client:
        bad = client.execution_plan("configured", {"ops": {"limited": {"config": {"limit": "ten", "extra": 1}}}})
        missing = client.execution_plan("configured")
        good = client.execution_plan("configured", {"ops": {"limited": {"config": {"limit": 10}}}})
    assert sorted(path for path, _ in bad.errors) == ["ops.limited.config.extra", "ops.limited.config.limit"]
    assert [path for path, _ in missing.errors] == ["ops.limited.config.limit"]
    assert good.errors == [] and good.step_keys == ["limited"]


def test_shutdown_ends_the_server(tmp_path: Path) -> None:
    with short_tmp_dir() as tmp:
        socket_path = tmp / "s.sock"
        with running_server(
            ["-f", "numbers_assets.py"], cwd=EXAMPLES, log=tmp_path / "server.log", socket_path=socket_path
        ) as server:
            with server.client() as client:
                client.shutdown()
            assert server.process.wait(10) == 0
            assert not socket_path.exists()
            with server.client() as client, pytest.raises(CodeServerUnavailable):
                client.ping()
    assert f"serving numbers_assets.py on unix:{socket_path}" in server.output()


def test_a_client_of_a_dead_server_fails_fast() -> None:
    target = f"127.0.0.1:{free_port()}"
    with CodeServerClient(target, default_timeout=30) as client:
        started = time.monotonic()
        with pytest.raises(CodeServerUnavailable) as caught:
            client.snapshot_id()
        assert time.monotonic() - started < 2
        assert not client.health()
    assert target in str(caught.value) and "locus api grpc" in str(caught.value)


def test_image_comes_from_the_environment(tmp_path: Path) -> None:
    env = {"LOCUS_CURRENT_IMAGE": "registry.example/numbers:1.2"}
    log = tmp_path / "s.log"
    with running_server(["-f", "numbers_assets.py"], cwd=EXAMPLES, log=log, env=env) as server, server.client() as c:
        assert c.server_info().image == "registry.example/numbers:1.2"
        assert c.snapshot().image == "registry.example/numbers:1.2"
        assert c.server_info().pid == server.process.pid


def _health(target: str, service: str) -> int:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        status: int = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status
        return status


def test_loaded_health_name_says_whether_the_code_loaded(tmp_path: Path) -> None:
    from grpc_health.v1 import health_pb2

    from locus.codeserver.server import LOADED_SERVICE

    serving, not_serving = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING
    with running_server(["-f", "broken_location.py"], cwd=EXAMPLES, log=tmp_path / "broken.log") as broken:
        assert _health(broken.target, "") == serving  # the process is up: not a liveness failure
        assert _health(broken.target, LOADED_SERVICE) == not_serving  # but not ready
    with running_server(["-f", "hello.py"], cwd=EXAMPLES, log=tmp_path / "good.log") as good:
        assert _health(good.target, LOADED_SERVICE) == serving

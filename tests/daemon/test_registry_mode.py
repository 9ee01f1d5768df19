"""Registry mode: `locus daemon run` with no target flags and no
workspace.yaml follows the instance's code-location registry (what the
operator writes on Kubernetes) against real code servers of the numbers
example: locations registered, moved and deregistered while it runs are
followed, their schedules and sensors evaluated, and the registry is never
written. With ``run_launcher: {k8s: {}}`` the run queue and run monitor stay
off (the operator hosts them) while schedules still tick. `locus api serve`
without a workspace reads the same registry."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dev.localmode import EXAMPLES, LocusDev, free_port, locus_env, wait_until
from locus.codeserver.client import CodeServerClient
from locus.daemon.loops import build_loops
from locus.daemon.scheduler import SchedulerLoop, origin_id, start_schedule
from locus.daemon.sensors import start_sensor
from locus.execution.events import RunStatus
from locus.execution.runs import RunRecord, RunsFilter
from locus.instance.config import InstanceConfig
from locus.instance.instance import LocusInstance
from locus.storage.records import LocationRecord, LocationStatus, TickStatus
from locus.storage.sql_storage import SqlStorage
from locus.workspace.config import LocationEntry
from locus.workspace.manager import WorkspaceChanges, WorkspaceManager
from locus.workspace.registry_source import RegistryFollower, registry_entry, registry_workspace

LOC = "numbers"
SCHEDULE = "process_numbers_schedule"  # every minute
SENSOR = "check_file_sensor"  # every 5 s; skips while its check file is absent
ASSETS = {"generated_numbers", "filtered_even_numbers", "filtered_odd_numbers", "summed_even_numbers",
          "summed_odd_numbers", "summed_two_sums"}
K8S_LOCUS_YAML = "run_launcher:\n  k8s: {}\n"


class Server:
    """`locus api grpc` serving examples/numbers_assets.py on a TCP port, as
    the operator's code-server Deployment would."""

    def __init__(self, home: Path, check_file: Path) -> None:
        self.port = free_port()
        self.endpoint = f"127.0.0.1:{self.port}"
        env = {**locus_env(home), "CHECK_FILE": str(check_file)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "locus.cli.main", "api", "grpc", "-f", "numbers_assets.py",
             "--location-name", LOC, "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=EXAMPLES, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def wait_ready(self) -> None:
        with CodeServerClient(self.endpoint, default_timeout=5) as client:
            wait_until(lambda: client.health(timeout=1), 60, f"the code server on {self.endpoint}")
            self.server_id = client.server_info().server_id
            self.snapshot_id = client.snapshot_id()

    def record(self, **changes: object) -> LocationRecord:
        """The registry row the operator writes for this server."""
        values: dict[str, object] = {
            "name": LOC, "status": LocationStatus.LOADED, "image": "example.com/numbers:1",
            "endpoint": self.endpoint, "snapshot_id": self.snapshot_id,
            "counts": {"assets": 6, "jobs": 2, "schedules": 2, "sensors": 1}, "updated_at": 1_700_000_000.5,
        }
        return LocationRecord(**{**values, **changes})  # type: ignore[arg-type]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    folder = tmp_path_factory.mktemp("servers")
    started = (Server(folder / "home", folder / "absent"), Server(folder / "home", folder / "absent"))
    try:
        for server in started:
            server.wait_ready()
        yield started
    finally:
        for server in started:
            server.close()


class Daemon:
    """`locus daemon run` with no target flags, in a folder without workspace.yaml."""

    def __init__(self, tmp_path: Path, home: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.output = tmp_path / "daemon.out"
        with open(self.output, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "locus.cli.main", "daemon", "run", "--registry-interval", "0.3",
                 "--heartbeat-interval", "0.5"],
                cwd=tmp_path, env=locus_env(home), stdout=out, stderr=subprocess.STDOUT,
            )
        wait_until(lambda: "is active; following the code-location registry" in self.text(), 30,
                   "the daemon to become active")

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def instance_at(url: str, home: Path, config: InstanceConfig | None = None) -> LocusInstance:
    return LocusInstance(SqlStorage(url), home, config)


def runs_of(instance: LocusInstance, **tags: str) -> list[RunRecord]:
    return instance.storage.get_runs(RunsFilter(tags=tags))


# -- the registry as a workspace -------------------------------------------------------


def test_registered_endpoints_become_grpc_server_entries() -> None:
    def entry(endpoint: str | None) -> LocationEntry | None:
        return registry_entry(LocationRecord("loc", endpoint=endpoint))

    assert entry("numbers.data.svc:4000") == LocationEntry("loc", "grpc_server", host="numbers.data.svc", port=4000)
    assert entry("[fd00::7]:4000") == LocationEntry("loc", "grpc_server", host="[fd00::7]", port=4000)
    assert entry("unix:///tmp/loc.sock") == LocationEntry("loc", "grpc_server", socket="/tmp/loc.sock")
    assert [entry(bad) for bad in (None, "", "numbers", "numbers:http", ":4000", "numbers:0")] == [None] * 6

    seen: list[str] = []
    workspace = registry_workspace(
        [LocationRecord("a", endpoint="a:1"), LocationRecord("b"), LocationRecord("c", endpoint="oops")],
        on_unusable=lambda r: seen.append(r.name),
    )
    assert workspace.names == ("a",) and seen == ["c"]  # b serves nowhere yet: left out silently


def test_a_follower_needs_a_manager_that_does_not_own_the_registry(tmp_path: Path) -> None:
    instance = instance_at(f"sqlite:///{tmp_path / 'locus.db'}", tmp_path)
    with pytest.raises(ValueError, match="owns_registry=False"):
        RegistryFollower(instance, WorkspaceManager(registry_workspace([]), instance))
    instance.dispose()


def test_the_follower_adds_moves_and_drops_locations_and_never_writes_the_registry(
    tmp_path: Path, servers: tuple[Server, Server]
) -> None:
    first, second = servers
    instance = instance_at(f"sqlite:///{tmp_path / 'locus.db'}", tmp_path)
    storage = instance.storage
    manager = WorkspaceManager(registry_workspace([]), instance, owns_registry=False)
    follower = RegistryFollower(instance, manager, interval=0.1)
    not_serving = LocationRecord("starting", LocationStatus.LOADING, updated_at=5.0)  # no endpoint yet
    storage.upsert_location(not_serving)
    with manager:
        assert follower.sync() == WorkspaceChanges() and manager.names == ()

        row = first.record()
        storage.upsert_location(row)
        assert follower.sync() == WorkspaceChanges(added=(LOC,))
        assert manager.wait_until_settled(30)
        state = manager.get(LOC)
        assert state.is_loaded and state.server_id == first.server_id and state.endpoint == first.endpoint
        assert {a.key[-1] for a in state.snapshot.assets} == ASSETS  # type: ignore[union-attr]
        assert follower.sync() == WorkspaceChanges()  # nothing new: the watcher is left alone

        moved = second.record(updated_at=1_700_000_100.0)
        storage.upsert_location(moved)
        assert follower.sync() == WorkspaceChanges(changed=(LOC,))
        assert manager.wait_until_settled(30)
        assert manager.get(LOC).server_id == second.server_id and manager.get(LOC).is_loaded
        assert storage.get_locations() == [moved, not_serving]  # exactly as written

        storage.delete_location(LOC)
        assert follower.sync() == WorkspaceChanges(removed=(LOC,))
        assert manager.names == ()
    assert storage.get_locations() == [not_serving]
    instance.dispose()


def test_with_the_k8s_launcher_the_loops_are_instigation_only_and_schedules_tick(
    tmp_path: Path, servers: tuple[Server, Server]
) -> None:
    """In process, with a fake clock: the k8s launcher's daemon has no run
    queue or run monitor, and a schedule of a registered location makes its
    QUEUED run without any launcher."""
    config = InstanceConfig.model_validate({"run_launcher": {"k8s": {}}})
    instance = instance_at(f"sqlite:///{tmp_path / 'locus.db'}", tmp_path, config)
    instance.storage.upsert_location(servers[0].record())
    manager = WorkspaceManager(registry_workspace([]), instance, owns_registry=False)
    follower = RegistryFollower(instance, manager)
    loops = build_loops(instance, manager, None)
    assert [loop.name for loop in loops] == ["scheduler", "sensors", "run_retries"]
    with manager:
        follower.sync()
        assert manager.wait_until_settled(30) and manager.get(LOC).is_loaded
        t0 = 1_767_614_410.0  # 2026-01-05 12:00:10 UTC
        start_schedule(instance, LOC, SCHEDULE, now=t0)
        scheduler = loops[0]
        assert isinstance(scheduler, SchedulerLoop)
        for seconds in (0, 30, 65, 125):
            scheduler.tick(t0 + seconds)
            assert scheduler.wait_idle(30)
        for loop in loops:
            getattr(loop, "close", lambda: None)()
    runs = runs_of(instance, **{"locus/schedule_name": SCHEDULE})
    assert sorted(r.tags["locus/scheduled_execution_time"] for r in runs) == [
        "2026-01-05T12:01:00+00:00", "2026-01-05T12:02:00+00:00"
    ]
    assert {r.status for r in runs} == {RunStatus.QUEUED} and {r.location_name for r in runs} == {LOC}
    assert instance.storage.get_locations() == [servers[0].record()]
    instance.dispose()

    with pytest.raises(ValueError, match="launcher"):  # the local launcher's daemon needs one
        local = instance_at(f"sqlite:///{tmp_path / 'locus.db'}", tmp_path)
        try:
            build_loops(local, WorkspaceManager(registry_workspace([]), local), None)
        finally:
            local.dispose()


# -- `locus daemon run` and `locus api serve` as processes --------------------------


@pytest.mark.slow
def test_a_daemon_in_registry_mode_follows_locations_registered_after_it_started(
    tmp_path: Path, servers: tuple[Server, Server]
) -> None:
    home = tmp_path / "home"
    url = f"sqlite:///{home / 'locus.db'}"
    daemon = Daemon(tmp_path, home)
    instance = instance_at(url, home)
    storage = instance.storage
    sensor = origin_id(LOC, SENSOR)
    try:
        text = daemon.text()
        assert "registry mode" in text and "loops: scheduler, sensors, run_queue, run_monitor, run_retries, " \
            "code_locations" in text, text
        start_sensor(instance, LOC, SENSOR)
        row = servers[0].record()
        storage.upsert_location(row)
        wait_until(lambda: f"+ {LOC} at {servers[0].endpoint} (registered)" in daemon.text(), 30,
                   "the daemon to pick the location up")
        wait_until(lambda: f"{LOC}: LOADED (6 assets" in daemon.text(), 30, "the location to load")
        ticks = wait_until(lambda: [t for t in storage.get_ticks(sensor) if t.status != TickStatus.STARTED], 30,
                           "the sensor to be evaluated")
        assert (ticks[0].status, ticks[0].skip_reason) == (TickStatus.SKIPPED, "check file not exists"), ticks[0]
        assert "code_locations" in storage.get_daemon_heartbeats()
        assert storage.get_locations() == [row]  # followed, never written

        storage.delete_location(LOC)
        wait_until(lambda: f"- {LOC} (deregistered)" in daemon.text(), 30, "the daemon to drop the location")
        time.sleep(0.5)  # an evaluation already in flight may still finish
        count = len(storage.get_ticks(sensor))
        time.sleep(7)  # more than the sensor's interval (5 s, plus its jitter)
        assert len(storage.get_ticks(sensor)) == count, "a dropped location's sensor was evaluated"
        assert storage.get_locations() == []  # the daemon did not write its row back
        assert daemon.proc.poll() is None, daemon.text()
    finally:
        daemon.stop()
        instance.dispose()
    assert daemon.proc.returncode == 0, daemon.text()


@pytest.mark.slow
@pytest.mark.postgres
def test_with_the_k8s_launcher_queued_runs_stay_queued_and_schedules_still_tick(
    tmp_path: Path, servers: tuple[Server, Server], postgres_url: str
) -> None:
    """The daemon pod's setup: PostgreSQL, `run_launcher: {k8s: {}}`, no
    workspace. Its run queue is off, so runs stay QUEUED (for the operator)."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "locus.yaml").write_text(f'storage:\n  postgres:\n    url: "{postgres_url}"\n{K8S_LOCUS_YAML}')
    instance = instance_at(postgres_url, home)
    storage = instance.storage
    row = servers[0].record()
    storage.upsert_location(row)
    # Started 90 s ago: the latest missed minute is due at once (max_catchup_runs).
    start_schedule(instance, LOC, SCHEDULE, now=time.time() - 90)
    daemon = Daemon(tmp_path, home)
    try:
        text = daemon.text()
        assert "loops: scheduler, sensors, run_retries, code_locations" in text, text
        assert "run queue and run monitoring: off here (run_launcher is k8s" in text, text
        run = wait_until(lambda: runs_of(instance, **{"locus/schedule_name": SCHEDULE}), 60,
                         "the schedule to tick")[0]
        assert run.status == RunStatus.QUEUED and run.location_name == LOC
        time.sleep(3)  # many run-queue intervals: a local queue would have launched it by now
        assert instance.get_run(run.run_id).status == RunStatus.QUEUED  # type: ignore[union-attr]
        beats = storage.get_daemon_heartbeats()
        assert {"scheduler", "sensors", "run_retries", "code_locations"} <= set(beats)
        assert not {"run_queue", "run_monitor"} & set(beats), beats
        assert storage.get_locations() == [row]
    finally:
        daemon.stop()
        instance.dispose()
    assert daemon.proc.returncode == 0, daemon.text()
    assert re.search(r"Locus daemon \S+ \(home .*, storage postgresql", daemon.text()), daemon.text()


@pytest.mark.slow
def test_api_serve_without_a_workspace_lists_a_registered_location_and_its_assets(
    tmp_path: Path, servers: tuple[Server, Server]
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    with LocusInstance.for_url(f"sqlite:///{home / 'locus.db'}", home) as instance:
        instance.storage.upsert_location(servers[0].record())
    with LocusDev([], cwd=tmp_path, home=home, command="api serve") as api:
        (found,) = api.http.get("/api/locations").json()["locations"]
        assert (found["name"], found["status"], found["endpoint"]) == (LOC, "LOADED", servers[0].endpoint)
        assets = api.http.get("/api/assets").json()["assets"]
        assert {a["key"] for a in assets} == ASSETS, assets
        assert {a["location"] for a in assets} == {LOC}, assets
        jobs = api.http.get(f"/api/locations/{LOC}/jobs").json()
        assert {j["name"] for j in jobs["jobs"]} == {"process_numbers", "process_numbers_asset"}, jobs
        # Launching works too: the run waits QUEUED for whoever hosts the queue
        # (the operator on Kubernetes); the API itself never starts it.
        created = api.http.post("/api/runs", json={"location": LOC, "job_name": "process_numbers_asset"})
        assert created.status_code == 201, created.text
        run = api.http.get(f"/api/runs/{created.json()['run_id']}").json()["run"]
        assert run["status"] == "QUEUED"


@pytest.mark.postgres
def test_the_api_follower_wakes_on_a_registry_notification_not_its_poll(
    postgres_url: str, tmp_path: Path, servers: tuple[Server, Server]
) -> None:
    """On PostgreSQL a registered location is picked up at once: the follower
    here polls only every 60 s, so finding it sooner means NOTIFY woke it."""
    import threading

    from locus.cli.dev import _follow

    instance = instance_at(postgres_url, tmp_path)
    manager = WorkspaceManager(registry_workspace([]), instance, owns_registry=False)
    follower = RegistryFollower(instance, manager, interval=60)
    stop = threading.Event()
    thread = threading.Thread(target=_follow, args=(follower, instance, stop), daemon=True)
    with manager:
        thread.start()
        registrar = instance_at(postgres_url, tmp_path)  # another process's connection, as the operator's
        registrar.storage.upsert_location(servers[0].record())
        wait_until(lambda: LOC in manager.names, 15, "the follower to pick up the registered location")
        registrar.storage.delete_location(LOC)
        wait_until(lambda: LOC not in manager.names, 15, "the follower to drop the deregistered location")
        registrar.dispose()
    stop.set()
    instance.dispose()

"""The sensor loop against real code servers: the numbers example's sensor
skips until its marker file exists, then asks for its run exactly once; a
sensor stuck past its timeout fails its tick while a sensor in another
location keeps its interval."""

from __future__ import annotations

import itertools
import shutil
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dev.localmode import EXAMPLES, wait_until
from locus.daemon.scheduler import origin_id
from locus.daemon.sensors import SensorLoop, start_sensor, stop_sensor
from locus.execution.runs import RunsFilter
from locus.instance.instance import LocusInstance
from locus.storage.records import TickStatus
from locus.workspace.config import load_workspace
from locus.workspace.manager import WorkspaceManager


@pytest.fixture
def numbers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LocusInstance, WorkspaceManager, Path]]:
    for name in ("numbers_assets.py", "numbers_ops.py"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    marker = tmp_path / "check"
    monkeypatch.setenv("CHECK_FILE", str(marker))  # the code server inherits it
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text("load_from:\n  - python_file: {relative_path: numbers_assets.py, location_name: numbers}\n")
    instance = LocusInstance.for_url(f"sqlite:///{tmp_path / 'locus.db'}", tmp_path / "home")
    with WorkspaceManager(load_workspace(workspace), instance) as manager:
        assert manager.wait_until_settled(60) and manager.get("numbers").is_loaded, manager.get("numbers")
        yield instance, manager, marker
    instance.dispose()


def test_the_example_sensor_skips_then_requests_its_run_exactly_once(
    numbers: tuple[LocusInstance, WorkspaceManager, Path],
) -> None:
    instance, manager, marker = numbers
    origin = origin_id("numbers", "check_file_sensor")
    now = 1_800_000_000.0
    start_sensor(instance, "numbers", "check_file_sensor", now=now)
    loop = SensorLoop(instance, manager, jitter=0)

    def evaluate_at(when: float) -> None:
        loop.tick(when)
        assert loop.wait_idle(30)

    try:
        for _ in range(3):
            evaluate_at(now)
            now += 5  # the sensor's minimum_interval_seconds
        evaluate_at(now - 1)  # too early: no evaluation
        assert len(instance.storage.get_ticks(origin)) == 3
        marker.touch()
        for _ in range(4):
            evaluate_at(now)
            now += 5
    finally:
        loop.close()
        stop_sensor(instance, "numbers", "check_file_sensor")

    ticks = instance.storage.get_ticks(origin)[::-1]
    assert [(t.status, t.skip_reason) for t in ticks[:3]] == [(TickStatus.SKIPPED, "check file not exists")] * 3
    assert ticks[3].status == TickStatus.SUCCESS and ticks[3].run_keys == ("check_file_exists",)
    assert [t.status for t in ticks[4:]] == [TickStatus.SKIPPED] * 3
    assert all("check_file_exists" in (t.skip_reason or "") for t in ticks[4:])
    runs = instance.storage.get_runs(RunsFilter(tags={"locus/sensor_name": "check_file_sensor"}))
    assert [(r.job_name, r.tags["locus/run_key"]) for r in runs] == [("process_numbers", "check_file_exists")]
    assert ticks[3].run_ids == (runs[0].run_id,)
    state = instance.storage.get_instigator_state(origin)
    assert state is not None and state.data["last_run_key"] == "check_file_exists"


SLOW = textwrap.dedent('''
    import time

    from locus import Definitions, SkipReason, job, op, sensor


    @op
    def noop():
        return 1


    @job
    def some_job():
        noop()


    @sensor(job=some_job, minimum_interval_seconds=1, default_status="RUNNING")
    def {name}():
        time.sleep({sleep})
        return SkipReason("nothing to do")


    defs = Definitions(jobs=[some_job], sensors=[{name}])
''')


@pytest.mark.slow
def test_a_stuck_sensor_fails_on_its_timeout_and_other_locations_keep_their_pace(tmp_path: Path) -> None:
    (tmp_path / "slow.py").write_text(SLOW.format(name="stuck_sensor", sleep=30))
    (tmp_path / "fast.py").write_text(SLOW.format(name="quick_sensor", sleep=0))
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text("load_from:\n  - python_file: {relative_path: slow.py, location_name: slow}\n"
                         "  - python_file: {relative_path: fast.py, location_name: fast}\n")
    instance = LocusInstance.for_url(f"sqlite:///{tmp_path / 'locus.db'}", tmp_path / "home")
    stop = threading.Event()
    with WorkspaceManager(load_workspace(workspace), instance) as manager:
        assert manager.wait_until_settled(60)
        loop = SensorLoop(instance, manager, evaluation_timeout=3, jitter=0, interval=0.05)

        def drive() -> None:
            while not stop.is_set():
                loop.tick(time.time())
                stop.wait(loop.interval)

        driver = threading.Thread(target=drive, daemon=True)
        driver.start()
        try:
            failed = wait_until(
                lambda: [t for t in instance.storage.get_ticks(origin_id("slow", "stuck_sensor"))
                         if t.status == TickStatus.FAILURE],
                20, "the stuck sensor's tick to fail")[0]
        finally:
            stop.set()
            driver.join(10)
            loop.close()
        quick = [t for t in instance.storage.get_ticks(origin_id("fast", "quick_sensor"))[::-1]
                 if t.status == TickStatus.SKIPPED]
    instance.dispose()

    assert failed.error is not None
    assert failed.error.message == "sensor 'stuck_sensor' timed out after 3s"
    # While the stuck evaluation held its worker for 3 s, the other location's
    # sensor went on being evaluated about once a second.
    during = [t.timestamp for t in quick if failed.timestamp <= t.timestamp <= failed.timestamp + 3]
    assert len(during) >= 2, [t.timestamp - failed.timestamp for t in quick]
    gaps = [b - a for a, b in itertools.pairwise(during)]
    assert all(gap < 1.6 for gap in gaps), gaps

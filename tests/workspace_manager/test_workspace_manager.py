"""The workspace manager over real code servers: per-location environments
(executable_path), grpc_server entries run by someone else, crash recovery
and the errors callers get."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import sysconfig
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from dev.localmode import LocalApi, copy_departments, free_port, locus_env, stored_value, wait_until
from locus.instance.instance import LocusInstance
from locus.storage.records import LocationStatus
from locus.workspace.config import load_workspace
from locus.workspace.manager import LocationNotFound, LocationNotLoaded, LocationSettings, WorkspaceManager


@pytest.fixture
def departments(tmp_path: Path) -> Path:
    return copy_departments(tmp_path)


def test_errors_name_the_known_locations_and_the_load_error(departments: Path, tmp_path: Path) -> None:
    workspace = departments / "two.yaml"
    workspace.write_text("load_from:\n  - python_file: broken_location.py\n"
                         "  - python_file: {relative_path: sales_code_location.py, location_name: sales}\n")
    home = tmp_path / "home"
    instance = LocusInstance.for_url(f"sqlite:///{tmp_path / 'locus.db'}", home)
    with WorkspaceManager(load_workspace(workspace), instance) as manager:
        assert manager.wait_until_settled(60)
        with pytest.raises(LocationNotFound, match="'nope'") as not_found:
            manager.get("nope")
        assert "broken_location.py" in str(not_found.value) and "sales" in str(not_found.value)
        with pytest.raises(LocationNotLoaded, match="deliberately broken"):
            manager.client("broken_location.py")
        assert manager.client("sales").ping(echo="hi") == "hi"
        records = {r.name: r for r in instance.storage.get_locations()}
        assert records["sales"].status == LocationStatus.LOADED and records["sales"].counts["assets"] == 2
        assert records["broken_location.py"].load_error is not None
        log = (home / "logs" / "codeservers" / "broken_location.py.log").read_text()
        assert "deliberately broken" in log
        pids = [s.pid for s in manager.locations()]
    for pid in pids:
        assert pid is not None
        wait_until(lambda pid=pid: not _alive(pid), 5, f"code server {pid} to exit")
    instance.dispose()


def test_a_killed_server_becomes_unreachable_and_comes_back(departments: Path, tmp_path: Path) -> None:
    workspace = departments / "one.yaml"
    workspace.write_text("load_from:\n  - python_file: {relative_path: sales_code_location.py, location_name: s}\n")
    instance = LocusInstance.for_url(f"sqlite:///{tmp_path / 'locus.db'}", tmp_path / "home")
    settings = LocationSettings(health_interval_seconds=0.2, restart_backoff_initial=0.2)
    seen: list[LocationStatus] = []
    with WorkspaceManager(load_workspace(workspace), instance, settings, on_change=lambda s: seen.append(s.status)) \
            as manager:
        assert manager.wait_until_settled(60)
        first = manager.get("s")
        os.kill(first.pid or 0, signal.SIGKILL)
        wait_until(lambda: manager.get("s").status == LocationStatus.LOADED and manager.get("s").pid != first.pid,
                   30, "the restarted server")
        assert LocationStatus.UNREACHABLE in seen[seen.index(LocationStatus.LOADED):]
        assert manager.get("s").snapshot_id == first.snapshot_id and manager.get("s").restarts == 1
    instance.dispose()


VERSION_LOCATION = '''
import vpkg
from locus import Definitions, asset


@asset
def {name}():
    return vpkg.__version__


defs = Definitions(assets=[{name}])
'''


def make_venv(root: Path, version: str) -> Path:
    """A virtualenv that imports locus from the main environment and holds
    its own ``vpkg`` at ``version``."""
    venv = root / f"venv_{version.replace('.', '_')}"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (site,) = venv.glob("lib/python*/site-packages")
    main_site = sysconfig.get_paths()["purelib"]
    # addsitedir (not a bare path) so the main environment's own .pth files (the editable locus) apply too.
    (site / "locus_main.pth").write_text(f"import site; site.addsitedir({main_site!r})\n")
    (site / "vpkg").mkdir()
    (site / "vpkg" / "__init__.py").write_text(f'__version__ = "{version}"\n')
    return venv / "bin" / "python"


@pytest.mark.slow
def test_each_location_runs_in_its_own_environment(tmp_path: Path) -> None:
    for name in ("version_one", "version_two"):
        (tmp_path / f"{name}.py").write_text(VERSION_LOCATION.format(name=name))
    python_one, python_two = make_venv(tmp_path, "1.0"), make_venv(tmp_path, "2.0")
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(textwrap.dedent(f"""\
        load_from:
          - python_file: {{relative_path: version_one.py, location_name: one, executable_path: {python_one}}}
          - python_file: {{relative_path: version_two.py, location_name: two, executable_path: {python_two}}}
        """))
    home = tmp_path / "home"
    with LocalApi(workspace, home) as api:
        assert [s.status for s in api.manager.locations()] == [LocationStatus.LOADED] * 2, api.manager.locations()
        runs = [api.launch(location="one", asset_selection="*"), api.launch(location="two", asset_selection="*")]
        for run_id in runs:
            body = api.wait_run(run_id)
            assert body["run"]["status"] == "SUCCESS", body["events"]
    assert stored_value(home, "version_one") == "1.0"
    assert stored_value(home, "version_two") == "2.0"


LINEAGE = '''
import os
from locus import Definitions, asset


def _ancestors():
    pids, pid = [], os.getpid()
    while pid > 1 and len(pids) < 8:
        pids.append(pid)
        with open(f"/proc/{pid}/stat") as stat:
            pid = int(stat.read().rsplit(")", 1)[1].split()[1])
    return pids


@asset
def lineage():
    return _ancestors()


defs = Definitions(assets=[lineage])
'''


@pytest.fixture
def remote_server(tmp_path: Path) -> Iterator[tuple[int, Path, list[subprocess.Popen[bytes]]]]:
    """A `locus api grpc` started by the test (the workspace only connects to it)."""
    (tmp_path / "remote.py").write_text(LINEAGE)
    port = free_port()
    started: list[subprocess.Popen[bytes]] = []
    yield port, tmp_path / "remote.py", started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def start_remote(path: Path, port: int, home: Path, started: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "locus.cli.main", "api", "grpc", "--python-file", str(path),
         "--location-name", "remote", "--host", "127.0.0.1", "--port", str(port)],
        env=locus_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    started.append(proc)
    return proc


@pytest.mark.slow
def test_a_grpc_server_entry_loads_runs_in_that_server_and_follows_its_restarts(
    tmp_path: Path, remote_server: tuple[int, Path, list[subprocess.Popen[bytes]]]
) -> None:
    port, code, started = remote_server
    home = tmp_path / "home"
    server = start_remote(code, port, home, started)
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(f"load_from:\n  - grpc_server: {{host: 127.0.0.1, port: {port}, location_name: remote,"
                         f" health_interval_seconds: 0.2}}\n")
    with LocalApi(workspace, home, settle=False) as api:
        manager = api.manager
        wait_until(lambda: manager.get("remote").status == LocationStatus.LOADED, 30, "remote LOADED")
        first = manager.get("remote")
        assert first.pid == server.pid and first.endpoint == f"127.0.0.1:{port}"

        body = api.wait_run(api.launch(location="remote", asset_selection="*"))
        assert body["run"]["status"] == "SUCCESS", body["events"]
        assert server.pid in stored_value(home, "lineage")  # the run ran under that server

        # The server restarts with changed code: the manager notices the new server id and re-fetches.
        server.send_signal(signal.SIGTERM)
        server.wait(15)
        wait_until(lambda: manager.get("remote").status == LocationStatus.UNREACHABLE, 20, "remote UNREACHABLE")
        code.write_text(code.read_text().replace("defs = Definitions(assets=[lineage])",
                                                 "@asset\ndef extra():\n    return 1\n\n\n"
                                                 "defs = Definitions(assets=[lineage, extra])"))
        restarted = start_remote(code, port, home, started)
        wait_until(lambda: manager.get("remote").server_id not in (None, first.server_id)
                   and manager.get("remote").status == LocationStatus.LOADED, 30, "the restarted remote")
        again = manager.get("remote")
        assert again.pid == restarted.pid and again.counts["assets"] == 2
        assert again.snapshot_id != first.snapshot_id
    assert restarted.poll() is None  # stopping the workspace leaves a server it did not start alone


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"

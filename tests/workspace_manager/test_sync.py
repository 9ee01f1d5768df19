"""``WorkspaceManager.sync``: changing the locations of a running manager
(new ones start, removed ones stop, changed ones restart, the others are left
alone), and ``owns_registry=False``: a manager that never writes the registry."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from dev.localmode import free_port, wait_until
from locus.instance.instance import LocusInstance
from locus.storage.records import LocationRecord, LocationStatus
from locus.workspace.config import Workspace, parse_workspace
from locus.workspace.manager import LocationNotFound, WorkspaceChanges, WorkspaceManager

LOCATION = textwrap.dedent('''
    from locus import Definitions, asset


    @asset
    def first():
        return 1


    @asset
    def second():
        return 2


    defs = Definitions(assets=[first])
    both = Definitions(assets=[first, second])
''')
FOREIGN = LocationRecord("operator_owned", LocationStatus.LOADED, image="img:1", endpoint="10.0.0.9:4000",
                         snapshot_id="s1", counts={"assets": 3}, updated_at=1234.5)


def workspace(folder: Path, *entries: str) -> Workspace:
    text = "load_from:\n" + "".join(f"  - {entry}\n" for entry in entries)
    return parse_workspace(text, folder / "workspace.yaml")


def python_file(name: str, attribute: str = "defs") -> str:
    return f"python_file: {{relative_path: loc.py, location_name: {name}, attribute: {attribute}}}"


def unreachable(name: str, port: int) -> str:
    return f"grpc_server: {{host: 127.0.0.1, port: {port}, location_name: {name}, health_interval_seconds: 0.2}}"


@pytest.fixture
def instance(tmp_path: Path) -> LocusInstance:
    (tmp_path / "loc.py").write_text(LOCATION)
    return LocusInstance.for_url(f"sqlite:///{tmp_path / 'locus.db'}", tmp_path / "home")


def test_sync_before_start_only_changes_what_start_will_start(tmp_path: Path, instance: LocusInstance) -> None:
    manager = WorkspaceManager(workspace(tmp_path, python_file("a")), instance)
    assert manager.sync(workspace(tmp_path, python_file("a"), python_file("b"))) == WorkspaceChanges(added=("b",))
    assert manager.sync(workspace(tmp_path, python_file("a"), python_file("b"))) == WorkspaceChanges()
    assert not manager.sync(workspace(tmp_path, python_file("b"), python_file("a")))  # moved lines: no change
    changes = manager.sync(workspace(tmp_path, python_file("b", "both")))
    assert changes == WorkspaceChanges(removed=("a",), changed=("b",))
    assert manager.names == ("b",)
    with pytest.raises(LocationNotFound):
        manager.get("a")
    manager.stop()
    assert instance.storage.get_locations() == []  # nothing started, nothing recorded
    instance.dispose()


@pytest.mark.slow
def test_sync_starts_new_stops_removed_and_restarts_changed_locations(tmp_path: Path, instance: LocusInstance) -> None:
    manager = WorkspaceManager(workspace(tmp_path, python_file("a"), python_file("b")), instance)
    with manager:
        assert manager.wait_until_settled(60)
        a, b = manager.get("a"), manager.get("b")
        assert a.is_loaded and b.is_loaded and b.counts["assets"] == 1
        a_server = (a.pid, a.server_id, a.snapshot_id)

        changes = manager.sync(workspace(tmp_path, python_file("a"), python_file("b", "both"), python_file("c")))
        assert changes == WorkspaceChanges(added=("c",), changed=("b",))
        assert manager.names == ("a", "b", "c")
        assert manager.wait_until_settled(60)
        a = manager.get("a")
        assert (a.pid, a.server_id, a.snapshot_id) == a_server  # untouched: the same server
        b2 = manager.get("b")
        assert b2.is_loaded and b2.pid != b.pid and b2.counts["assets"] == 2
        assert manager.get("c").is_loaded
        assert not _alive(b.pid)  # the old server of b is gone

        c_pid = manager.get("c").pid
        changes = manager.sync(workspace(tmp_path, python_file("a")))
        assert changes == WorkspaceChanges(removed=("b", "c"))
        assert list(manager.names) == ["a"] and manager.get("a").pid == a.pid
        for name in ("b", "c"):
            with pytest.raises(LocationNotFound):
                manager.client(name)
        assert not _alive(b2.pid) and not _alive(c_pid)
        # The manager owns the registry here: the removed locations left it.
        assert [r.name for r in instance.storage.get_locations()] == ["a"]
    instance.dispose()


def test_a_manager_that_does_not_own_the_registry_never_writes_it(tmp_path: Path, instance: LocusInstance) -> None:
    instance.storage.upsert_location(FOREIGN)
    port = free_port()  # nothing listens there: the location settles UNREACHABLE at once
    manager = WorkspaceManager(workspace(tmp_path, unreachable("x", port)), instance, owns_registry=False)
    with manager:
        assert manager.wait_until_settled(30)
        assert manager.get("x").status == LocationStatus.UNREACHABLE
        assert manager.sync(workspace(tmp_path, unreachable("x", port), unreachable("y", port))).added == ("y",)
        assert manager.wait_until_settled(30)
        assert manager.sync(workspace(tmp_path, unreachable("y", free_port()))) == WorkspaceChanges(
            removed=("x",), changed=("y",)
        )
        assert manager.wait_until_settled(30)
        assert instance.storage.get_locations() == [FOREIGN]
    assert instance.storage.get_locations() == [FOREIGN]

    # The same with a manager that owns the registry: it removes the row it
    # does not know and records its own location.
    with WorkspaceManager(workspace(tmp_path, unreachable("x", port)), instance) as owner:
        assert owner.wait_until_settled(30)
        wait_until(lambda: [r.status for r in instance.storage.get_locations()] == [LocationStatus.UNREACHABLE],
                   10, "x recorded UNREACHABLE")
        assert [r.name for r in instance.storage.get_locations()] == ["x"]
    instance.dispose()


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"

"""Pure parts of supervising code servers: the command a location starts
with, where it listens and logs, restart backoff, per-location settings."""

from __future__ import annotations

import sys
from pathlib import Path

from locus.workspace.config import parse_workspace
from locus.workspace.process import log_path, server_command, socket_path
from locus.workspace.settings import LocationSettings


def workspace_in(tmp_path: Path, text: str) -> Path:
    (tmp_path / "defs.py").write_text("")
    path = tmp_path / "workspace.yaml"
    path.write_text(text)
    return path


def test_a_python_file_location_starts_locus_api_grpc_on_a_socket(tmp_path: Path) -> None:
    path = workspace_in(tmp_path, "load_from:\n  - python_file: {relative_path: defs.py, attribute: defs}\n")
    (entry,) = parse_workspace(path.read_text(), path).entries
    sock = socket_path(tmp_path / "home", entry.name)
    command = server_command(entry, sock)
    assert command[:5] == [sys.executable, "-m", "locus.cli.main", "api", "grpc"]
    assert command[command.index("--python-file") + 1] == str(tmp_path / "defs.py")
    assert command[command.index("--attribute") + 1] == "defs"
    assert command[command.index("--location-name") + 1] == "defs.py:defs"
    assert command[-5:] == ["--host", "127.0.0.1", "--socket", str(sock), "--exit-with-parent"]
    assert log_path(tmp_path, "defs.py:defs").parent == tmp_path / "logs" / "codeservers"


def test_executable_path_and_module_entries(tmp_path: Path) -> None:
    path = workspace_in(tmp_path, "load_from:\n  - python_module: {module_name: pkg.defs, "
                                  "executable_path: venv/bin/python, working_directory: .}\n")
    (entry,) = parse_workspace(path.read_text(), path).entries
    command = server_command(entry, tmp_path / "s.sock")
    assert command[0] == str(tmp_path / "venv" / "bin" / "python")
    assert command[command.index("--module-name") + 1] == "pkg.defs"
    assert command[command.index("--working-directory") + 1] == str(tmp_path)


def test_socket_paths_are_short_enough_and_distinct_for_odd_names(tmp_path: Path) -> None:
    deep = tmp_path.joinpath(*["a_rather_long_folder_name"] * 6)
    first, second = socket_path(deep, "grpc:localhost:4000"), socket_path(deep, "grpc/localhost/4000")
    assert first != second
    for sock in (first, second):
        assert len(str(sock)) <= 100 and sock.suffix == ".sock" and ":" not in sock.name
    assert socket_path(Path("/tmp/h"), "sales") == Path("/tmp/h/sockets/sales.sock")


def test_backoff_doubles_up_to_the_maximum() -> None:
    settings = LocationSettings(restart_backoff_initial=0.5, restart_backoff_max=3)
    assert [settings.backoff(n) for n in range(0, 6)] == [0.0, 0.5, 1.0, 2.0, 3.0, 3.0]


def test_workspace_entries_may_override_the_supervision_settings(tmp_path: Path) -> None:
    path = workspace_in(tmp_path, "load_from:\n"
                                  "  - python_file: {relative_path: defs.py, startup_timeout_seconds: 5,"
                                  " health_interval_seconds: 0.25}\n"
                                  "  - grpc_server: {port: 4000, location_name: remote, rpc_timeout_seconds: '7'}\n")
    local, remote = parse_workspace(path.read_text(), path).entries
    base = LocationSettings(rpc_timeout_seconds=11)
    assert base.for_entry(local) == LocationSettings(startup_timeout_seconds=5, rpc_timeout_seconds=11,
                                                     health_interval_seconds=0.25)
    assert base.for_entry(remote).rpc_timeout_seconds == 7


def test_a_bad_setting_value_names_the_key(tmp_path: Path) -> None:
    import pytest

    from locus.workspace.config import WorkspaceConfigError

    path = workspace_in(tmp_path, "load_from:\n  - python_file: {relative_path: defs.py, "
                                  "startup_timeout_seconds: soon}\n")
    with pytest.raises(WorkspaceConfigError, match="startup_timeout_seconds' must be a positive number"):
        parse_workspace(path.read_text(), path)

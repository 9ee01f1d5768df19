"""workspace.yaml: Dagster's entry kinds and default location names, paths
read from the file's folder, {env: NAME} values, and errors that name the
file, the line, the entry, the key and the fix."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from locus.definitions.errors import LocusError
from locus.execution.code_pointer import CodePointer
from locus.workspace.config import (
    LocationEntry,
    Workspace,
    WorkspaceConfigError,
    load_workspace,
    load_workspaces,
    merge_workspaces,
    parse_workspace,
)

SHARED_DEPARTMENTS = Path("/work/shared/examples/departments/workspace.yaml")

# The departments example's workspace.yaml, inline so the test runs where the
# shared folder is absent.
DEPARTMENTS = """\
load_from:
  - python_file:
      relative_path: sales_code_location.py
      location_name: sales
  - python_file:
      relative_path: marketing_code_location.py
      location_name: marketing
      attribute: marketing_defs
  - python_file: inventory_code_location.py
"""
DEPARTMENT_FILES = ("sales_code_location.py", "marketing_code_location.py", "inventory_code_location.py")


def write(folder: Path, text: str, name: str = "workspace.yaml", files: tuple[str, ...] = ()) -> Path:
    """A workspace file in ``folder``, plus empty python files it may point at."""
    folder.mkdir(parents=True, exist_ok=True)
    for file in files:
        (folder / file).parent.mkdir(parents=True, exist_ok=True)
        (folder / file).write_text("")
    path = folder / name
    path.write_text(text)
    return path


def error_for(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> WorkspaceConfigError:
    path = write(tmp_path, text, files=("defs.py",))
    with pytest.raises(WorkspaceConfigError) as info:
        load_workspace(path, environ={} if environ is None else environ)
    return info.value


# --- the departments sample -------------------------------------------------------------------------


def check_departments(workspace: Workspace, folder: Path) -> None:
    assert workspace.names == ("sales", "marketing", "inventory_code_location.py")
    sales, marketing, inventory = workspace.entries
    assert [e.kind for e in workspace.entries] == ["python_file"] * 3
    assert [e.line for e in workspace.entries] == [2, 5, 9]
    assert sales.pointer == CodePointer(
        python_file=str(folder / "sales_code_location.py"), working_directory=str(folder)
    )
    assert marketing.pointer is not None and marketing.pointer.attribute == "marketing_defs"
    assert inventory.pointer is not None and inventory.pointer.python_file == str(folder / DEPARTMENT_FILES[2])
    assert workspace.get("marketing") is marketing
    assert workspace.get("finance") is None


def test_departments_sample_inline(tmp_path: Path) -> None:
    path = write(tmp_path, DEPARTMENTS, files=DEPARTMENT_FILES)
    workspace = load_workspace(path)
    check_departments(workspace, tmp_path)
    assert workspace.path == path


@pytest.mark.skipif(not SHARED_DEPARTMENTS.exists(), reason="the shared examples folder is absent (CI)")
def test_departments_sample_from_shared_examples() -> None:
    assert SHARED_DEPARTMENTS.read_text() == DEPARTMENTS
    check_departments(load_workspace(SHARED_DEPARTMENTS), SHARED_DEPARTMENTS.parent)


# --- entry kinds, string and map forms, default names ----------------------------------------------


def test_string_forms_of_each_python_kind(tmp_path: Path) -> None:
    text = "load_from:\n  - python_file: defs.py\n  - python_module: my_project.defs\n  - python_package: my_project\n"
    workspace = load_workspace(write(tmp_path, text, files=("defs.py",)))
    file, module, package = workspace.entries
    assert (file.name, file.kind) == ("defs.py", "python_file")
    assert file.pointer == CodePointer(python_file=str(tmp_path / "defs.py"), working_directory=str(tmp_path))
    assert (module.name, module.kind) == ("my_project.defs", "python_module")
    assert module.pointer == CodePointer(module_name="my_project.defs")
    assert (package.name, package.kind) == ("my_project", "python_package")
    assert package.pointer == CodePointer(package_name="my_project")
    assert all(e.executable_path is None and e.source == str(tmp_path / "workspace.yaml") for e in workspace.entries)


def test_map_forms_with_every_key(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    text = """\
load_from:
  - python_file:
      relative_path: defs.py
      attribute: defs
      working_directory: src
      location_name: files
      executable_path: venvs/a/bin/python
  - python_module:
      module_name: my_project.defs
      attribute: build_defs
      working_directory: src
      executable_path: python3.11
  - python_package:
      package_name: my_project
      working_directory: .
"""
    file, module, package = load_workspace(write(tmp_path, text, files=("defs.py",))).entries
    assert file.name == "files"
    assert file.pointer == CodePointer(
        python_file=str(tmp_path / "defs.py"), attribute="defs", working_directory=str(tmp_path / "src")
    )
    assert file.executable_path == str(tmp_path / "venvs/a/bin/python")
    assert module.name == "my_project.defs:build_defs"
    assert module.pointer == CodePointer(
        module_name="my_project.defs", attribute="build_defs", working_directory=str(tmp_path / "src")
    )
    assert module.executable_path == "python3.11"  # no slash: found on PATH, left as written
    assert package.name == "my_project"
    assert package.pointer == CodePointer(package_name="my_project", working_directory=str(tmp_path))


@pytest.mark.parametrize(
    ("entry", "name"),
    [
        ("python_file: {relative_path: defs.py, attribute: defs}", "defs.py:defs"),
        ("python_module: {module_name: a.b, attribute: defs}", "a.b:defs"),
        ("python_package: {package_name: a, attribute: defs}", "a:defs"),
        ("python_package: {package_name: a, attribute: defs, location_name: mine}", "mine"),
    ],
)
def test_default_names_append_the_attribute(tmp_path: Path, entry: str, name: str) -> None:
    workspace = load_workspace(write(tmp_path, f"load_from:\n  - {entry}\n", files=("defs.py",)))
    assert workspace.names == (name,)


def test_grpc_server_entries_and_names(tmp_path: Path) -> None:
    text = """\
load_from:
  - grpc_server: {port: 4266}
  - grpc_server: {host: code.internal, port: 4000}
  - grpc_server: {socket: run/code.sock}
  - grpc_server: {host: other, port: 4000, location_name: reports}
"""
    local, remote, socket, named = load_workspace(write(tmp_path, text)).entries
    assert (local.name, local.host, local.port, local.socket) == ("grpc:localhost:4266", "localhost", 4266, None)
    assert (remote.name, remote.host, remote.port) == ("grpc:code.internal:4000", "code.internal", 4000)
    sock = str(tmp_path / "run" / "code.sock")
    assert (socket.name, socket.socket, socket.port) == (f"grpc:localhost:{sock}", sock, None)
    assert named.name == "reports"
    assert all(e.kind == "grpc_server" and e.pointer is None for e in (local, remote, socket, named))
    assert [e.line for e in (local, remote, socket, named)] == [2, 3, 4, 5]


# --- paths and environment values --------------------------------------------------------------------


def test_paths_are_read_from_the_workspace_files_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    text = "load_from:\n  - python_file: {relative_path: pipelines/defs.py, working_directory: ..}\n"
    path = write(project, text, files=("pipelines/defs.py",))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    (entry,) = load_workspace(os.path.relpath(path)).entries
    assert entry.pointer == CodePointer(
        python_file=str(project / "pipelines" / "defs.py"), working_directory=str(tmp_path)
    )
    assert entry.name == "defs.py"


def test_python_file_without_working_directory_runs_in_its_folder(tmp_path: Path) -> None:
    path = write(tmp_path, "load_from:\n  - python_file: pipelines/defs.py\n", files=("pipelines/defs.py",))
    (entry,) = load_workspace(path).entries
    assert entry.pointer is not None and entry.pointer.working_directory == str(tmp_path / "pipelines")


def test_env_values_are_read_from_the_environment(tmp_path: Path) -> None:
    text = """\
load_from:
  - python_module:
      module_name: {env: DEFS_MODULE}
      location_name: {env: LOCATION}
  - python_file: {env: DEFS_FILE}
  - grpc_server: {host: {env: CODE_HOST}, port: {env: CODE_PORT}}
"""
    environ = {"DEFS_MODULE": "team.defs", "LOCATION": "team", "DEFS_FILE": "defs.py",
               "CODE_HOST": "code", "CODE_PORT": "4000"}
    module, file, grpc = load_workspace(write(tmp_path, text, files=("defs.py",)), environ=environ).entries
    assert module.pointer == CodePointer(module_name="team.defs")
    assert module.name == "team"
    assert file.pointer is not None and file.pointer.python_file == str(tmp_path / "defs.py")
    assert (grpc.name, grpc.port) == ("grpc:code:4000", 4000)


def test_env_values_default_to_the_process_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCUS_TEST_MODULE", "from_env")
    workspace = parse_workspace("load_from:\n  - python_module: {env: LOCUS_TEST_MODULE}\n", tmp_path / "w.yaml")
    assert workspace.names == ("from_env",)


# --- errors: file, line, entry, key and fix ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "fragments"),
    [
        pytest.param("load_from:\n  - python_file: defs.py\n   bad: [\n", 3,
                     ["not valid YAML", "fix the YAML syntax on line 3"], id="yaml-syntax"),
        pytest.param("", 1, ["empty", "load_from:"], id="empty-file"),
        pytest.param("- python_file: defs.py\n", 1, ["top level must be a map", "load_from:"], id="top-level-list"),
        pytest.param("# nothing yet\nload_from:\n", 2, ["load_from must be a list"], id="load-from-empty"),
        pytest.param("load_from: defs.py\n", 1, ["load_from must be a list"], id="load-from-not-list"),
        pytest.param("load_from:\n  - python_file: defs.py\nload_frm: []\n", 3,
                     ["unknown top-level key 'load_frm'", "did you mean 'load_from'?"], id="unknown-top-key"),
        pytest.param("version: 1\n", 1, ["unknown top-level key 'version'", "only top-level key is load_from"],
                     id="top-key-without-load-from"),
        pytest.param("load_from:\n  - python_file: defs.py\n  - python_modul: a.b\n", 3,
                     ["entry #2", "unknown kind 'python_modul'", "did you mean 'python_module'?", "grpc_server"],
                     id="unknown-kind"),
        pytest.param("load_from:\n  - defs.py\n", 2, ["entry #1", "must be a map", "- python_file: defs.py"],
                     id="entry-not-map"),
        pytest.param("load_from:\n  - python_file: defs.py\n    location_name: x\n", 2,
                     ["entry #1", "exactly one kind", "python_file: {relative_path: ..., location_name: ...}"],
                     id="misindented-keys"),
        pytest.param("load_from:\n  - python_file:\n      relative_pth: defs.py\n", 3,
                     ["entry #1 (python_file)", "unknown key 'relative_pth'", "did you mean 'relative_path'?",
                      "valid keys for python_file: relative_path, attribute, working_directory, location_name,"
                      " executable_path"], id="unknown-key"),
        pytest.param("load_from:\n  - grpc_server: {port: 4000, sockett: x}\n", 2,
                     ["unknown key 'sockett'", "did you mean 'socket'?"], id="unknown-grpc-key"),
        pytest.param("load_from:\n  - python_module:\n      attribute: defs\n", 2,
                     ["(python_module)", "missing key 'module_name'", "add `module_name: ...`"],
                     id="missing-target"),
        pytest.param("load_from:\n  - python_file:\n", 2,
                     ["key 'python_file' has no value", "python_file: <relative_path>"], id="null-entry"),
        pytest.param("load_from:\n  - python_file: [a.py, b.py]\n", 2,
                     ["key 'python_file' must be a map or a string"], id="list-entry"),
        pytest.param("load_from:\n  - grpc_server: localhost:4000\n", 2,
                     ["key 'grpc_server' must be a map", "grpc_server: {host: ..., port: ...}"], id="grpc-string"),
        pytest.param("load_from:\n  - grpc_server:\n      port: 4000\n      socket: s.sock\n", 2,
                     ["(grpc_server)", "gives both port and socket", "exactly one of `port"], id="port-and-socket"),
        pytest.param("load_from:\n  - grpc_server: {host: code}\n", 2,
                     ["needs a port or a socket", "exactly one of `port"], id="neither-port-nor-socket"),
        pytest.param('load_from:\n  - grpc_server:\n      host: code\n      port: "abc"\n', 4,
                     ["key 'port' must be a port number from 1 to 65535, got 'abc'", "port: 4000"],
                     id="port-not-a-number"),
        pytest.param("load_from:\n  - grpc_server: {port: 70000}\n", 2, ["from 1 to 65535, got 70000"],
                     id="port-out-of-range"),
        pytest.param("load_from:\n  - python_module: {module_name: a, location_name: 2024}\n", 2,
                     ["key 'location_name' must be a string, got an integer (2024)", 'location_name: "2024"'],
                     id="wrong-type"),
        pytest.param("load_from:\n  - python_module:\n      module_name: a\n      attribute: [x]\n", 4,
                     ["key 'attribute' must be a single value, got a list"], id="list-value"),
        pytest.param("load_from:\n  - python_module: my-project.defs\n", 2,
                     ["'my-project.defs' is not a Python name", "letters, digits and _"], id="bad-module-name"),
        pytest.param("load_from:\n  - python_module: {module_name: a, module_name: b}\n", 2,
                     ["key 'module_name' appears twice", "keep one of them"], id="duplicate-key"),
        pytest.param("load_from:\n  - python_file: defs.py\n  - python_file: missing.py\n", 3,
                     ["entry #2 (python_file)", "no such file", "missing.py", "relative paths start from"],
                     id="python-file-missing"),
        pytest.param("load_from:\n  - python_file: {relative_path: defs.py, working_directory: nowhere}\n", 2,
                     ["key 'working_directory': no such folder", "nowhere", "fix the path or create the folder"],
                     id="working-directory-missing"),
        pytest.param("load_from:\n  - python_module:\n      module_name: {env: DEFS_MODULE}\n", 3,
                     ["entry #1 (python_module)", "key 'module_name'", "environment variable DEFS_MODULE is not set",
                      "export DEFS_MODULE=..."], id="env-missing"),
        pytest.param("load_from:\n  - python_module: {module_name: {env: [A]}}\n", 2,
                     ["env needs the name of an environment variable", "{env: NAME}"], id="env-malformed"),
    ],
)
def test_errors_name_the_file_line_key_and_fix(tmp_path: Path, text: str, line: int, fragments: list[str]) -> None:
    error = error_for(tmp_path, text)
    source = str(tmp_path / "workspace.yaml")
    assert str(error).startswith(f"{source}:{line}: ")
    assert (error.source, error.line) == (source, line)
    assert error.hint, "every error says how to fix it"
    assert "\n  fix: " in str(error)
    for fragment in fragments:
        assert fragment in str(error)
    assert isinstance(error, LocusError)  # printed by the CLI without a traceback


def test_duplicate_location_names_name_both_entries(tmp_path: Path) -> None:
    text = """\
load_from:
  - python_file: defs.py
  - python_module:
      module_name: team.defs
      location_name: team
  - python_package:
      package_name: other
      location_name: team
"""
    error = error_for(tmp_path, text)
    source = str(tmp_path / "workspace.yaml")
    assert str(error).startswith(f"{source}:6: two code locations are named 'team'")
    assert f"the python_module entry at {source}:3" in str(error)
    assert f"the python_package entry at {source}:6" in str(error)
    assert "set a different location_name" in str(error)


def test_default_names_can_clash_too(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "defs.py").write_text("")
    error = error_for(tmp_path, "load_from:\n  - python_file: defs.py\n  - python_file: b/defs.py\n")
    assert "two code locations are named 'defs.py'" in str(error)
    assert ":2 and the python_file entry at " in str(error)


def test_missing_or_folder_workspace_file(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceConfigError, match="no such workspace file") as info:
        load_workspace(tmp_path / "workspace.yaml")
    assert "-w" in str(info.value)
    with pytest.raises(WorkspaceConfigError, match="is a folder") as info:
        load_workspace(tmp_path)
    assert str(tmp_path / "workspace.yaml") in str(info.value)


# --- several files and command-line targets ----------------------------------------------------------


def test_several_workspace_files_combine(tmp_path: Path) -> None:
    first = write(tmp_path / "a", "load_from:\n  - python_module: team_a.defs\n")
    second = write(tmp_path / "b", "load_from:\n  - python_file: defs.py\n", files=("defs.py",))
    workspace = load_workspaces([first, second])
    assert workspace.names == ("team_a.defs", "defs.py")
    assert workspace.entries[1].pointer == CodePointer(
        python_file=str(tmp_path / "b" / "defs.py"), working_directory=str(tmp_path / "b")
    )
    assert workspace.path is None
    assert load_workspaces([first]).path == first
    with pytest.raises(WorkspaceConfigError, match=r"two code locations are named 'team_a\.defs'"):
        load_workspaces([first, first])


def test_duplicate_names_across_files_name_both_files(tmp_path: Path) -> None:
    first = write(tmp_path / "a", "load_from:\n  - python_module: shared.defs\n")
    second = write(tmp_path / "b", "load_from:\n  - grpc_server: {port: 4000}\n"
                                   "  - python_package: {package_name: p, location_name: shared.defs}\n")
    with pytest.raises(WorkspaceConfigError) as info:
        load_workspaces([first, second])
    message = str(info.value)
    assert message.startswith(f"{second}:3: two code locations are named 'shared.defs'")
    assert f"the python_module entry at {first}:2" in message
    assert f"the python_package entry at {second}:3" in message


def test_command_line_targets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    file = LocationEntry.from_target(CodePointer(python_file="defs.py", attribute="defs"))
    assert (file.name, file.kind, file.line, file.source) == ("defs.py:defs", "python_file", 0, None)
    assert file.pointer is not None and file.pointer.python_file == str(tmp_path / "defs.py")
    module = LocationEntry.from_target(CodePointer(module_name="a.b"), executable_path="/venv/bin/python")
    assert (module.name, module.kind, module.executable_path) == ("a.b", "python_module", "/venv/bin/python")
    package = LocationEntry.from_target(CodePointer(package_name="a"))
    assert (package.name, package.kind) == ("a", "python_package")


def test_command_line_targets_clash_with_workspace_entries(tmp_path: Path) -> None:
    path = write(tmp_path, "load_from:\n  - python_module: a.b\n")
    targets = Workspace((LocationEntry.from_target(CodePointer(module_name="a.b")),))
    with pytest.raises(WorkspaceConfigError) as info:
        merge_workspaces(load_workspace(path), targets)
    message = str(info.value)
    assert f"the python_module entry at {path}:2" in message
    assert "the -m target (module a.b) on the command line" in message
    with pytest.raises(WorkspaceConfigError, match="the -f target"):
        Workspace(tuple(LocationEntry.from_target(CodePointer(python_file="x/defs.py")) for _ in range(2)))

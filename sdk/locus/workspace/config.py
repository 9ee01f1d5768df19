"""``workspace.yaml``: the code locations a workspace loads, with the keys and
default names Dagster users already know.

Every entry under ``load_from:`` becomes a :class:`LocationEntry` whose paths
are absolute (relative ones are read from the yaml file's folder), so the
entries can be handed to other processes as they are. Any value may be
``{env: NAME}``. Every problem is one :class:`WorkspaceConfigError` naming the
file, the line, the entry, the key and the fix.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

from locus.execution.code_pointer import CodePointer
from locus.workspace.errors import WorkspaceConfigError
from locus.workspace.yaml_nodes import Place, ValueReader, compose, did_you_mean, is_env_ref, mapping_items

__all__ = [
    "LocationEntry",
    "LocationKind",
    "Workspace",
    "WorkspaceConfigError",
    "load_workspace",
    "load_workspaces",
    "merge_workspaces",
    "parse_workspace",
]

LocationKind = Literal["python_file", "python_module", "python_package", "grpc_server"]

DEFAULT_GRPC_HOST = "localhost"
_TOP_LEVEL_KEYS = ("load_from",)
_TARGET_KEYS: dict[str, str] = {
    "python_file": "relative_path",
    "python_module": "module_name",
    "python_package": "package_name",
}
_PYTHON_KEYS = ("attribute", "working_directory", "location_name", "executable_path")
# Optional per-location supervision settings (seconds), read by the workspace
# manager; any entry kind may set them.
SETTING_KEYS = (
    "startup_timeout_seconds",
    "rpc_timeout_seconds",
    "health_interval_seconds",
    "restart_backoff_initial",
    "restart_backoff_max",
)
_VALID_KEYS: dict[str, tuple[str, ...]] = {
    **{kind: (target, *_PYTHON_KEYS, *SETTING_KEYS) for kind, target in _TARGET_KEYS.items()},
    "grpc_server": ("host", "port", "socket", "location_name", *SETTING_KEYS),
}
_CLI_FLAGS = {"python_file": "-f", "python_module": "-m", "python_package": "--package-name"}
_LOAD_FROM_EXAMPLE = "load_from:\n    - python_file: definitions.py\n    - python_module: my_project.defs"


@dataclass(frozen=True)
class LocationEntry:
    """One code location of a workspace: a Python target the workspace
    starts a code server for, or a gRPC server that is already running."""

    name: str
    kind: LocationKind
    pointer: CodePointer | None = None  # None for grpc_server
    executable_path: str | None = None
    host: str | None = None
    port: int | None = None
    socket: str | None = None
    line: int = 0  # 1-based line in ``source``; 0 for a command-line target
    source: str | None = None  # the workspace file, as given; None for a command-line target
    settings: tuple[tuple[str, float], ...] = ()  # (key, seconds) pairs among SETTING_KEYS

    @classmethod
    def from_target(cls, pointer: CodePointer, executable_path: str | None = None) -> LocationEntry:
        """The entry for a ``-f``/``-m``/``--package-name`` command-line target."""
        kind: LocationKind = "python_file" if pointer.python_file else "python_package"
        if pointer.module_name:
            kind = "python_module"
        return cls(pointer.default_location_name, kind, pointer.absolute(), executable_path)

    @property
    def origin(self) -> str:
        """Where the entry was declared, for messages."""
        if self.source is None:
            target = self.pointer.target if self.pointer else self.kind
            return f"the {_CLI_FLAGS.get(self.kind, self.kind)} target ({target}) on the command line"
        return f"the {self.kind} entry at {self.source}:{self.line}"


@dataclass(frozen=True)
class Workspace:
    """The code locations to load, with unique names. ``path`` is the
    workspace file, or None for a workspace merged from several sources."""

    entries: tuple[LocationEntry, ...]
    path: Path | None = None
    _by_name: dict[str, LocationEntry] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name: dict[str, LocationEntry] = {}
        for entry in self.entries:
            first = by_name.get(entry.name)
            if first is not None:
                place = f"{entry.source}:{entry.line}: " if entry.source else ""
                raise WorkspaceConfigError(
                    f"{place}two code locations are named '{entry.name}': {first.origin} and {entry.origin}",
                    "set a different location_name on one of them; names must be unique across "
                    "the whole workspace (every -w file and -f/-m target)",
                    source=entry.source, line=entry.line or None,
                )
            by_name[entry.name] = entry
        object.__setattr__(self, "_by_name", by_name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._by_name)

    def get(self, name: str) -> LocationEntry | None:
        return self._by_name.get(name)


def load_workspace(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> Workspace:
    """Read and check one workspace file."""
    source = os.fspath(path)
    if os.path.isdir(source):
        raise WorkspaceConfigError(f"{source}: is a folder, not a workspace file",
                                   f"pass {os.path.join(source, 'workspace.yaml')} instead", source=source)
    try:
        text = Path(source).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise WorkspaceConfigError(f"{source}: no such workspace file",
                                   "check the path given with -w/--workspace", source=source) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise WorkspaceConfigError(
            f"{source}: cannot read the workspace file: {exc}",
            "check the file's permissions and that it is UTF-8 text", source=source,
        ) from None
    return parse_workspace(text, source, environ)


def load_workspaces(
    paths: Iterable[str | os.PathLike[str]], environ: Mapping[str, str] | None = None
) -> Workspace:
    """Several ``-w`` files as one workspace; location names must be unique across them."""
    return merge_workspaces(*(load_workspace(path, environ) for path in paths))


def merge_workspaces(*workspaces: Workspace) -> Workspace:
    """One workspace with every entry, in order; a name used twice is an error."""
    path = workspaces[0].path if len(workspaces) == 1 else None
    return Workspace(tuple(entry for ws in workspaces for entry in ws.entries), path)


def parse_workspace(
    text: str, source_path: str | os.PathLike[str], environ: Mapping[str, str] | None = None
) -> Workspace:
    """Check ``text`` as the content of the workspace file at ``source_path``
    (whose folder relative paths start from)."""
    source = os.fspath(source_path)
    top = Place(source, 1, "")
    root = compose(text, source)
    if root is None:
        raise top.error("the workspace file is empty", f"list code locations:\n  {_LOAD_FROM_EXAMPLE}")
    if not isinstance(root, yaml.MappingNode):
        raise top.at(root).error("the top level must be a map with a load_from list",
                                 f"write:\n  {_LOAD_FROM_EXAMPLE}")
    items = mapping_items(root, top)
    for key, (key_node, _) in items.items():
        if key not in _TOP_LEVEL_KEYS:
            raise top.at(key_node).error(
                f"unknown top-level key '{key}'",
                f"{did_you_mean(key, _TOP_LEVEL_KEYS)}the only top-level key is load_from",
            )
    if "load_from" not in items:
        raise top.error("no load_from list", f"write:\n  {_LOAD_FROM_EXAMPLE}")
    key_node, list_node = items["load_from"]
    if not isinstance(list_node, yaml.SequenceNode) or not list_node.value:
        raise top.at(key_node).error("load_from must be a list of one or more code locations",
                                     f"write:\n  {_LOAD_FROM_EXAMPLE}")
    reader = _EntryReader(source, Path(os.path.abspath(source)).parent,
                          ValueReader(os.environ if environ is None else environ))
    entries = tuple(reader.entry(index, node) for index, node in enumerate(list_node.value, start=1))
    return Workspace(entries, Path(os.path.abspath(source)))


@dataclass
class _Values:
    """An entry's values, with the node and the key as written for each."""

    place: Place
    values: dict[str, str | int] = field(default_factory=dict)
    nodes: dict[str, yaml.Node] = field(default_factory=dict)
    written: dict[str, str] = field(default_factory=dict)
    settings: dict[str, float] = field(default_factory=dict)

    def text(self, key: str) -> str | None:
        value = self.values.get(key)
        assert value is None or isinstance(value, str)
        return value

    def error(self, key: str, problem: str, hint: str) -> WorkspaceConfigError:
        return self.place.at(self.nodes[key]).error(f"key '{self.written[key]}': {problem}", hint)


class _EntryReader:
    def __init__(self, source: str, base_dir: Path, reader: ValueReader) -> None:
        self.source = source
        self.base_dir = base_dir
        self.reader = reader

    def entry(self, index: int, node: yaml.Node) -> LocationEntry:
        place = Place(self.source, node.start_mark.line + 1, f"load_from entry #{index}")
        if not isinstance(node, yaml.MappingNode):
            written = node.value if isinstance(node, yaml.ScalarNode) and node.value else None
            example = "python_file: definitions.py"
            if written:
                example = f"python_file: {written}" if written.endswith(".py") else f"python_module: {written}"
            raise place.error("an entry must be a map naming its kind",
                              f"write `- {example}` (kinds: {', '.join(_VALID_KEYS)})")
        items = mapping_items(node, place)
        if len(items) != 1:
            raise place.error(f"an entry names exactly one kind, got the keys {', '.join(items)}",
                              _several_keys_hint(list(items)))
        ((kind, (key_node, value_node)),) = items.items()
        if kind not in _VALID_KEYS:
            raise place.at(key_node).error(
                f"unknown kind '{kind}'",
                f"{did_you_mean(kind, _VALID_KEYS)}use one of: {', '.join(_VALID_KEYS)}",
            )
        place = Place(self.source, place.line, f"load_from entry #{index} ({kind})")
        values = self._values(kind, value_node, place)
        if kind == "grpc_server":
            return self._grpc_entry(values)
        return self._python_entry(_python_kind(kind), values)

    def _values(self, kind: str, node: yaml.Node, place: Place) -> _Values:
        values = _Values(place)
        target = _TARGET_KEYS.get(kind)
        if target and (isinstance(node, yaml.ScalarNode) or is_env_ref(node)):
            if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null"):
                raise place.error(f"key '{kind}' has no value",
                                  f"write `{kind}: <{target}>`, or a map with {target} and other keys")
            values.values[target] = self.reader.string(kind, node, place)
            values.nodes[target], values.written[target] = node, kind
            return values
        if not isinstance(node, yaml.MappingNode):
            raise place.error(
                f"key '{kind}' must be a map{' or a string' if target else ''}",
                f"write `{kind}: {{{', '.join(f'{key}: ...' for key in _VALID_KEYS[kind][:2])}}}`",
            )
        for key, (key_node, value_node) in mapping_items(node, place).items():
            if key not in _VALID_KEYS[kind]:
                raise place.at(key_node).error(
                    f"unknown key '{key}'",
                    f"{did_you_mean(key, _VALID_KEYS[kind])}"
                    f"valid keys for {kind}: {', '.join(_VALID_KEYS[kind])}",
                )
            read = self.reader.port if key == "port" else self.reader.string
            if key in SETTING_KEYS:
                values.settings[key] = _seconds(self.reader, key, value_node, place)
            else:
                values.values[key] = read(key, value_node, place)
            values.nodes[key], values.written[key] = value_node, key
        if target and target not in values.values:
            raise place.error(f"missing key '{target}'", f"add `{target}: ...` under {kind}:")
        return values

    def _python_entry(self, kind: LocationKind, values: _Values) -> LocationEntry:
        target = _TARGET_KEYS[kind]
        name = values.text(target)
        assert name is not None
        attribute = values.text("attribute")
        for key, value in ((target, name), ("attribute", attribute)):
            if value is not None and key != "relative_path" and not _is_python_name(value, key):
                raise values.error(key, f"'{value}' is not a Python name",
                                   "use the name as Python imports it: letters, digits and _ "
                                   "(and dots between the parts of a module name)")
        working_directory = self._path(values.text("working_directory"))
        if working_directory is not None and not os.path.isdir(working_directory):
            raise values.error("working_directory", f"no such folder {working_directory}",
                               f"relative paths start from {self.base_dir}; "
                               "fix the path or create the folder")
        if kind == "python_file":
            python_file = self._path(name)
            assert python_file is not None
            if not os.path.isfile(python_file):
                problem = "is a folder" if os.path.isdir(python_file) else "no such file"
                raise values.error(target, f"{problem}: {python_file}",
                                   f"point {values.written[target]} at a .py file (relative paths start from "
                                   f"{self.base_dir}), or use python_package for a package folder")
            pointer = CodePointer(python_file=python_file, attribute=attribute,
                                  working_directory=working_directory or os.path.dirname(python_file))
        elif kind == "python_module":
            pointer = CodePointer(module_name=name, attribute=attribute, working_directory=working_directory)
        else:
            pointer = CodePointer(package_name=name, attribute=attribute, working_directory=working_directory)
        executable_path = values.text("executable_path")
        if executable_path is not None and "/" in executable_path:
            executable_path = self._path(executable_path)
        return LocationEntry(
            name=values.text("location_name") or pointer.default_location_name, kind=kind, pointer=pointer,
            executable_path=executable_path, line=values.place.line, source=self.source,
            settings=tuple(values.settings.items()),
        )

    def _grpc_entry(self, values: _Values) -> LocationEntry:
        port = values.values.get("port")
        assert port is None or isinstance(port, int)
        socket = self._path(values.text("socket"))
        if (port is None) == (socket is None):
            problem = "gives both port and socket" if port is not None else "needs a port or a socket"
            raise values.place.error(problem, "give exactly one of `port: 4266` and `socket: path/to/socket`")
        host = values.text("host") or DEFAULT_GRPC_HOST
        return LocationEntry(
            name=values.text("location_name") or f"grpc:{host}:{port if port is not None else socket}",
            kind="grpc_server", host=host, port=port, socket=socket,
            line=values.place.line, source=self.source, settings=tuple(values.settings.items()),
        )

    def _path(self, value: str | None) -> str | None:
        if value is None:
            return None
        return os.path.normpath(os.path.join(self.base_dir, os.path.expanduser(value)))


def _seconds(reader: ValueReader, key: str, node: yaml.Node, place: Place) -> float:
    value = reader.scalar(key, node, place)
    # Environment variables are strings; "2.5" is as good as 2.5.
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = float(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        shown = "nothing" if value is None else repr(value)
        raise place.at(node).error(f"key '{key}' must be a positive number of seconds, got {shown}",
                                   f"write e.g. `{key}: 30`")
    return float(value)


def _python_kind(kind: str) -> LocationKind:
    if kind == "python_file":
        return "python_file"
    return "python_module" if kind == "python_module" else "python_package"


def _is_python_name(value: str, key: str) -> bool:
    parts = [value] if key == "attribute" else value.split(".")
    return all(part.isidentifier() for part in parts)


def _several_keys_hint(keys: list[str]) -> str:
    kinds = [key for key in keys if key in _VALID_KEYS]
    if len(kinds) == 1:
        kind = kinds[0]
        others = [key for key in keys if key != kind]
        target = _TARGET_KEYS.get(kind)
        if all(key in _VALID_KEYS[kind] for key in others):
            inner = ", ".join(f"{key}: ..." for key in [*([target] if target else []), *others])
            return f"make {kind} a map holding these keys: `- {kind}: {{{inner}}}`, or indent them under it"
    return "start each code location with its own `- ` list item"

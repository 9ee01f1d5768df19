"""Reading YAML nodes with their line numbers: mappings without duplicate
keys, scalars with ``{env: NAME}`` resolved, and typed values whose errors
say where they are and how to fix them.

Works on ``yaml.compose`` nodes rather than ``safe_load`` output because
plain Python values forget which line they came from.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypeGuard

import yaml

from locus.workspace.errors import WorkspaceConfigError

ENV_KEY = "env"


def line_of(node: yaml.Node) -> int:
    """The 1-based line a node starts on."""
    return node.start_mark.line + 1


def closest(word: str, options: Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return matches[0] if matches else None


def did_you_mean(word: str, options: Iterable[str]) -> str:
    match = closest(word, options)
    return f"did you mean '{match}'? " if match else ""


def compose(text: str, source: str) -> yaml.Node | None:
    """The document's root node (None for an empty file), or a syntax error with its line."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = ": ".join(p for p in (exc.context, exc.problem) if p) or str(exc)
        place = f"{source}:{line}" if line else source
        raise WorkspaceConfigError(
            f"{place}: not valid YAML: {problem}",
            f"fix the YAML syntax on line {line} (check indentation, and a space after each ':')"
            if line else "fix the YAML syntax",
            source=source, line=line,
        ) from None
    except yaml.YAMLError as exc:
        raise WorkspaceConfigError(f"{source}: not valid YAML: {exc}", "fix the YAML syntax",
                                   source=source) from None


@dataclass(frozen=True)
class Place:
    """Where a value sits, for messages: file, line and what is being read
    there (``load_from entry #2 (python_file)``)."""

    source: str
    line: int
    what: str

    def at(self, node: yaml.Node) -> Place:
        return Place(self.source, line_of(node), self.what)

    def error(self, problem: str, hint: str) -> WorkspaceConfigError:
        prefix = f"{self.source}:{self.line}: {self.what}" if self.what else f"{self.source}:{self.line}"
        return WorkspaceConfigError(f"{prefix}: {problem}", hint, source=self.source, line=self.line)


def mapping_items(node: yaml.MappingNode, place: Place) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    """The mapping's string keys, each with its key node and value node."""
    items: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for key_node, value_node in node.value:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
        if not isinstance(key, str) or not key:
            raise place.at(key_node).error("every key must be a plain name",
                                           "write keys as `name: value`")
        if key in items:
            first = line_of(items[key][0])
            raise place.at(key_node).error(
                f"key '{key}' appears twice (lines {first} and {line_of(key_node)})",
                "keep one of them",
            )
        items[key] = (key_node, value_node)
    return items


def is_env_ref(node: yaml.Node) -> TypeGuard[yaml.MappingNode]:
    return (isinstance(node, yaml.MappingNode) and len(node.value) == 1
            and isinstance(node.value[0][0], yaml.ScalarNode) and node.value[0][0].value == ENV_KEY)


class ValueReader:
    """Turns value nodes into Python values, resolving ``{env: NAME}``."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        # A loader over an empty stream, used only for its scalar constructors
        # so that ints, bools and nulls follow YAML's own rules.
        self._constructor = yaml.SafeLoader("")

    def scalar(self, key: str, node: yaml.Node, place: Place) -> object:
        """The node's value: a YAML scalar, or the variable an ``{env: NAME}`` names."""
        place = place.at(node)
        if is_env_ref(node):
            return self._env(key, node, place)
        if not isinstance(node, yaml.ScalarNode):
            kind = "a list" if isinstance(node, yaml.SequenceNode) else "a map"
            raise place.error(f"key '{key}' must be a single value, got {kind}",
                              f"write `{key}: value` (or `{key}: {{env: NAME}}`)")
        try:
            return self._constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or str(exc)
            raise place.error(f"key '{key}': cannot read the value: {problem}",
                              f"write a plain value for {key}") from None

    def _env(self, key: str, node: yaml.MappingNode, place: Place) -> str:
        name_node = node.value[0][1]
        name = name_node.value if isinstance(name_node, yaml.ScalarNode) else None
        if not isinstance(name, str) or not name:
            raise place.error(f"key '{key}': env needs the name of an environment variable",
                              f"write `{key}: {{env: NAME}}`")
        if name not in self._environ:
            raise place.error(
                f"key '{key}': environment variable {name} is not set",
                f"export {name}=..., or write the value in place of {{env: {name}}}",
            )
        return self._environ[name]

    def string(self, key: str, node: yaml.Node, place: Place) -> str:
        value = self.scalar(key, node, place)
        place = place.at(node)
        if value is None:
            raise place.error(f"key '{key}' has no value", f"give {key} a value, or remove the line")
        if not isinstance(value, str):
            raise place.error(
                f"key '{key}' must be a string, got {_type_name(value)} ({value!r})",
                f'quote it: {key}: "{_plain(node, value)}"',
            )
        if not value.strip():
            raise place.error(f"key '{key}' is empty", f"give {key} a value, or remove the line")
        return value

    def port(self, key: str, node: yaml.Node, place: Place) -> int:
        value = self.scalar(key, node, place)
        # Environment variables are strings; "4000" is as good a port as 4000.
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
            shown = "nothing" if value is None else repr(value)
            raise place.at(node).error(f"key '{key}' must be a port number from 1 to 65535, got {shown}",
                                       f"write e.g. `{key}: 4000`")
        return value


def _type_name(value: object) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number"}
    return names.get(type(value), f"a {type(value).__name__}")


def _plain(node: yaml.Node, value: object) -> str:
    return node.value if isinstance(node, yaml.ScalarNode) and isinstance(node.value, str) else str(value)

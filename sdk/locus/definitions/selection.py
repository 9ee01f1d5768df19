"""AssetSelection: which assets a job or a materialisation covers, as
objects (``AssetSelection.groups("numbers").downstream()``) or as the
string form used on the CLI (``group:numbers``, ``key:a+``, ``+b and kind:python``)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from locus.definitions.asset_key import AssetKey, CoercibleToAssetKey
from locus.definitions.errors import SelectionError

if TYPE_CHECKING:
    from locus.definitions.asset_graph import KeyGraph


class AssetSelection:
    """Base of every selection; combine with ``|``, ``&`` and ``-``."""

    def resolve(self, graph: KeyGraph) -> set[AssetKey]:
        raise NotImplementedError

    def __or__(self, other: AssetSelection) -> AssetSelection:
        return _Or(self, other)

    def __and__(self, other: AssetSelection) -> AssetSelection:
        return _And(self, other)

    def __sub__(self, other: AssetSelection) -> AssetSelection:
        return _Sub(self, other)

    def upstream(self, depth: int | None = None, include_self: bool = True) -> AssetSelection:
        return _Traverse(self, "up", depth, include_self)

    def downstream(self, depth: int | None = None, include_self: bool = True) -> AssetSelection:
        return _Traverse(self, "down", depth, include_self)

    @staticmethod
    def all() -> AssetSelection:
        return _All()

    @staticmethod
    def groups(*group_names: str) -> AssetSelection:
        return _Groups(frozenset(group_names))

    @staticmethod
    def keys(*keys: CoercibleToAssetKey) -> AssetSelection:
        return _Keys(frozenset(AssetKey.from_coercible(k) for k in keys))

    @staticmethod
    def assets(*assets_defs: Any) -> AssetSelection:
        return _Keys(frozenset(a.key for a in assets_defs))

    @staticmethod
    def kind(kind: str) -> AssetSelection:
        return _Kind(kind)

    @staticmethod
    def tag(key: str, value: str | None = None) -> AssetSelection:
        return _Tag(key, value)

    @staticmethod
    def from_string(text: str) -> AssetSelection:
        return _Parser(text).parse()


@dataclass(frozen=True)
class _All(AssetSelection):
    def resolve(self, graph: KeyGraph) -> set[AssetKey]:
        return set(graph.keys)


@dataclass(frozen=True)
class _Groups(AssetSelection):
    names: frozenset[str]

    def resolve(self, graph: KeyGraph) -> set[AssetKey]:
        return {k for k, a in graph.by_key.items() if a.group_name in self.names}


@dataclass(frozen=True)
class _Keys(AssetSelection):
    selected: frozenset[AssetKey]

    def resolve(self, graph: KeyGraph) -> set[AssetKey]:
        missing = [k.to_user_string() for k in self.selected if k not in graph.by_key]
        if missing:
            known = ", ".join(sorted(k.to_user_string() for k in graph.keys)[:20])
            raise SelectionError(
                f"no asset with key {', '.join(sorted(missing))}",
                f"select one of the defined assets: {known}",
            )
        return set(self.selected)


@dataclass(frozen=True)
class _Kind(AssetSelection):
    name: str

    def resolve(self, graph: KeyGraph) -> set[AssetKey]:
        return {k for k, a in graph.by_key.items() if self.name in a.kinds}


@dataclass(frozen=True)
class _Tag(AssetSelection):
    key: str
    value: str | None

    def resolve(self, graph: KeyGraph) -> set[AssetKey]:
        return {
            k
            for k, a in graph.by_key.items()
            if self.key in a.tags and (self.value is None or a.tags[self.key] == self.value)
        }


@dataclass(frozen=True)
class _Or(AssetSelection):
    left: AssetSelection
    right: AssetSelection

    def resolve(self, graph: KeyGraph) -> set[AssetKey]:
        return self.left.resolve(graph) | self.right.resolve(graph)


@dataclass(frozen=True)
class _And(AssetSelection):
    left: AssetSelection
    right: AssetSelection

    def resolve(self, graph: KeyGraph) -> set[AssetKey]:
        return self.left.resolve(graph) & self.right.resolve(graph)


@dataclass(frozen=True)
class _Sub(AssetSelection):
    left: AssetSelection
    right: AssetSelection

    def resolve(self, graph: KeyGraph) -> set[AssetKey]:
        return self.left.resolve(graph) - self.right.resolve(graph)


@dataclass(frozen=True)
class _Traverse(AssetSelection):
    child: AssetSelection
    direction: str
    depth: int | None
    include_self: bool

    def resolve(self, graph: KeyGraph) -> set[AssetKey]:
        start = self.child.resolve(graph)
        walk = graph.with_upstream if self.direction == "up" else graph.with_downstream
        found = walk(start, self.depth)
        return found if self.include_self else found - start


def coerce_selection(value: Any) -> AssetSelection:
    """Accept what users pass as ``selection=``: a selection, a string, or a
    list of keys, key strings or asset definitions."""
    if isinstance(value, AssetSelection):
        return value
    if isinstance(value, str):
        return AssetSelection.from_string(value)
    if isinstance(value, Iterable):
        items = list(value)
        keys = [getattr(v, "key", v) for v in items]
        try:
            return AssetSelection.keys(*keys)
        except (TypeError, ValueError):
            pass
    raise SelectionError(
        f"selection {value!r} is not an AssetSelection, a selection string or a list of asset keys",
        'use AssetSelection.groups("numbers") or a string like "group:numbers"',
    )


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<lparen>\() | (?P<rparen>\)) |
        (?P<up>(?:\d+)?\+)(?=[\w(*"]) |
        (?P<attr>(?:key|group|kind|tag):(?:"[^"]*"|[^\s()+,]+)) |
        (?P<star>\*) | (?P<comma>,) |
        (?P<down>\+(?:\d+)?) |
        (?P<word>[\w./-]+|"[^"]*")
    )""",
    re.VERBOSE,
)
_DOWN = re.compile(r"\s*(?P<down>\+(?:\d+)?)")


class _Parser:
    """Recursive descent over: or / and / not, ``N+`` before and ``+N`` after
    a term, ``key:``, ``group:``, ``kind:``, ``tag:k=v``, ``*``, bare keys,
    and the older comma lists and ``*key`` / ``key*`` forms."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            match = _TOKEN.match(text, pos)
            if not match or match.end() == pos:
                at = len(text) - len(text[pos:].lstrip())
                raise self._error(f"unexpected character at position {at}: {text[at : at + 10]!r}")
            kind = match.lastgroup or ""
            if kind == "up" and match.group(kind) == "+" and self._ends_term():
                # After a term, "+2" is depth-2 downstream ("key:a+2"), not "+" before a term.
                match = _DOWN.match(text, pos)
                assert match is not None
                kind = "down"
            self.tokens.append((kind, match.group(kind)))
            pos = match.end()
        self.index = 0

    def _ends_term(self) -> bool:
        if not self.tokens:
            return False
        kind, value = self.tokens[-1]
        return kind in ("attr", "rparen") or (kind == "word" and value not in ("and", "or", "not"))

    def _error(self, message: str) -> SelectionError:
        return SelectionError(
            f"cannot parse asset selection {self.text!r}: {message}",
            'write e.g. "group:numbers", "key:a+", "+key:b", "kind:python and not key:c", or "*"',
        )

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def parse(self) -> AssetSelection:
        if not self.tokens:
            raise self._error("it is empty")
        result = self._or()
        if self._peek() is not None:
            raise self._error(f"unexpected {self._peek()[1]!r}")  # type: ignore[index]
        return result

    def _is_word(self, value: str) -> bool:
        token = self._peek()
        return token is not None and token[0] == "word" and token[1] == value

    def _or(self) -> AssetSelection:
        left = self._and()
        while self._is_word("or") or (self._peek() or ("", ""))[0] == "comma":
            self._take()
            left = left | self._and()
        return left

    def _and(self) -> AssetSelection:
        left = self._not()
        while self._is_word("and"):
            self._take()
            left = left & self._not()
        return left

    def _not(self) -> AssetSelection:
        if self._is_word("not"):
            self._take()
            return AssetSelection.all() - self._not()
        return self._traversal()

    def _traversal(self) -> AssetSelection:
        up_depth: int | bool | None = False
        token = self._peek()
        if token and token[0] == "up":
            self._take()
            up_depth = int(token[1][:-1]) if token[1][:-1] else None
        elif (
            token
            and token[0] == "star"
            and self.index + 1 < len(self.tokens)
            and self.tokens[self.index + 1][0] in ("word", "attr")
        ):
            self._take()  # legacy "*key": everything upstream
            up_depth = None
        atom = self._atom()
        selection = atom
        if up_depth is not False:
            selection = atom.upstream(depth=up_depth if isinstance(up_depth, int) else None)
        down: AssetSelection | None = None
        token = self._peek()
        if token and token[0] == "down":
            self._take()
            down = atom.downstream(depth=int(token[1][1:]) if token[1][1:] else None)
        elif token and token[0] == "star":
            self._take()  # legacy "key*" (and "*key*"): everything downstream
            down = atom.downstream()
        if down is None:
            return selection
        # "+b+" is b's upstreams and b's downstreams, not the downstreams of b's upstreams.
        return down if up_depth is False else selection | down

    def _atom(self) -> AssetSelection:
        if self._peek() is None:
            raise self._error("it ends too early")
        kind, value = self._take()
        if kind == "lparen":
            inner = self._or()
            if self._peek() is None or self._take()[0] != "rparen":
                raise self._error("a '(' is not closed")
            return inner
        if kind == "star":
            return AssetSelection.all()
        if kind == "attr":
            name, _, raw = value.partition(":")
            arg = raw.strip('"')
            if name == "key":
                return AssetSelection.keys(AssetKey.from_user_string(arg))
            if name == "group":
                return AssetSelection.groups(arg)
            if name == "kind":
                return AssetSelection.kind(arg)
            tag_key, _, tag_value = arg.partition("=")
            return AssetSelection.tag(tag_key, tag_value or None)
        if kind == "word" and value not in ("and", "or", "not"):
            return AssetSelection.keys(AssetKey.from_user_string(value.strip('"')))
        raise self._error(f"unexpected {value!r}")

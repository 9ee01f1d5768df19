"""AssetKey: the path that names an asset across a whole workspace."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Union


class AssetKey:
    """An asset's name as a path, e.g. ``AssetKey(["warehouse", "orders"])``.

    Immutable and hashable; ``AssetKey("a")`` and ``AssetKey(["a"])`` are equal.
    """

    __slots__ = ("_hash", "path")

    path: tuple[str, ...]
    _hash: int

    def __new__(cls, path: str | Sequence[str]) -> AssetKey:
        # Interned: equal keys are one object, so the many dict lookups of a
        # large asset graph resolve by identity instead of comparing paths.
        parts = (path,) if isinstance(path, str) else tuple(path)
        found = _INTERNED.get(parts)
        if found is not None:
            return found
        if not parts or not all(isinstance(p, str) and p for p in parts):
            raise ValueError(f"AssetKey needs one or more non-empty strings, got {path!r}")
        key = object.__new__(cls)
        object.__setattr__(key, "path", parts)
        object.__setattr__(key, "_hash", hash(parts))
        _INTERNED[parts] = key
        return key

    def __reduce__(self) -> tuple[type[AssetKey], tuple[tuple[str, ...]]]:
        return (AssetKey, (self.path,))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("AssetKey is immutable")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AssetKey) and other.path == self.path

    def __hash__(self) -> int:
        return self._hash

    def __lt__(self, other: AssetKey) -> bool:
        return self.path < other.path

    def __repr__(self) -> str:
        return f"AssetKey({list(self.path)!r})"

    def to_user_string(self) -> str:
        """The form users type on the CLI and see in the UI: ``warehouse/orders``."""
        return "/".join(self.path)

    def to_string(self) -> str:
        """The stored form: a JSON list, unambiguous even if a part holds '/'."""
        return json.dumps(list(self.path))

    @staticmethod
    def from_string(stored: str) -> AssetKey:
        return AssetKey(json.loads(stored))

    @staticmethod
    def from_user_string(text: str) -> AssetKey:
        return AssetKey(text.split("/"))

    @staticmethod
    def from_coercible(value: CoercibleToAssetKey) -> AssetKey:
        if isinstance(value, AssetKey):
            return value
        if isinstance(value, str):
            return AssetKey.from_user_string(value)
        return AssetKey(value)

    def with_prefix(self, prefix: str | Sequence[str]) -> AssetKey:
        head = (prefix,) if isinstance(prefix, str) else tuple(prefix)
        return AssetKey((*head, *self.path))


_INTERNED: dict[tuple[str, ...], AssetKey] = {}

CoercibleToAssetKey = Union[AssetKey, str, Sequence[str]]  # noqa: UP007 - runtime alias

"""Asset selections resolved against a location's snapshot, so system
processes turn ``"group:sales+"`` into asset keys without loading user code."""

from __future__ import annotations

from collections.abc import Sequence

from locus.codeserver.snapshot import LocationSnapshot
from locus.definitions.asset_graph import KeyGraph
from locus.definitions.asset_key import AssetKey
from locus.definitions.errors import SelectionError
from locus.definitions.selection import AssetSelection


def snapshot_graph(snapshot: LocationSnapshot) -> KeyGraph:
    by_key = {AssetKey(a.key): a for a in snapshot.assets}
    return KeyGraph(by_key, {key: tuple(AssetKey(up) for up in a.upstream) for key, a in by_key.items()})


def resolve_selection(
    snapshot: LocationSnapshot, selection: str | Sequence[str] | Sequence[Sequence[str]]
) -> list[list[str]]:
    """Key paths (upstreams first) for a selection string, a list of ``a/b``
    key strings, or a list of key paths. Raises SelectionError naming what is wrong."""
    graph = snapshot_graph(snapshot)
    if isinstance(selection, str):
        keys = AssetSelection.from_string(selection).resolve(graph)
    else:
        keys = {AssetKey.from_user_string(k) if isinstance(k, str) else AssetKey(k) for k in selection}
        missing = sorted(k.to_user_string() for k in keys if k not in graph.by_key)
        if missing:
            known = ", ".join(sorted(k.to_user_string() for k in graph.keys)[:20])
            raise SelectionError(f"no asset with key {', '.join(missing)}", f"select among: {known}")
    if not keys:
        raise SelectionError("the asset selection matches no assets", "check the selection")
    return [list(key.path) for key in graph.toposort(keys)]

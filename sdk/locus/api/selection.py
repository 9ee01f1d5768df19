"""Asset selections resolved against a location's snapshot, so the API can
turn ``"group:sales+"`` into asset keys without loading user code. The
selection objects only need the graph's lookups and traversals, which the
snapshot provides."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, cast

from locus.codeserver.snapshot import AssetSnapshot, LocationSnapshot
from locus.definitions.asset_key import AssetKey
from locus.definitions.errors import SelectionError
from locus.definitions.selection import AssetSelection

if TYPE_CHECKING:
    from locus.definitions.asset_graph import AssetGraph


class SnapshotAssetGraph:
    """The part of AssetGraph that selections use, over snapshot rows."""

    def __init__(self, snapshot: LocationSnapshot) -> None:
        self.by_key: Mapping[AssetKey, AssetSnapshot] = {AssetKey(a.key): a for a in snapshot.assets}
        self.upstream: dict[AssetKey, tuple[AssetKey, ...]] = {
            key: tuple(AssetKey(up) for up in a.upstream) for key, a in self.by_key.items()
        }
        downstream: dict[AssetKey, list[AssetKey]] = {key: [] for key in self.by_key}
        for key, ups in self.upstream.items():
            for up in ups:
                downstream.setdefault(up, []).append(key)
        self.downstream = downstream

    @property
    def keys(self) -> Iterable[AssetKey]:
        return self.by_key.keys()

    def _walk(self, start: Iterable[AssetKey], edges: Mapping[AssetKey, Sequence[AssetKey]],
              depth: int | None) -> set[AssetKey]:
        seen = set(start)
        frontier = list(seen)
        level = 0
        while frontier and (depth is None or level < depth):
            level += 1
            frontier = [other for key in frontier for other in edges.get(key, ()) if other not in seen]
            seen.update(frontier)
        return seen

    def with_upstream(self, keys: Iterable[AssetKey], depth: int | None = None) -> set[AssetKey]:
        return self._walk(keys, self.upstream, depth)

    def with_downstream(self, keys: Iterable[AssetKey], depth: int | None = None) -> set[AssetKey]:
        return self._walk(keys, self.downstream, depth)

    def toposort(self, keys: Iterable[AssetKey]) -> list[AssetKey]:
        wanted = set(keys)
        order: list[AssetKey] = []
        done: set[AssetKey] = set()

        def visit(key: AssetKey) -> None:
            # Snapshots come from a validated (acyclic) graph.
            stack = [key]
            while stack:
                node = stack[-1]
                pending = [up for up in self.upstream.get(node, ()) if up in wanted and up not in done]
                if pending:
                    stack.append(pending[0])
                    continue
                stack.pop()
                if node not in done:
                    done.add(node)
                    order.append(node)

        for key in self.by_key:
            if key in wanted and key not in done:
                visit(key)
        return order


def resolve_selection(snapshot: LocationSnapshot, selection: str | Sequence[str]) -> list[list[str]]:
    """Key paths (upstreams first) for a selection string or a list of
    ``a/b`` key strings. Raises SelectionError naming what is wrong."""
    graph = SnapshotAssetGraph(snapshot)
    if isinstance(selection, str):
        keys = AssetSelection.from_string(selection).resolve(cast("AssetGraph", graph))
    else:
        keys = {AssetKey.from_user_string(text) for text in selection}
        missing = sorted(k.to_user_string() for k in keys if k not in graph.by_key)
        if missing:
            known = ", ".join(sorted(k.to_user_string() for k in graph.keys)[:20])
            raise SelectionError(f"no asset with key {', '.join(missing)}", f"select among: {known}")
    if not keys:
        raise SelectionError("the asset selection matches no assets", "check the selection")
    return [list(key.path) for key in graph.toposort(keys)]

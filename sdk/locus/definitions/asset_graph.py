"""The asset graph of one code location: lookups, validation (unknown
upstreams, cycles) and traversal. Pure and linear in the graph's size, so
10,000 assets validate in milliseconds."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Protocol

from locus.definitions.asset_key import AssetKey
from locus.definitions.assets import AssetsDefinition
from locus.definitions.errors import DefinitionError


class AssetNode(Protocol):
    """What selections read of an asset: a definition or a snapshot row."""

    @property
    def group_name(self) -> str: ...

    @property
    def kinds(self) -> Collection[str]: ...

    @property
    def tags(self) -> Mapping[str, str]: ...


class KeyGraph:
    """Lookups and traversals over assets by key, for any node type: the
    definitions of a location, or the rows of its snapshot (so system
    processes can resolve selections without loading user code)."""

    def __init__(self, by_key: Mapping[AssetKey, AssetNode], upstream: Mapping[AssetKey, tuple[AssetKey, ...]]) -> None:
        self.by_key = by_key
        self.upstream = upstream
        downstream: dict[AssetKey, list[AssetKey]] = {k: [] for k in by_key}
        for key, ups in upstream.items():
            for up in ups:
                downstream[up].append(key)
        self.downstream: Mapping[AssetKey, list[AssetKey]] = downstream

    @property
    def keys(self) -> Iterable[AssetKey]:
        return self.by_key.keys()

    def toposort(self, keys: Iterable[AssetKey]) -> list[AssetKey]:
        """``keys`` ordered so that every asset follows its upstreams
        (ties keep definition order)."""
        wanted = set(keys)
        order: list[AssetKey] = []
        done: set[AssetKey] = set()
        for root in self.by_key:
            if root not in wanted or root in done:
                continue
            stack: list[tuple[AssetKey, int]] = [(root, 0)]
            while stack:
                node, index = stack[-1]
                ups = self.upstream[node]
                while index < len(ups) and (ups[index] in done or ups[index] not in wanted):
                    index += 1
                if index < len(ups):
                    stack[-1] = (node, index + 1)
                    stack.append((ups[index], 0))
                else:
                    stack.pop()
                    if node not in done:
                        done.add(node)
                        order.append(node)
        return order

    def _walk(
        self, start: Iterable[AssetKey], edges: Mapping[AssetKey, Sequence[AssetKey]], depth: int | None
    ) -> set[AssetKey]:
        seen = set(start)
        frontier = list(seen)
        level = 0
        while frontier and (depth is None or level < depth):
            level += 1
            nxt = []
            for key in frontier:
                for other in edges[key]:
                    if other not in seen:
                        seen.add(other)
                        nxt.append(other)
            frontier = nxt
        return seen

    def with_upstream(self, keys: Iterable[AssetKey], depth: int | None = None) -> set[AssetKey]:
        return self._walk(keys, self.upstream, depth)

    def with_downstream(self, keys: Iterable[AssetKey], depth: int | None = None) -> set[AssetKey]:
        return self._walk(keys, self.downstream, depth)


class AssetGraph(KeyGraph):
    """The validated asset graph of a location's definitions."""

    by_key: Mapping[AssetKey, AssetsDefinition]

    def __init__(self, assets: Sequence[AssetsDefinition]) -> None:
        by_key: dict[AssetKey, AssetsDefinition] = {}
        for a in assets:
            other = by_key.get(a.key)
            if other is not None and other is not a:
                raise DefinitionError(
                    f"two different assets have the key '{a.key.to_user_string()}' "
                    f"(functions {other.op.compute.name} and {a.op.compute.name})",
                    "rename one with name= or key_prefix=",
                )
            by_key[a.key] = a
        upstream = {k: a.upstream_keys for k, a in by_key.items()}
        for key, ups in upstream.items():
            for up in ups:
                if up not in by_key:
                    raise DefinitionError(
                        f"asset '{key.to_user_string()}' depends on '{up.to_user_string()}', "
                        "which is not among the Definitions' assets",
                        f"define an asset named '{up.to_user_string()}' and add it to Definitions(assets=[...]), "
                        "or fix the parameter/deps name",
                    )
        super().__init__(by_key, upstream)
        self._check_cycles()

    def _check_cycles(self) -> None:
        # Iterative three-colour DFS; on a back edge, the stack holds the cycle.
        state: dict[AssetKey, int] = {}
        for root in self.by_key:
            if root in state:
                continue
            stack: list[tuple[AssetKey, int]] = [(root, 0)]
            path: list[AssetKey] = [root]
            state[root] = 1
            while stack:
                node, index = stack[-1]
                ups = self.upstream[node]
                if index < len(ups):
                    stack[-1] = (node, index + 1)
                    nxt = ups[index]
                    if state.get(nxt) == 1:
                        cycle = [*path[path.index(nxt) :], nxt]
                        names = " <- ".join(k.to_user_string() for k in cycle)
                        raise DefinitionError(
                            f"the assets form a cycle: {names} (each reads the next)",
                            "remove one of these dependencies to break the cycle",
                        )
                    if nxt not in state:
                        state[nxt] = 1
                        stack.append((nxt, 0))
                        path.append(nxt)
                else:
                    state[node] = 2
                    stack.pop()
                    path.pop()

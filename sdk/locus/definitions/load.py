"""``load_assets_from_modules``: collect the assets a set of modules defines."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from types import ModuleType
from typing import Any

from locus.definitions.assets import AssetsDefinition


def load_assets_from_modules(
    modules: Iterable[ModuleType],
    group_name: str | None = None,
    key_prefix: str | Sequence[str] | None = None,
) -> list[AssetsDefinition]:
    """Every ``@asset`` found as a module attribute, once each, in order."""
    from dataclasses import replace

    seen: dict[int, AssetsDefinition] = {}
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, AssetsDefinition) and id(value) not in seen:
                seen[id(value)] = value
    found = list(seen.values())
    if group_name is not None:
        found = [replace(a, group_name=group_name) for a in found]
    if key_prefix is not None:
        found = _prefixed(found, key_prefix)
    return found


def _prefixed(assets: list[AssetsDefinition], prefix: Any) -> list[AssetsDefinition]:
    """Prefix every key, and the upstream keys that point inside the set."""
    from dataclasses import replace

    mapping = {a.key: a.key.with_prefix(prefix) for a in assets}
    return [
        replace(
            a,
            key=mapping[a.key],
            op=replace(a.op, name="__".join(mapping[a.key].path)),
            input_keys={p: mapping.get(k, k) for p, k in a.input_keys.items()},
            dep_keys=tuple(mapping.get(k, k) for k in a.dep_keys),
        )
        for a in assets
    ]

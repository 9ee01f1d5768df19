"""The object store: indexed objects, one resourceVersion counter, an event log.

Objects are kept per store key (group, plural) and (namespace, name), so a
get is a dict lookup and a namespaced list touches one resource only. Stored
objects are never mutated: every write stores a new dict, so an event can hold
the object without copying it. The counter is bumped on every write, like
etcd's revision; the event log keeps the last ``log_size`` events so a watch
can resume from a resourceVersion, and answers 410 Gone when it is older than
that (kopf then lists again). Unlike kmock's emulator, there is no per-object
history: memory stays flat however often an object is patched.

Everything here is synchronous and runs on the server's event loop, so each
write is atomic without locks.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from e2e.local._apiserver_errors import gone
from e2e.local._apiserver_resources import StoreKey

ObjectKey = tuple[str | None, str]  # (namespace, name)
Address = tuple[StoreKey, str | None, str]  # (store key, namespace, name)


@dataclass(frozen=True)
class Event:
    rv: int
    key: StoreKey
    type: str  # ADDED, MODIFIED or DELETED
    obj: dict[str, Any]
    old: dict[str, Any] | None = None


@dataclass(eq=False)
class Watcher:
    key: StoreKey
    queue: asyncio.Queue[Event | None] = field(default_factory=asyncio.Queue)


def _address(key: StoreKey, obj: dict[str, Any]) -> Address:
    meta = obj["metadata"]
    return (key, meta.get("namespace"), meta["name"])


def _owner_uids(obj: dict[str, Any] | None) -> set[str]:
    refs = (obj or {}).get("metadata", {}).get("ownerReferences") or []
    return {ref["uid"] for ref in refs if ref.get("uid")}


class Store:
    def __init__(self, log_size: int = 10000) -> None:
        self.revision = 0
        self._objects: dict[StoreKey, dict[ObjectKey, dict[str, Any]]] = collections.defaultdict(dict)
        self._dependents: dict[str, set[Address]] = collections.defaultdict(set)
        self._by_uid: dict[str, Address] = {}
        self._log: collections.deque[Event] = collections.deque(maxlen=log_size)
        self._watchers: dict[StoreKey, set[Watcher]] = collections.defaultdict(set)

    # Reading
    def get(self, key: StoreKey, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self._objects[key].get((namespace, name))

    def list_objects(self, key: StoreKey, namespace: str | None = None) -> list[dict[str, Any]]:
        """Sorted by (namespace, name), like etcd's key order; all namespaces when None."""
        objects = self._objects[key]
        keys = sorted(k for k in objects if namespace is None or k[0] == namespace)
        return [objects[k] for k in keys]

    def count(self, key: StoreKey) -> int:
        return len(self._objects[key])

    def oldest(self, key: StoreKey) -> dict[str, Any] | None:
        return next(iter(self._objects[key].values()), None)

    def by_uid(self, uid: str) -> Address | None:
        return self._by_uid.get(uid)

    def dependents(self, uid: str) -> list[Address]:
        return sorted(self._dependents.get(uid, ()), key=str)

    def namespaced_keys(self, namespace: str) -> Iterator[Address]:
        for key, objects in self._objects.items():
            for ns, name in list(objects):
                if ns == namespace:
                    yield (key, ns, name)

    # Writing
    def write(self, key: StoreKey, obj: dict[str, Any], event_type: str) -> dict[str, Any]:
        """Store a new (unshared) object, stamping the next resourceVersion on it."""
        self.revision += 1
        obj["metadata"]["resourceVersion"] = str(self.revision)
        address = _address(key, obj)
        old = self._objects[key].get(address[1:])
        self._objects[key][address[1:]] = obj
        self._reindex(address, old, obj)
        self._emit(Event(self.revision, key, event_type, obj, old))
        return obj

    def remove(self, key: StoreKey, obj: dict[str, Any]) -> dict[str, Any]:
        """Drop an object; the DELETED event carries a new resourceVersion, as in Kubernetes."""
        address = _address(key, obj)
        old = self._objects[key].pop(address[1:], None)
        self._reindex(address, old, None)
        self.revision += 1
        final = {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(self.revision)}}
        self._emit(Event(self.revision, key, "DELETED", final, old))
        return final

    def _reindex(self, address: Address, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        if old is not None:
            self._by_uid.pop(old["metadata"].get("uid", ""), None)
        if new is not None:
            self._by_uid[new["metadata"]["uid"]] = address
        for uid in _owner_uids(old) - _owner_uids(new):
            self._dependents[uid].discard(address)
            if not self._dependents[uid]:
                del self._dependents[uid]
        for uid in _owner_uids(new):
            self._dependents[uid].add(address)

    # Watching
    def _emit(self, event: Event) -> None:
        self._log.append(event)
        for watcher in self._watchers.get(event.key, ()):
            watcher.queue.put_nowait(event)

    def since(self, key: StoreKey, revision: int) -> list[Event]:
        """The logged events of a key after a revision; 410 Gone if some may have been dropped."""
        if revision < self.revision and (not self._log or self._log[0].rv > revision + 1):
            raise gone(f"too old resource version: {revision} ({self._log[0].rv - 1 if self._log else self.revision})")
        return [e for e in self._log if e.rv > revision and e.key == key]

    def watch(self, key: StoreKey) -> Watcher:
        watcher = Watcher(key)
        self._watchers[key].add(watcher)
        return watcher

    def unwatch(self, watcher: Watcher) -> None:
        self._watchers[watcher.key].discard(watcher)

    def close_watchers(self) -> None:
        """End every watch stream (on shutdown)."""
        for watchers in self._watchers.values():
            for watcher in watchers:
                watcher.queue.put_nowait(None)

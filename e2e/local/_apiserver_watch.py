"""Watch streams: newline-delimited JSON events, as the real server sends them.

Without a ``resourceVersion`` (or with ``"0"``, or ``sendInitialEvents=true``)
a watch starts with an ADDED event per current object; with one, it replays
the logged events after it (or sends an ERROR event with a 410 Status when that
version is too old — kopf and client-go then list again). Selectors are applied
to both the old and the new object, so an object that stops matching arrives as
DELETED and one that starts matching as ADDED. ``timeoutSeconds`` ends the
stream; ``allowWatchBookmarks`` adds a BOOKMARK after idle periods (and the
``k8s.io/initial-events-end`` bookmark after the initial events when asked).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp.web

from e2e.local._apiserver_errors import ApiError
from e2e.local._apiserver_resources import ResourceType
from e2e.local._apiserver_selectors import Predicate
from e2e.local._apiserver_store import Event, Store, Watcher

Obj = dict[str, Any]
Render = Callable[[Obj], Obj]
BOOKMARK_INTERVAL = 15.0


@dataclass(frozen=True)
class WatchRequest:
    rt: ResourceType
    namespace: str | None
    predicate: Predicate
    render: Render
    resource_version: str | None
    send_initial: bool
    bookmarks: bool
    timeout: float | None

    @classmethod
    def parse(cls, rt: ResourceType, namespace: str | None, predicate: Predicate, render: Render,
              params: dict[str, str]) -> WatchRequest:
        timeout = params.get("timeoutSeconds")
        return cls(rt, namespace, predicate, render, params.get("resourceVersion") or None,
                   params.get("sendInitialEvents") == "true", params.get("allowWatchBookmarks") == "true",
                   float(timeout) if timeout else None)

    def visible(self, obj: Obj | None) -> bool:
        return obj is not None and (self.namespace is None or obj["metadata"].get("namespace") == self.namespace) \
            and self.predicate(obj)


def _translate(event: Event, watch: WatchRequest) -> tuple[str, Obj] | None:
    """The event as this watch sees it through its namespace and selectors."""
    was, now = watch.visible(event.old), watch.visible(event.obj)
    if event.type == "DELETED":
        return ("DELETED", event.obj) if was or now else None
    if now:
        return ("MODIFIED" if was else "ADDED", event.obj)
    return ("DELETED", event.obj) if was else None


def _bookmark(watch: WatchRequest, revision: int, initial_end: bool = False) -> Obj:
    meta: Obj = {"resourceVersion": str(revision)}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    return {"type": "BOOKMARK", "object": {"kind": watch.rt.kind, "apiVersion": watch.rt.api_version,
                                           "metadata": meta}}


def _opening(store: Store, watch: WatchRequest) -> list[Obj]:
    """What the stream starts with: current objects, or the events missed since the given version."""
    if watch.send_initial or watch.resource_version in (None, "0"):
        current = [o for o in store.list_objects(watch.rt.key, watch.namespace) if watch.predicate(o)]
        opening = [{"type": "ADDED", "object": watch.render(o)} for o in current]
        if watch.send_initial and watch.bookmarks:
            opening.append(_bookmark(watch, store.revision, initial_end=True))
        return opening
    try:
        since = int(watch.resource_version or 0)
    except ValueError:
        since = -1
    if since < 0:
        error = ApiError(400, "BadRequest", f"invalid resource version: {watch.resource_version}", {})
        return [{"type": "ERROR", "object": error.status_object()}]
    try:
        events = store.since(watch.rt.key, since)
    except ApiError as exc:
        return [{"type": "ERROR", "object": exc.status_object()}]
    translated = (_translate(e, watch) for e in events)
    return [{"type": kind, "object": watch.render(obj)} for kind, obj in filter(None, translated)]


async def _write(response: aiohttp.web.StreamResponse, event: Obj) -> None:
    await response.write(json.dumps(event, separators=(",", ":")).encode() + b"\n")


async def stream(raw: aiohttp.web.BaseRequest, store: Store, watch: WatchRequest) -> aiohttp.web.StreamResponse:
    watcher = store.watch(watch.rt.key)  # before the opening: no event can fall in between
    try:
        opening = _opening(store, watch)
        response = aiohttp.web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(raw)
        for event in opening:
            await _write(response, event)
        if not any(e["type"] == "ERROR" for e in opening):
            await _follow(response, store, watcher, watch)
        await response.write_eof()
        return response
    finally:
        store.unwatch(watcher)


async def _follow(response: aiohttp.web.StreamResponse, store: Store, watcher: Watcher, watch: WatchRequest) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + watch.timeout if watch.timeout is not None else None
    while True:
        wait = BOOKMARK_INTERVAL if watch.bookmarks else None
        if deadline is not None:
            left = deadline - loop.time()
            if left <= 0:
                return
            wait = min(wait, left) if wait is not None else left
        try:
            event = await asyncio.wait_for(watcher.queue.get(), wait)
        except TimeoutError:
            if watch.bookmarks:
                await _write(response, _bookmark(watch, store.revision))
            continue
        if event is None:  # the server is stopping
            return
        translated = _translate(event, watch)
        if translated is not None:
            await _write(response, {"type": translated[0], "object": watch.render(translated[1])})

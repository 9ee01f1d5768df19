"""A minimal asynchronous Kubernetes REST client (aiohttp) and shared informers.

The harness's kubelet and controllers talk to the API server only over HTTP,
as the real ones do, so that whatever they rely on (list+watch with
resourceVersion, merge-patch of ``/status``, deletion propagation) is
exercised against the emulated server instead of being faked in memory.

An :class:`Informer` is list-then-watch with a local cache and callbacks; the
callbacks receive the *current* object (level-triggered), so a consumer never
depends on seeing each intermediate event.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
import urllib.parse
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from e2e.local._kubelet_util import Obj

log = logging.getLogger("kubelet.api")

__all__ = ["ApiClient", "ApiError", "Informer", "Kubeconfig", "load_kubeconfig"]


class ApiError(Exception):
    def __init__(self, status: int, message: str, body: Any = None) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.body = body


class Kubeconfig:
    """The server URL and credentials of the current context of a kubeconfig file."""

    def __init__(self, server: str, token: str | None = None, insecure: bool = False,
                 ca_file: str | None = None, cert_file: str | None = None, key_file: str | None = None,
                 raw: Mapping[str, Any] | None = None) -> None:
        self.server = server.rstrip("/")
        self.token = token
        self.insecure = insecure
        self.ca_file = ca_file
        self.cert_file = cert_file
        self.key_file = key_file
        self.raw = dict(raw or {})

    @property
    def host_port(self) -> tuple[str, int]:
        parsed = urllib.parse.urlsplit(self.server)
        default = 443 if parsed.scheme == "https" else 80
        return parsed.hostname or "127.0.0.1", parsed.port or default

    def ssl_context(self) -> ssl.SSLContext | bool:
        if not self.server.startswith("https"):
            return False
        if self.insecure:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        else:
            context = ssl.create_default_context(cafile=self.ca_file)
        if self.cert_file:
            context.load_cert_chain(self.cert_file, self.key_file)
        return context

    def for_namespace(self, namespace: str) -> dict[str, Any]:
        """A copy whose current context defaults to ``namespace``: what a pod's in-cluster config implies."""
        data = json.loads(json.dumps(self.raw))
        current = data.get("current-context")
        for ctx in data.get("contexts") or []:
            if ctx.get("name") == current or current is None:
                ctx.setdefault("context", {})["namespace"] = namespace
        result: dict[str, Any] = data
        return result


def load_kubeconfig(path: Path) -> Kubeconfig:
    data = yaml.safe_load(path.read_text()) or {}
    current = data.get("current-context")
    contexts = {c["name"]: c.get("context") or {} for c in data.get("contexts") or []}
    context = contexts.get(current) if current else (next(iter(contexts.values()), {}) if contexts else {})
    context = context or {}
    clusters = {c["name"]: c.get("cluster") or {} for c in data.get("clusters") or []}
    users = {u["name"]: u.get("user") or {} for u in data.get("users") or []}
    cluster = clusters.get(context.get("cluster")) or next(iter(clusters.values()), {})
    user = users.get(context.get("user")) or {}
    if not cluster.get("server"):
        raise ValueError(f"{path}: no cluster server URL")
    token = user.get("token")
    if not token and user.get("tokenFile"):
        token = Path(user["tokenFile"]).read_text().strip()
    return Kubeconfig(
        server=cluster["server"], token=token, insecure=bool(cluster.get("insecure-skip-tls-verify")),
        ca_file=cluster.get("certificate-authority"), cert_file=user.get("client-certificate"),
        key_file=user.get("client-key"), raw=data,
    )


class ApiClient:
    """Just the verbs the harness needs; paths are full API paths (``/api/v1/namespaces/x/pods``)."""

    def __init__(self, config: Kubeconfig) -> None:
        self.config = config
        headers = {"Accept": "application/json"}
        if config.token:
            headers["Authorization"] = f"Bearer {config.token}"
        connector = aiohttp.TCPConnector(limit=64, ssl=config.ssl_context())
        self.session = aiohttp.ClientSession(config.server, headers=headers, connector=connector,
                                             timeout=aiohttp.ClientTimeout(total=None, sock_connect=10))

    async def close(self) -> None:
        await self.session.close()

    async def request(self, method: str, path: str, body: Any = None, *, params: Mapping[str, str] | None = None,
                      content_type: str = "application/json", timeout: float = 30) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": content_type} if data is not None else {}
        async with self.session.request(method, path, data=data, params=params, headers=headers,
                                        timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            text = await resp.text()
            try:
                payload = json.loads(text) if text else None
            except json.JSONDecodeError:
                payload = text
            if resp.status >= 400:
                message = payload.get("message") if isinstance(payload, dict) else text[:300]
                raise ApiError(resp.status, f"{method} {path}: {message}", payload)
            return payload

    async def get(self, path: str) -> Obj:
        result: Obj = await self.request("GET", path)
        return result

    async def get_or_none(self, path: str) -> Obj | None:
        try:
            return await self.get(path)
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    async def create(self, path: str, body: Obj) -> Obj:
        result: Obj = await self.request("POST", path, body)
        return result

    async def merge_patch(self, path: str, body: Obj) -> Obj:
        result: Obj = await self.request("PATCH", path, body, content_type="application/merge-patch+json")
        return result

    async def delete(self, path: str, *, propagation: str | None = None, grace: int | None = None) -> Obj | None:
        params: dict[str, str] = {}
        body: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation:
            params["propagationPolicy"] = propagation
            body["propagationPolicy"] = propagation
        if grace is not None:
            params["gracePeriodSeconds"] = str(grace)
            body["gracePeriodSeconds"] = grace
        try:
            result: Obj | None = await self.request("DELETE", path, body, params=params)
            return result
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    async def watch(self, path: str, resource_version: str | None) -> AsyncIterator[Obj]:
        """One watch request; yields events until the server closes the stream."""
        params = {"watch": "true", "allowWatchBookmarks": "true", "timeoutSeconds": "300"}
        if resource_version:
            params["resourceVersion"] = resource_version
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=None)
        async with self.session.get(path, params=params, timeout=timeout) as resp:
            if resp.status >= 400:
                raise ApiError(resp.status, f"watch {path}: {(await resp.text())[:300]}")
            buffer = b""
            async for chunk in resp.content.iter_any():  # own line splitting: objects can exceed readline limits
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line)
            if buffer.strip():
                yield json.loads(buffer)


Handler = Callable[[str, Obj], None]


class Informer:
    """List+watch one resource across all namespaces into a cache, calling handlers on each change.

    Handlers get ``("ADDED"|"MODIFIED"|"DELETED", obj)`` and must not block (they enqueue work).
    A watch that expires (410 Gone) or drops is resumed from the last resourceVersion, or relisted;
    a relist reports objects that vanished meanwhile as DELETED."""

    def __init__(self, api: ApiClient, path: str, name: str) -> None:
        self.api = api
        self.path = path
        self.name = name
        self.cache: dict[tuple[str, str], Obj] = {}
        self.handlers: list[Handler] = []
        self.synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._resource_version: str | None = None

    def add_handler(self, handler: Handler) -> None:
        self.handlers.append(handler)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"informer-{self.name}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def get(self, namespace: str, name: str) -> Obj | None:
        return self.cache.get((namespace, name))

    def items(self) -> list[Obj]:
        return list(self.cache.values())

    def remember(self, obj: Obj) -> None:
        """Put an object we just created into the cache before its watch event arrives, so that a
        controller reconciling again at once does not create it twice (no handlers are called)."""
        meta = obj.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        self.cache.setdefault(key, obj)

    def _dispatch(self, kind: str, obj: Obj) -> None:
        for handler in self.handlers:
            try:
                handler(kind, obj)
            except Exception:
                log.exception("%s handler failed on %s", self.name, kind)

    @staticmethod
    def _key(obj: Obj) -> tuple[str, str]:
        meta = obj.get("metadata") or {}
        return str(meta.get("namespace") or ""), str(meta.get("name") or "")

    async def _list(self) -> None:
        data = await self.api.get(self.path)
        items = data.get("items") or []
        version = (data.get("metadata") or {}).get("resourceVersion")
        self._resource_version = version if version and version != "..." else None
        fresh = {self._key(obj): obj for obj in items}
        for key, old in list(self.cache.items()):
            if key not in fresh:
                del self.cache[key]
                self._dispatch("DELETED", old)
        for key, obj in fresh.items():
            kind = "MODIFIED" if key in self.cache else "ADDED"
            self.cache[key] = obj
            self._dispatch(kind, obj)
        self.synced.set()

    async def _run(self) -> None:
        need_list = True
        delay = 0.2
        while True:
            try:
                if need_list:
                    await self._list()
                    need_list = False
                started = asyncio.get_running_loop().time()
                async for event in self.api.watch(self.path, self._resource_version):
                    kind, obj = event.get("type"), event.get("object") or {}
                    version = (obj.get("metadata") or {}).get("resourceVersion")
                    if kind == "ERROR":
                        code = obj.get("code")
                        log.info("%s watch error %s: %s", self.name, code, obj.get("message"))
                        need_list = True
                        break
                    if version:
                        self._resource_version = version
                    if kind == "BOOKMARK":
                        continue
                    key = self._key(obj)
                    if kind == "DELETED":
                        self.cache.pop(key, None)
                        self._dispatch("DELETED", obj)
                    elif kind in ("ADDED", "MODIFIED"):
                        existed = key in self.cache
                        self.cache[key] = obj
                        self._dispatch("MODIFIED" if existed else "ADDED", obj)
                else:  # the server ended the watch (timeout): resume, or relist if we hold no resourceVersion
                    need_list = self._resource_version is None
                    if asyncio.get_running_loop().time() - started < 1:
                        await asyncio.sleep(1)  # a server that ends watches at once must not make us spin
                delay = 0.2
            except asyncio.CancelledError:
                raise
            except ApiError as exc:
                if exc.status == 410:
                    need_list = True
                    continue
                log.warning("%s: %s; retrying in %.1fs", self.name, exc, delay)
                need_list = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5)
            except (TimeoutError, aiohttp.ClientError, OSError, json.JSONDecodeError) as exc:
                log.warning("%s watch dropped (%s); resuming in %.1fs", self.name, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5)
                need_list = self._resource_version is None

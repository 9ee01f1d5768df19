"""Services as TCP proxies: the harness's kube-proxy.

Every Service with a ``spec.clusterIP`` (the API server assigns one from
127.1.0.0/16) gets one asyncio listener per TCP port on ``clusterIP:port``.
Each accepted connection goes to the next Ready pod (round-robin) that
matches ``spec.selector`` in the Service's namespace, on ``targetPort`` (a
number, or a container port name looked up in that pod). With no Ready pod
the connection is closed at once, as a cluster without endpoints refuses it.
Endpoints are looked up per connection from the pod informer's cache, so
readiness changes take effect immediately; no Endpoints/EndpointSlice
objects are written. Headless and ExternalName Services, UDP ports and
Services without a selector are ignored; NodePorts are not opened. A port
below 1024 can only be opened by root (or with
``net.ipv4.ip_unprivileged_port_start=0``); the kubelet logs a warning otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import logging
from typing import Any

from e2e.local._kubelet_api import Informer
from e2e.local._kubelet_probes import container_port
from e2e.local._kubelet_util import Obj, map_selector_matches, pod_ready, pod_terminating, spawn

log = logging.getLogger("kubelet.proxy")

__all__ = ["ServiceProxy", "endpoints"]

Key = tuple[str, str]


def endpoints(service: Obj, pods: list[Obj], target_port: Any) -> list[tuple[str, int]]:
    """The (podIP, port) of every Ready, non-terminating pod the Service selects."""
    meta = service.get("metadata") or {}
    selector = (service.get("spec") or {}).get("selector")
    result = []
    for pod in pods:
        pod_meta = pod.get("metadata") or {}
        if pod_meta.get("namespace") != meta.get("namespace") or pod_terminating(pod) or not pod_ready(pod):
            continue
        if not map_selector_matches(selector, pod_meta.get("labels")):
            continue
        ip = (pod.get("status") or {}).get("podIP")
        if not ip:
            continue
        for container in (pod.get("spec") or {}).get("containers") or []:
            try:
                port = container_port(target_port, container)
            except ValueError:
                continue
            result.append((str(ip), port))
            break
    return sorted(result)


class _Listener:
    def __init__(self, proxy: ServiceProxy, key: Key, port: Obj) -> None:
        self.proxy = proxy
        self.key = key
        self.port = port
        self.target = port.get("targetPort", port.get("port"))
        self.server: asyncio.Server | None = None
        self._counter = itertools.count()
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self, host: str) -> None:
        self.server = await asyncio.start_server(self._handle, host, int(self.port["port"]), reuse_address=True)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await self.server.wait_closed()
        for task in list(self._connections):
            task.cancel()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            service = self.proxy.services.get(*self.key)
            targets = endpoints(service, self.proxy.pods.items(), self.target) if service else []
            if not targets:
                return
            host, port = targets[next(self._counter) % len(targets)]
            try:
                up_reader, up_writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
            except (OSError, TimeoutError) as exc:
                log.info("service %s/%s: %s:%d unreachable: %s", *self.key, host, port, exc)
                return
            try:
                await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
            finally:
                up_writer.close()
        except asyncio.CancelledError:
            pass
        finally:
            writer.close()
            if task is not None:
                self._connections.discard(task)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (OSError, ConnectionError):
        writer.close()


class ServiceProxy:
    def __init__(self, services: Informer, pods: Informer) -> None:
        self.services = services
        self.pods = pods
        self._listeners: dict[Key, tuple[tuple[Any, ...], list[_Listener]]] = {}
        self._locks: dict[Key, asyncio.Lock] = {}
        services.add_handler(self._on_service)

    @staticmethod
    def _shape(service: Obj) -> tuple[Any, ...]:
        spec = service.get("spec") or {}
        ports = tuple((p.get("port"), p.get("protocol", "TCP"), str(p.get("targetPort", p.get("port"))))
                      for p in spec.get("ports") or [])
        return (spec.get("clusterIP"), spec.get("type"), ports)

    def _on_service(self, kind: str, service: Obj) -> None:
        meta = service.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        spawn(self._sync(key, None if kind == "DELETED" else service))

    async def _sync(self, key: Key, service: Obj | None) -> None:
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            shape = self._shape(service) if service is not None else None
            current = self._listeners.get(key)
            if current is not None and current[0] == shape:
                return
            if current is not None:
                self._listeners.pop(key, None)
                for listener in current[1]:
                    await listener.close()
            if service is None or shape is None:
                self._locks.pop(key, None)
                return
            spec = service.get("spec") or {}
            cluster_ip = spec.get("clusterIP")
            if not cluster_ip or cluster_ip == "None" or spec.get("type") == "ExternalName":
                return
            listeners = []
            for port in spec.get("ports") or []:
                if str(port.get("protocol") or "TCP") != "TCP":
                    continue
                listener = _Listener(self, key, port)
                try:
                    await listener.start(cluster_ip)
                except OSError as exc:
                    hint = ""
                    if int(port["port"]) < 1024 and exc.errno == errno.EACCES:
                        hint = " (ports below 1024 need root or sysctl net.ipv4.ip_unprivileged_port_start=0)"
                    log.warning("service %s/%s: cannot listen on %s:%s: %s%s", *key, cluster_ip, port.get("port"),
                                exc, hint)
                    continue
                listeners.append(listener)
            self._listeners[key] = (shape, listeners)
            log.info("service %s/%s: listening on %s ports %s", *key, cluster_ip,
                     [p.port["port"] for p in listeners])

    async def close(self) -> None:
        for _, listeners in self._listeners.values():
            for listener in listeners:
                await listener.close()
        self._listeners.clear()

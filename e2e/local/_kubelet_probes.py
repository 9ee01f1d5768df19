"""Container probes: httpGet, tcpSocket, grpc (grpc.health.v1), exec.

Thresholds are honoured as the kubelet does (``successThreshold`` consecutive
successes flip to healthy, ``failureThreshold`` consecutive failures to
unhealthy), but ``periodSeconds`` and ``initialDelaySeconds`` are capped
(:class:`ProbeTiming`, 1 s each by default) so a test sees a pod become Ready
or get restarted within seconds instead of the 10 s period Kubernetes
defaults to. A liveness/startup probe therefore gives a process about
``initialDelay(capped) + failureThreshold x 1 s`` to come up; use a startup
probe with a high failureThreshold for slow starters, as on a real cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

log = logging.getLogger("kubelet.probes")

__all__ = ["GrpcCheck", "ProbeTiming", "check_grpc", "check_http", "check_tcp", "container_port", "run_probe"]

Check = Callable[[], Awaitable[bool]]


@dataclass(frozen=True)
class ProbeTiming:
    period_cap: float = 1.0
    delay_cap: float = 1.0

    def period(self, probe: Mapping[str, Any]) -> float:
        return min(float(probe.get("periodSeconds") or 10), self.period_cap)

    def delay(self, probe: Mapping[str, Any]) -> float:
        return min(float(probe.get("initialDelaySeconds") or 0), self.delay_cap)


def container_port(value: Any, container: Mapping[str, Any]) -> int:
    """A probe or Service target port: a number, or the name of one of the container's ports."""
    if isinstance(value, int):
        return value
    text = str(value)
    if text.isdigit():
        return int(text)
    for port in container.get("ports") or []:
        if port.get("name") == text:
            return int(port["containerPort"])
    raise ValueError(f"container {container.get('name')!r} has no port named {text!r}")


async def check_http(session: aiohttp.ClientSession, probe: Mapping[str, Any], host: str, port: int,
                     timeout: float) -> bool:
    scheme = str(probe.get("scheme") or "HTTP").lower()
    path = str(probe.get("path") or "/")
    if not path.startswith("/"):
        path = "/" + path
    headers = {h["name"]: h.get("value", "") for h in probe.get("httpHeaders") or []}
    headers.setdefault("User-Agent", "kube-probe/1.31")
    url = f"{scheme}://{probe.get('host') or host}:{port}{path}"
    try:
        async with session.get(url, headers=headers, ssl=False, timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            await resp.read()
            return 200 <= resp.status < 400
    except (aiohttp.ClientError, OSError, TimeoutError):
        return False


async def check_tcp(host: str, port: int, timeout: float) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


class GrpcCheck:
    """A grpc.health.v1 ``Check``; the channel is kept between probes (a real kubelet dials each
    time, which costs three times the CPU here) and redials within 100 ms-1 s once the server is back."""

    OPTIONS = [("grpc.initial_reconnect_backoff_ms", 100), ("grpc.min_reconnect_backoff_ms", 100),
               ("grpc.max_reconnect_backoff_ms", 1000), ("grpc.enable_retries", 0)]

    def __init__(self, host: str, port: int, service: str, timeout: float) -> None:
        self.target = f"{host}:{port}"
        self.service = service
        self.timeout = timeout
        self._channel: Any = None
        self._stub: Any = None

    async def __call__(self) -> bool:
        # Forked children exec at once; gRPC's fork handlers would only print warnings in the kubelet.
        os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "0")
        import grpc
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        if self._channel is None:
            self._channel = grpc.aio.insecure_channel(self.target, options=self.OPTIONS)
            self._stub = health_pb2_grpc.HealthStub(self._channel)
        try:
            reply = await self._stub.Check(health_pb2.HealthCheckRequest(service=self.service), timeout=self.timeout)
        except grpc.aio.AioRpcError:
            return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    async def close(self) -> None:
        if self._channel is not None:
            channel, self._channel = self._channel, None
            await channel.close()


async def check_grpc(host: str, port: int, service: str, timeout: float) -> bool:
    """One check on a fresh channel."""
    check = GrpcCheck(host, port, service, timeout)
    try:
        return await check()
    finally:
        await check.close()


async def run_probe(
    probe: Mapping[str, Any], check: Check, timing: ProbeTiming,
    report: Callable[[bool], None], *, stop_on_success: bool = False,
) -> None:
    """Probe forever (until cancelled), calling ``report`` when the result flips.

    The state starts unknown, so the first threshold reached is always reported.
    ``stop_on_success`` ends the loop after the first healthy report (startup probes)."""
    try:
        await _probe_loop(probe, check, timing, report, stop_on_success)
    finally:
        close = getattr(check, "close", None)
        if close is not None:
            await close()


async def _probe_loop(probe: Mapping[str, Any], check: Check, timing: ProbeTiming,
                      report: Callable[[bool], None], stop_on_success: bool) -> None:
    success_threshold = int(probe.get("successThreshold") or 1)
    failure_threshold = int(probe.get("failureThreshold") or 3)
    timeout = float(probe.get("timeoutSeconds") or 1)
    period = timing.period(probe)
    await asyncio.sleep(timing.delay(probe))
    successes = failures = 0
    state: bool | None = None
    while True:
        started = asyncio.get_running_loop().time()
        try:
            ok = await asyncio.wait_for(check(), timeout + 1)
        except (TimeoutError, OSError, ValueError) as exc:
            log.debug("probe error: %s", exc)
            ok = False
        if ok:
            successes, failures = successes + 1, 0
            if successes >= success_threshold and state is not True:
                state = True
                report(True)
                if stop_on_success:
                    return
        else:
            successes, failures = 0, failures + 1
            if failures >= failure_threshold and state is not False:
                state = False
                report(False)
        elapsed = asyncio.get_running_loop().time() - started
        await asyncio.sleep(max(period - elapsed, 0.05))

"""Local processes standing in for containers: start, wait, signal, memory limits.

Each container is one process in its own session (so its own process group):
signalling the group reaches everything the container started, as stopping
a container's cgroup would. ``PR_SET_PDEATHSIG`` makes the main process die
with the kubelet even when the kubelet is SIGKILLed (no orphans); on a clean
exit the kubelet also kills the groups itself, which reaches grandchildren.

Exits are observed with a pidfd registered in the event loop (Linux >= 5.3),
so hundreds of containers need no waiting threads.

Memory limits are enforced by polling: once every ``interval`` one scan of
``/proc`` sums the RSS per process group, and a group over its limit is
SIGKILLed and reported as ``OOMKilled`` (exit code 137), like the kernel's
cgroup OOM killer would. One scan serves all containers.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

log = logging.getLogger("kubelet.process")

PR_SET_PDEATHSIG = 1
_libc: ctypes.CDLL | None
try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover - non-Linux
    _libc = None


def _child_setup(parent: int) -> Callable[[], None]:
    def setup() -> None:
        if _libc is not None:
            _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the kubelet died between fork and prctl
            os._exit(137)
    return setup


class Process:
    """One started container process; ``exited`` resolves to the Kubernetes-style exit code."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self.popen = popen
        self.pid = popen.pid
        self.pgid = popen.pid  # start_new_session: the group leader is the process itself
        self.oom_killed = False
        self.signal: int | None = None
        loop = asyncio.get_running_loop()
        self.exited: asyncio.Future[int] = loop.create_future()
        try:
            self._pidfd: int | None = os.pidfd_open(self.pid)
        except OSError:  # pragma: no cover - old kernels: poll instead
            self._pidfd = None
        if self._pidfd is not None:
            loop.add_reader(self._pidfd, self._reap)
        else:  # pragma: no cover
            self._poller = loop.create_task(self._poll())

    def _reap(self) -> None:
        # The main process is a zombie now and still holds its group id: like a container's PID 1,
        # it takes the rest of its group along (killed before reaping, so the id cannot be reused).
        self.kill_group(signal.SIGKILL)
        code = self.popen.poll()
        if code is None:
            return
        if self._pidfd is not None:
            loop = asyncio.get_running_loop()
            loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None
        self._finish(code)

    async def _poll(self) -> None:  # pragma: no cover
        while (code := self.popen.poll()) is None:
            await asyncio.sleep(0.1)
        self._finish(code)

    def _finish(self, code: int) -> None:
        if code < 0:
            self.signal = -code
            code = 128 - code
        if not self.exited.done():
            self.exited.set_result(code)

    @property
    def running(self) -> bool:
        return not self.exited.done()

    def kill_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, sig)

    async def terminate(self, grace: float) -> int:
        """SIGTERM the group, SIGKILL it after ``grace`` seconds; returns the exit code."""
        if self.running:
            self.kill_group(signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.shield(self.exited), timeout=max(grace, 0))
            except TimeoutError:
                self.kill_group(signal.SIGKILL)
        return await self.exited


def start(argv: Sequence[str], env: Mapping[str, str], cwd: str, log_path: Path) -> Process:
    """Start a container process; raises OSError (e.g. FileNotFoundError) when it cannot be executed."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab", buffering=0) as output:
        popen = subprocess.Popen(
            list(argv), env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=_child_setup(os.getpid()), close_fds=True,
        )
    return Process(popen)


async def run_probe_command(argv: Sequence[str], env: Mapping[str, str], cwd: str, timeout: float) -> int | None:
    """An exec probe: the exit code, or None on timeout (the command's group is then killed)."""
    try:  # no preexec_fn: CPython can then vfork, which stays cheap at hundreds of probes per second
        popen = subprocess.Popen(
            list(argv), env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True,
        )
    except OSError:
        return 126
    process = Process(popen)
    try:
        return await asyncio.wait_for(asyncio.shield(process.exited), timeout)
    except TimeoutError:
        process.kill_group(signal.SIGKILL)
        await process.exited
        return None


def _scan_rss_by_group(groups: set[int]) -> dict[int, int]:
    page = os.sysconf("SC_PAGE_SIZE")
    totals: dict[int, int] = dict.fromkeys(groups, 0)
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                raw = fh.read()
        except OSError:
            continue
        fields = raw[raw.rfind(b")") + 2:].split()
        if len(fields) < 22:
            continue
        group = int(fields[2])
        if group in totals:
            totals[group] += int(fields[21]) * page
    return totals


class MemoryWatcher:
    """Polls the RSS of watched process groups; kills a group over its limit."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self._watched: dict[int, tuple[Process, int]] = {}
        self._task: asyncio.Task[None] | None = None

    def watch(self, process: Process, limit_bytes: int) -> None:
        self._watched[process.pgid] = (process, limit_bytes)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="memory-watcher")

    def unwatch(self, process: Process) -> None:
        self._watched.pop(process.pgid, None)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while self._watched:
            for pgid, (process, _) in list(self._watched.items()):
                if not process.running:
                    self._watched.pop(pgid, None)
            if not self._watched:
                break
            try:
                usage = await asyncio.to_thread(_scan_rss_by_group, set(self._watched))
            except Exception:  # pragma: no cover - /proc unreadable
                log.exception("memory scan failed")
                usage = {}
            for pgid, rss in usage.items():
                entry = self._watched.get(pgid)
                if entry and entry[0].running and rss > entry[1]:
                    log.info("process group %d uses %d bytes > limit %d: OOM kill", pgid, rss, entry[1])
                    entry[0].oom_killed = True
                    entry[0].kill_group(signal.SIGKILL)
                    self._watched.pop(pgid, None)
            await asyncio.sleep(self.interval)

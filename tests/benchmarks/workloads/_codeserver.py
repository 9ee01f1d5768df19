"""Shared pieces of the code-server workloads: write the user module, start a server, wait for SERVING.

The server runs as a child process of the workload script, through each system's own console script:
``dagster api grpc -f MODULE.py`` / ``locus api grpc --python-file MODULE.py``. Readiness is the standard
gRPC health check (``grpc.health.v1.Health/Check``) answering SERVING, polled on one channel whose reconnect
backoff is cut to a few milliseconds (gRPC's default waits a second after a refused connection).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import _common
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

# The health service each server marks SERVING once its code is loaded. Dagster's DagsterGrpcServer sets
# "DagsterApi" right after server.start() (dagster/_grpc/server.py); the overall "" status of grpcio's
# HealthServicer is SERVING from construction, which there also comes after the code load.
HEALTH_SERVICE = {"dagster": "DagsterApi", "locus": ""}
START_TIMEOUT_S = 600.0
POLL_INTERVAL_S = 0.005
_CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 5),
    ("grpc.min_reconnect_backoff_ms", 5),
    ("grpc.max_reconnect_backoff_ms", 20),
    ("grpc.enable_retries", 0),
]


def write_module(cache: str, name: str, source: str) -> str:
    """Write ``source`` to ``cache/name.py`` once (later runs reuse it and its .pyc); return the path.

    The client does not import it: only the server loads user code.
    """
    path = os.path.join(cache, f"{name}.py")
    if not os.path.exists(path):
        with open(f"{path}.tmp", "w") as f:
            f.write(source)
        os.replace(f"{path}.tmp", path)
    return path


def server_command(system: str, module_path: str, port: int) -> list[str]:
    """The system's own CLI, from the interpreter's environment running this script."""
    bin_dir = Path(sys.executable).parent
    if system == "dagster":
        return [str(bin_dir / "dagster"), "api", "grpc", "-f", module_path, "--host", "127.0.0.1", "--port", str(port)]
    return [str(bin_dir / "locus"), "api", "grpc", "--python-file", module_path, "--host", "127.0.0.1",
            "--port", str(port)]  # fmt: skip


def proc_status_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of process ``pid``, in KiB, from ``/proc/<pid>/status``."""
    figures = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                figures[key] = int(value.split()[0])  # "123456 kB"
    return figures


def own_status_kib() -> dict[str, int]:
    return proc_status_kib(os.getpid())


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    target: str  # "127.0.0.1:PORT"
    port: int
    seconds_to_serving: float = 0.0
    status_at_serving: dict[str, int] | None = None  # the server's VmRSS / VmHWM when SERVING was seen


@contextmanager
def running_server(system: str, module_path: str, scratch: str) -> Iterator[Server]:
    """Start the code server, wait until its health check answers SERVING, and kill it on the way out.

    ``seconds_to_serving`` spans spawning the process to the first SERVING answer; the server's memory is
    read at that moment.
    """
    port = _common.free_port()
    log_path = os.path.join(scratch, f"{system}-code-server.log")
    with open(log_path, "wb") as log:
        start = time.perf_counter()
        process = subprocess.Popen(
            server_command(system, module_path, port),
            cwd=scratch,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the finally below kills any children too
        )
        server = Server(process, f"127.0.0.1:{port}", port)
        try:
            wait_serving(server, HEALTH_SERVICE[system], log_path)
            server.seconds_to_serving = time.perf_counter() - start
            server.status_at_serving = proc_status_kib(process.pid)
            yield server
        finally:
            stop(process)


def wait_serving(server: Server, service: str, log_path: str) -> None:
    deadline = time.perf_counter() + START_TIMEOUT_S
    with grpc.insecure_channel(server.target, options=_CHANNEL_OPTIONS) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        request = health_pb2.HealthCheckRequest(service=service)
        while True:
            if server.process.poll() is not None:
                raise RuntimeError(f"code server exited with {server.process.returncode}:\n{_tail(log_path)}")
            try:
                reply = stub.Check(request, timeout=1.0)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError as e:
                code = e.code()  # type: ignore[attr-defined, unused-ignore]
                if code not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                    raise RuntimeError(f"health check {service!r} failed: {code}: {e}") from e
            if time.perf_counter() > deadline:
                raise RuntimeError(f"no SERVING within {START_TIMEOUT_S:.0f} s:\n{_tail(log_path)}")
            time.sleep(POLL_INTERVAL_S)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Kill the server's whole process group (it leads it) and reap it: no orphans, whatever happened."""
    with contextlib.suppress(ProcessLookupError):  # the group is gone already
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def _tail(path: str, lines: int = 30) -> str:
    with open(path, errors="replace") as f:
        return "".join(f.readlines()[-lines:])

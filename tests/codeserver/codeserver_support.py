"""Real code servers for tests: `locus api grpc` in a subprocess, on a unix
socket (no port races) or a free loopback port, awaited through the health
service with a deadline, and stopped (then checked stopped) afterwards."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from locus.codeserver.client import CodeServerClient
from support import free_port

HERE = Path(__file__).resolve().parent
LOCATIONS = HERE / "locations"
EXAMPLES = HERE.parent.parent / "examples"
START_DEADLINE = 30.0


@dataclass
class RunningServer:
    process: subprocess.Popen[bytes]
    target: str
    log: Path
    socket_path: Path | None

    def client(self, default_timeout: float = 30.0) -> CodeServerClient:
        return CodeServerClient(self.target, default_timeout)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM, as Kubernetes and `locus dev` stop a server; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"the code server ignored SIGTERM; its output:\n{self.output()}") from None


@contextmanager
def short_tmp_dir() -> Iterator[Path]:
    """Unix socket paths must stay under ~107 bytes; pytest's tmp_path may not."""
    path = Path(tempfile.mkdtemp(prefix="lcs-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def start_server(
    location_args: Sequence[str],
    *,
    cwd: Path,
    log: Path,
    socket_path: Path | None = None,
    env: dict[str, str] | None = None,
    extra_args: Sequence[str] = (),
) -> RunningServer:
    if socket_path is not None:
        listen = ["--socket", str(socket_path)]
        target = f"unix:{socket_path}"
    else:
        port = free_port()
        listen = ["--port", str(port)]
        target = f"127.0.0.1:{port}"
    full_env = {**os.environ, **(env or {})}
    full_env.pop("LOCUS_DEBUG", None)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "locus.cli.main", "api", "grpc", *location_args, *listen, *extra_args],
            cwd=cwd,
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = RunningServer(process, target, log, socket_path)
    with CodeServerClient(target) as client:
        deadline = time.monotonic() + START_DEADLINE
        while not client.health(timeout=1):
            if process.poll() is not None:
                raise AssertionError(f"the code server exited with {process.returncode}:\n{server.output()}")
            if time.monotonic() > deadline:
                server.stop()
                raise AssertionError(f"the code server was not healthy within {START_DEADLINE}s:\n{server.output()}")
            time.sleep(0.05)
    return server


@contextmanager
def running_server(location_args: Sequence[str], *, cwd: Path, log: Path, **kwargs: object) -> Iterator[RunningServer]:
    server = start_server(location_args, cwd=cwd, log=log, **kwargs)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        code = server.stop()
        assert code == 0, f"the code server exited with {code}:\n{server.output()}"

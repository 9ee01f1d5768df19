"""One code-server child process of the workspace manager: the command that
starts ``locus api grpc`` for a workspace entry, where it listens and logs,
and stopping it without leaving anything behind."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from locus.workspace.config import LocationEntry

# The server gives its runs 10 s to record their cancellation before it exits.
STOP_GRACE_SECONDS = 15.0
# sockaddr_un.sun_path holds 108 bytes on Linux (104 on macOS), terminator included.
_MAX_SOCKET_PATH = 100


def _safe_name(name: str) -> str:
    """A file name for a location name (which may hold ':' or '/')."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "location"
    if cleaned != name:
        cleaned = f"{cleaned[:40]}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"
    return cleaned


def socket_path(home: Path, name: str) -> Path:
    """Where the location's server listens: ``$LOCUS_HOME/sockets/<name>.sock``,
    or a short folder under the temp dir when that path is too long for a socket."""
    path = home / "sockets" / f"{_safe_name(name)}.sock"
    if len(os.fsencode(path)) > _MAX_SOCKET_PATH:
        digest = hashlib.sha256(os.fsencode(home)).hexdigest()[:12]
        path = Path(tempfile.gettempdir()) / f"locus-{digest}" / f"{_safe_name(name)[:48]}.sock"
    return path


def log_path(home: Path, name: str) -> Path:
    return home / "logs" / "codeservers" / f"{_safe_name(name)}.log"


def server_command(entry: LocationEntry, socket: Path) -> list[str]:
    """``locus api grpc`` for a python_file/module/package entry, in the
    entry's own Python environment (``executable_path``) when it names one."""
    pointer = entry.pointer
    assert pointer is not None, "grpc_server entries have no process to start"
    command = [entry.executable_path or sys.executable, "-m", "locus.cli.main", "api", "grpc"]
    if pointer.python_file:
        command += ["--python-file", pointer.python_file]
    elif pointer.module_name:
        command += ["--module-name", pointer.module_name]
    else:
        command += ["--package-name", pointer.package_name or ""]
    if pointer.attribute:
        command += ["--attribute", pointer.attribute]
    if pointer.working_directory:
        command += ["--working-directory", pointer.working_directory]
    return [
        *command,
        "--location-name",
        entry.name,
        "--host",
        "127.0.0.1",
        "--socket",
        str(socket),
        "--exit-with-parent",
    ]


def working_directory(entry: LocationEntry) -> str:
    """The server's cwd: the entry's working directory, else the workspace
    file's folder (where its relative paths start), else ours."""
    if entry.pointer is not None and entry.pointer.working_directory:
        return entry.pointer.working_directory
    if entry.source:
        return os.path.dirname(os.path.abspath(entry.source))
    return os.getcwd()


@dataclass
class CodeServerProcess:
    """A started code server. It leads its own process group (so a Ctrl-C in
    the terminal reaches only the supervisor, which stops servers in order),
    and the runs it starts belong to that group."""

    entry: LocationEntry
    socket: Path
    log_file: Path
    popen: subprocess.Popen[bytes]
    started_at: float

    @classmethod
    def start(cls, entry: LocationEntry, home: Path) -> CodeServerProcess:
        """Start the server; raises OSError when the executable cannot be run."""
        sock = socket_path(home, entry.name)
        sock.parent.mkdir(parents=True, exist_ok=True)
        sock.unlink(missing_ok=True)  # a stale socket from a killed server
        log = log_path(home, entry.name)
        log.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "LOCUS_HOME": str(home)}
        with open(log, "ab") as out:
            out.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting code server '{entry.name}'\n".encode())
            out.flush()
            popen = subprocess.Popen(
                server_command(entry, sock),
                cwd=working_directory(entry),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return cls(entry, sock, log, popen, time.monotonic())

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def target(self) -> str:
        return f"unix:{self.socket}"

    def returncode(self) -> int | None:
        return self.popen.poll()

    def stop(self, grace: float = STOP_GRACE_SECONDS, with_runs: bool = False) -> None:
        """SIGTERM the server (it cancels its own runs and waits for them),
        SIGKILL it after ``grace`` seconds. ``with_runs`` then kills whatever
        is still left of its process group, so nothing outlives the supervisor."""
        self._signal(signal.SIGTERM, group=False)
        try:
            self.popen.wait(grace)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL, group=False)
            self.popen.wait()
        if with_runs:
            self._signal(signal.SIGKILL, group=True)
        self.socket.unlink(missing_ok=True)

    def _signal(self, signum: int, group: bool) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if group:
                os.killpg(self.pid, signum)
            else:
                self.popen.send_signal(signum)

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.rstrip().splitlines()[-lines:])

"""`locus dev` (code servers, the daemon's loops and API in one command) and
`locus api serve` (the API, with a manager for the workspace given).

The daemon's loops (schedules, sensors, the run queue the API wakes, run
monitoring, retries) run under the instance's daemon lease as in `locus
daemon run`: if another daemon is already active on the instance, they stand
by and the API still serves.

uvicorn runs in a thread so that this process, not uvicorn, owns SIGINT and
SIGTERM: on either, the API stops first, then the daemon's loops, then every
code server, so nothing is left running."""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING

from locus.cli.targets import add_target_flags
from locus.cli.workspace_cmd import workspace_from_args
from locus.definitions.errors import LocusError

if TYPE_CHECKING:
    from locus.instance.instance import LocusInstance
    from locus.workspace.registry_source import RegistryFollower
    from locus.workspace.state import LocationState

DEFAULT_PORT = 3000


def add_serve_flags(parser: argparse.ArgumentParser) -> None:
    add_target_flags(parser)
    parser.add_argument("--host", default="127.0.0.1", help="address the API listens on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"API port (default {DEFAULT_PORT})")


def _listen(host: str, port: int) -> socket.socket:
    """Bind before starting anything, so a busy port fails at once and clearly."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only disables Nagle's algorithm on sockets
    # it knows are TCP, and with it every kept-alive response waits ~40 ms for an ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise LocusError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                         "pick another port with --port, or stop what is using it") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class StatusPrinter:
    """Prints a location's status each time it settles into a new one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._shown: dict[str, str] = {}

    def __call__(self, state: LocationState) -> None:
        from locus.storage.records import LocationStatus

        if state.status == LocationStatus.LOADING:
            return
        with self._lock:
            if self._shown.get(state.name) == state.status.value + str(state.snapshot_id):
                return
            self._shown[state.name] = state.status.value + str(state.snapshot_id)
            if state.status == LocationStatus.LOADED:
                counts = ", ".join(f"{n} {kind}" for kind, n in state.counts.items() if n) or "nothing"
                line = f"  {state.name}: LOADED ({counts})"
            elif state.load_error is not None:
                line = f"  {state.name}: {state.status.value}: {state.load_error.summary()}"
            else:
                line = f"  {state.name}: {state.status.value}: {state.detail or ''}".rstrip(": ")
            print(line, flush=True)


def _serve(args: argparse.Namespace, *, with_queue: bool) -> int:
    import uvicorn

    from locus.api.app import create_app
    from locus.daemon.loops import build_loops
    from locus.daemon.process import DaemonProcess
    from locus.daemon.run_queue import RunQueue
    from locus.instance.instance import LocusInstance
    from locus.launchers.local import LocalRunLauncher
    from locus.workspace.config import Workspace
    from locus.workspace.manager import WorkspaceManager
    from locus.workspace.registry_source import RegistryFollower

    workspace = workspace_from_args(args, required=with_queue)
    sock = _listen(args.host, args.port)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    instance = LocusInstance.get()
    follower: RegistryFollower | None = None
    if workspace is not None:
        manager: WorkspaceManager | None = WorkspaceManager(workspace, instance, on_change=StatusPrinter())
    else:
        # Registry mode (on Kubernetes): the code locations are those the operator
        # registered, followed as they come and go, so runs can be launched.
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        manager = WorkspaceManager(Workspace(()), instance, on_change=StatusPrinter(), owns_registry=False)
        follower = RegistryFollower(instance, manager)
    launcher = LocalRunLauncher(manager, instance) if with_queue and manager else None
    queue = RunQueue(instance, launcher) if launcher is not None else None
    daemon = (
        DaemonProcess(instance, manager, build_loops(instance, manager, launcher, queue))
        if manager is not None and launcher is not None
        else None
    )
    server = uvicorn.Server(uvicorn.Config(create_app(instance, manager, queue), log_level="warning",
                                           lifespan="off"))
    threads: list[threading.Thread] = []
    try:
        print(f"Locus {'dev' if with_queue else 'API'} at http://{args.host}:{sock.getsockname()[1]} "
              f"(home {instance.home})", flush=True)
        if follower is not None:
            print("registry mode: serving the code locations of the instance's registry", flush=True)
            _sync_quietly(follower)
            threads.append(threading.Thread(target=_follow, args=(follower, instance, stop), name="locus-registry",
                                            daemon=True))
        if manager is not None:
            print(f"starting {len(manager.names)} code location(s):", flush=True)
            manager.start()
        if daemon is not None:
            threads.append(threading.Thread(target=daemon.run, args=(stop,), name="locus-daemon", daemon=True))
        threads.append(threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="locus-api",
                                        daemon=True))
        for thread in threads:
            thread.start()
        while not stop.wait(0.5):
            if not threads[-1].is_alive():
                print("error: the API server stopped unexpectedly", file=sys.stderr)
                return 1
        print("stopping...", flush=True)
        return 0
    finally:
        stop.set()
        server.should_exit = True
        if queue is not None:
            queue.wake()
        for thread in reversed(threads):
            thread.join(10)
        if manager is not None:
            manager.stop()
        instance.dispose()
        sock.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        print("stopped", flush=True)


def _sync_quietly(follower: RegistryFollower) -> None:
    try:
        follower.sync()
    except Exception:  # storage not reachable yet: the next pass tries again
        logging.getLogger(__name__).exception("reading the code-location registry failed")


def _follow(follower: RegistryFollower, instance: LocusInstance, stop: threading.Event) -> None:
    """Re-read the registry when PostgreSQL announces a change (at once), or
    every ``interval`` seconds (SQLite, or a missed notification)."""
    from locus.storage.sql_registry import LOCATIONS_CHANNEL

    while not stop.is_set():
        try:
            with instance.storage.listen([LOCATIONS_CHANNEL]) as listener:
                while not stop.is_set():
                    # Listening first, then reading: no change can fall in between.
                    _sync_quietly(follower)
                    listener.wait(follower.interval)
        except Exception:  # the LISTEN connection was lost: listen again
            logging.getLogger(__name__).exception("listening for registry changes failed")
            stop.wait(follower.interval)


def dev(args: argparse.Namespace) -> int:
    """`locus dev`: every location's code server, the run queue and the API."""
    return _serve(args, with_queue=True)


def api_serve(args: argparse.Namespace) -> int:
    """`locus api serve`: the API only (no run queue); with a workspace, its code servers too."""
    return _serve(args, with_queue=False)

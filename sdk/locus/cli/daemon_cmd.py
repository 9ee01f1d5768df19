"""`locus daemon run` (schedules, sensors, the run queue, run monitoring and
retries, with its own code servers) and `locus daemon status` (each loop's
last heartbeat).

With no target flags and no ./workspace.yaml the daemon runs in registry
mode (how it runs on Kubernetes): its code locations are those the
instance's code-location registry names (the operator writes it), followed
as they come, go or move, and it never writes the registry itself. With
``run_launcher: {k8s: ...}`` the run queue and run monitoring stay off: the
operator hosts them.

SIGINT and SIGTERM stop the loops, then the code servers; a daemon standing
by (another one is active on the instance) just stops waiting."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from types import FrameType
from typing import TYPE_CHECKING

from locus.cli.output import table
from locus.cli.targets import add_target_flags
from locus.cli.workspace_cmd import workspace_from_args

if TYPE_CHECKING:
    from locus.workspace.config import Workspace
    from locus.workspace.manager import WorkspaceChanges


def add_run_flags(parser: argparse.ArgumentParser) -> None:
    from locus.daemon.heartbeat import DEFAULT_HEARTBEAT_INTERVAL
    from locus.workspace.registry_source import REGISTRY_POLL_SECONDS

    add_target_flags(parser)
    parser.add_argument(
        "--heartbeat-interval",
        type=float,
        default=DEFAULT_HEARTBEAT_INTERVAL,
        help=f"seconds between a standby daemon's tries to take over (default {DEFAULT_HEARTBEAT_INTERVAL:g})",
    )
    parser.add_argument(
        "--registry-interval",
        type=float,
        default=REGISTRY_POLL_SECONDS,
        help="registry mode (no target flags, no workspace.yaml): seconds between reads of the code-location "
        f"registry (default {REGISTRY_POLL_SECONDS:g})",
    )


def daemon_run(args: argparse.Namespace) -> int:
    from locus.cli.dev import StatusPrinter
    from locus.daemon.loops import Loop, build_loops, hosts_run_loops
    from locus.daemon.process import DaemonProcess
    from locus.instance.instance import LocusInstance
    from locus.launchers.local import LocalRunLauncher
    from locus.workspace.config import Workspace
    from locus.workspace.manager import WorkspaceManager
    from locus.workspace.registry_source import RegistryFollower

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    workspace = workspace_from_args(args, required=False)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    instance = LocusInstance.get()
    manager = WorkspaceManager(workspace or Workspace(()), instance, on_change=StatusPrinter(),
                               owns_registry=workspace is not None)
    launcher = LocalRunLauncher(manager, instance) if hosts_run_loops(instance) else None
    loops: list[Loop] = build_loops(instance, manager, launcher)
    follower = None
    if workspace is None:
        follower = RegistryFollower(instance, manager, interval=args.registry_interval, on_sync=_print_sync)
        loops.append(follower)

    def on_active() -> None:
        if follower is not None:
            print(f"daemon {daemon.daemon_id} is active; following the code-location registry", flush=True)
            try:
                follower.sync()
            except Exception:  # the follower's loop tries again on its next pass
                logging.getLogger(__name__).exception("reading the code-location registry failed")
            if not manager.names:
                print("  no code location is registered yet; each is picked up when it is (locally, pass "
                      "-w workspace.yaml or -f FILE to run your own code servers instead)", flush=True)
        else:
            print(f"daemon {daemon.daemon_id} is active; starting {len(manager.names)} code location(s):",
                  flush=True)
        manager.start()

    daemon = DaemonProcess(instance, manager, loops, heartbeat_interval=args.heartbeat_interval,
                           on_active=on_active)
    print(f"Locus daemon {daemon.daemon_id} (home {instance.home}, storage {instance.describe_storage()})",
          flush=True)
    if follower is not None:
        print(f"registry mode: no target flags and no ./workspace.yaml, so the code locations are those of the "
              f"instance's code-location registry (re-read every {follower.interval:g}s; the daemon never "
              f"writes it)", flush=True)
    print(f"loops: {', '.join(loop.name for loop in loops)}", flush=True)
    if launcher is None:
        print("run queue and run monitoring: off here (run_launcher is k8s: the operator hosts them)", flush=True)
    try:
        daemon.run(stop)
        print("stopping...", flush=True)
        return 0
    finally:
        stop.set()
        manager.stop()
        instance.dispose()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        print("stopped", flush=True)


def _print_sync(changes: WorkspaceChanges, workspace: Workspace) -> None:
    def where(name: str) -> str:
        entry = workspace.get(name)
        if entry is None:
            return ""
        return f" at unix:{entry.socket}" if entry.socket else f" at {entry.host}:{entry.port}"

    for name in changes.added:
        print(f"  + {name}{where(name)} (registered)", flush=True)
    for name in changes.changed:
        print(f"  ~ {name}{where(name)} (moved)", flush=True)
    for name in changes.removed:
        print(f"  - {name} (deregistered)", flush=True)


def daemon_status(args: argparse.Namespace) -> int:
    """Each daemon loop's last heartbeat and its age."""
    from locus.daemon.heartbeat import heartbeat_statuses
    from locus.instance.instance import LocusInstance

    with LocusInstance.get() as instance:
        heartbeats = instance.storage.get_daemon_heartbeats()
    if not heartbeats:
        print("no daemon has run on this instance; start one with `locus daemon run` (or `locus dev`)")
        return 0
    rows = [
        [s.daemon_type, "RUNNING" if s.healthy else ("FAILING" if s.error else "NOT RUNNING"),
         f"{s.age:.1f}s ago", s.daemon_id, s.error or ""]
        for s in heartbeat_statuses(heartbeats, time.time(), args.tolerance)
    ]
    print(table(rows, ["LOOP", "STATUS", "LAST HEARTBEAT", "DAEMON ID", "LAST ERROR"]))
    return 0

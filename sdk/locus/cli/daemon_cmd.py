"""`locus daemon run` (schedules, sensors, the run queue, run monitoring and
retries, with its own code servers) and `locus daemon status` (each loop's
last heartbeat).

SIGINT and SIGTERM stop the loops, then the code servers; a daemon standing
by (another one is active on the instance) just stops waiting."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from types import FrameType

from locus.cli.output import table
from locus.cli.targets import add_target_flags
from locus.cli.workspace_cmd import workspace_from_args


def add_run_flags(parser: argparse.ArgumentParser) -> None:
    from locus.daemon.heartbeat import DEFAULT_HEARTBEAT_INTERVAL

    add_target_flags(parser)
    parser.add_argument(
        "--heartbeat-interval",
        type=float,
        default=DEFAULT_HEARTBEAT_INTERVAL,
        help=f"seconds between a standby daemon's tries to take over (default {DEFAULT_HEARTBEAT_INTERVAL:g})",
    )


def daemon_run(args: argparse.Namespace) -> int:
    from locus.cli.dev import StatusPrinter
    from locus.daemon.loops import build_loops
    from locus.daemon.process import DaemonProcess
    from locus.instance.instance import LocusInstance
    from locus.launchers.local import LocalRunLauncher
    from locus.workspace.manager import WorkspaceManager

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    workspace = workspace_from_args(args)
    assert workspace is not None
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    instance = LocusInstance.get()
    manager = WorkspaceManager(workspace, instance, on_change=StatusPrinter())
    loops = build_loops(instance, manager, LocalRunLauncher(manager, instance))

    def on_active() -> None:
        print(f"daemon {daemon.daemon_id} is active; starting {len(manager.names)} code location(s):", flush=True)
        manager.start()

    daemon = DaemonProcess(instance, manager, loops, heartbeat_interval=args.heartbeat_interval,
                           on_active=on_active)
    print(f"Locus daemon {daemon.daemon_id} (home {instance.home}, storage {instance.describe_storage()})",
          flush=True)
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

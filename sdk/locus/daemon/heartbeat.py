"""Daemon heartbeats: what a loop writes after each pass, and how old is too
old. Pure apart from ``write_heartbeat``."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass

from locus.storage.base import Storage
from locus.storage.records import DaemonHeartbeat

# A standby daemon polls for the lease this often; loops write heartbeats at
# most once per MIN_HEARTBEAT_GAP_SECONDS (the run queue can pass many times a second).
DEFAULT_HEARTBEAT_INTERVAL = 5.0
MIN_HEARTBEAT_GAP_SECONDS = 1.0
# A loop whose last heartbeat is older than this is reported as not running.
DEFAULT_HEARTBEAT_TOLERANCE = 60.0


@dataclass(frozen=True)
class HeartbeatStatus:
    daemon_type: str
    daemon_id: str
    age: float
    healthy: bool
    error: str | None


def write_heartbeat(
    storage: Storage, daemon_type: str, daemon_id: str, now: float, interval: float, error: str | None = None
) -> None:
    info = {"pid": os.getpid(), "host": socket.gethostname(), "interval": interval, "error": error}
    storage.add_daemon_heartbeat(DaemonHeartbeat(daemon_type, daemon_id, now, info))


def heartbeat_statuses(
    heartbeats: Mapping[str, DaemonHeartbeat], now: float, tolerance: float = DEFAULT_HEARTBEAT_TOLERANCE
) -> list[HeartbeatStatus]:
    """One status per loop, by name: healthy when its last heartbeat is recent
    and its last pass raised nothing."""
    statuses = []
    for name in sorted(heartbeats):
        beat = heartbeats[name]
        age = max(0.0, now - beat.timestamp)
        error = beat.info.get("error")
        statuses.append(HeartbeatStatus(name, beat.daemon_id, age, age <= tolerance and not error, error))
    return statuses

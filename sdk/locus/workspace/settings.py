"""How closely the workspace manager supervises a code location: timeouts,
health-check interval and restart backoff, with per-location overrides from
workspace.yaml."""

from __future__ import annotations

from dataclasses import dataclass, replace

from locus.workspace.config import LocationEntry


@dataclass(frozen=True)
class LocationSettings:
    startup_timeout_seconds: float = 60.0
    rpc_timeout_seconds: float = 30.0
    health_interval_seconds: float = 1.0
    restart_backoff_initial: float = 0.5
    restart_backoff_max: float = 30.0

    def for_entry(self, entry: LocationEntry) -> LocationSettings:
        """These settings with the entry's own workspace.yaml values on top."""
        overrides = dict(entry.settings)
        return replace(self, **overrides) if overrides else self

    def backoff(self, failures: int) -> float:
        """Seconds to wait before restart number ``failures`` (1-based)."""
        if failures <= 0:
            return 0.0
        return float(min(self.restart_backoff_max, self.restart_backoff_initial * 2 ** (failures - 1)))

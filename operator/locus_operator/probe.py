"""Asking a code server pod what it loaded: its definition counts, or its
load error with the user's traceback.

The operator talks to pods directly (their IPs), not through the Service:
during a rollout the Service reaches only ready pods, but the status must
report the *new* revision's error while the old one keeps serving. The gRPC
client is synchronous, so calls run in threads; snapshots are fetched only
when their id is new."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field

from locus.codeserver.client import CodeServerClient
from locus.definitions.errors import LocusError
from locus.execution.events import ErrorInfo

PROBE_TIMEOUT_SECONDS = 5.0
_CACHE_SIZE = 4096


@dataclass(frozen=True)
class Probe:
    """One pod's code server as the operator saw it."""

    reachable: bool
    image: str | None = None
    load_error: ErrorInfo | None = None
    snapshot_id: str | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    detail: str = ""

    @property
    def loaded(self) -> bool:
        return self.reachable and self.load_error is None and self.snapshot_id is not None


class CodeServerProber:
    """Probes with a bounded cache of definition counts per snapshot id."""

    def __init__(self, timeout: float = PROBE_TIMEOUT_SECONDS) -> None:
        self._timeout = timeout
        self._counts: OrderedDict[str, dict[str, int]] = OrderedDict()

    def _probe(self, target: str) -> Probe:
        with CodeServerClient(target, default_timeout=self._timeout) as client:
            try:
                info = client.server_info()
                if info.load_error is not None:
                    return Probe(True, image=info.image, load_error=info.load_error)
                snapshot_id = client.snapshot_id()
                counts = self._counts.get(snapshot_id)
                if counts is None:
                    counts = dict(client.snapshot().counts)
                    self._counts[snapshot_id] = counts
                    while len(self._counts) > _CACHE_SIZE:
                        self._counts.popitem(last=False)
                return Probe(True, image=info.image, snapshot_id=snapshot_id, counts=counts)
            except LocusError as error:
                return Probe(False, detail=str(error))

    async def probe(self, host: str, port: int) -> Probe:
        return await asyncio.to_thread(self._probe, f"{host}:{port}")

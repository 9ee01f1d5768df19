"""The operator under a burst: N CodeLocations created at once → every one reconciled, and its peak memory.

Runs on the local cluster harness's API server (``e2e.local.apiserver``, in memory, no kubelet) with the CRDs
and ``locus operator run --namespace bench`` started first, untimed (``_harness``). This script watches the
CodeLocations, Deployments and Services of namespace ``bench``, then creates N CodeLocations as fast as it can
(16 POSTs in flight). The time runs from just before the first POST until every location has its Deployment
and its Service and a status with conditions for its current generation (``status.observedGeneration ==
metadata.generation``), as the watches deliver them. Reported: that time as ``seconds`` (issue 6's target:
200 locations within 10 s) and the operator process's VmHWM at that moment as ``rss_kib`` (target: under
200 MB).

Locus only: there is no Dagster operator to compare with.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import _common
import _harness

args = _common.parse_args()
if args.system != "locus":
    sys.exit("operator_reconcile_200 measures Locus's Kubernetes operator; Dagster has no equivalent")

IN_FLIGHT = 16
WAIT_S = 120
names = [f"burst-{n:04d}" for n in range(args.size)]
wanted = set(names)
prefix = len("locus-codeserver-")
deployments: set[str] = set()
services: set[str] = set()
reconciled: set[str] = set()  # status written for the current generation
finished_at: list[float] = []
changed = threading.Condition()


def done() -> bool:
    return wanted <= reconciled and wanted <= deployments and wanted <= services


def note(record: Callable[[], None], received: float) -> None:
    with changed:
        record()
        if done() and not finished_at:
            finished_at.append(received)
            changed.notify_all()


def on_location(kind: str, obj: dict[str, Any], received: float) -> None:
    meta, status = obj["metadata"], obj.get("status") or {}
    current = status.get("observedGeneration") == meta.get("generation") and bool(status.get("conditions"))
    if kind != "DELETED" and current:
        note(lambda: reconciled.add(meta["name"]), received)


def on_child(into: set[str]) -> Callable[[str, dict[str, Any], float], None]:
    def on_event(kind: str, obj: dict[str, Any], received: float) -> None:
        if kind == "ADDED":
            note(lambda: into.add(obj["metadata"]["name"][prefix:]), received)

    return on_event


with _harness.running_cluster(args.scratch) as cluster:
    watches = [
        _harness.Watch(cluster.url, _harness.LOCATIONS, on_location),
        _harness.Watch(cluster.url, _harness.DEPLOYMENTS, on_child(deployments)),
        _harness.Watch(cluster.url, _harness.SERVICES, on_child(services)),
    ]
    for watch in watches:
        watch.__enter__()
    try:

        def create(name: str) -> None:
            response = cluster.client.post(_harness.LOCATIONS, json=_harness.code_location(name))
            assert response.status_code == 201, (response.status_code, response.text[:500])

        with ThreadPoolExecutor(IN_FLIGHT) as pool:
            started = time.perf_counter()
            list(pool.map(create, names))
        with changed:
            changed.wait_for(lambda: bool(finished_at) or any(w.error for w in watches), WAIT_S)
        rss_kib = _harness.peak_rss_kib(cluster.operator.pid)
        failed = [w.error for w in watches if w.error is not None]
        assert not failed, f"a watch failed: {failed[0]!r}"
        assert finished_at, (
            f"not reconciled within {WAIT_S} s: {len(deployments)} Deployments, {len(services)} Services,"
            f" {len(reconciled)} statuses of {len(names)}"
        )
    finally:
        for watch in watches:
            watch.__exit__()
    assert cluster.operator.poll() is None, "the operator exited"

_common.emit(
    locations=len(names),
    seconds=finished_at[0] - started,
    rss_kib=rss_kib,
)

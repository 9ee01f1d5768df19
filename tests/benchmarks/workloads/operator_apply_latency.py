"""The operator's reaction time: a CodeLocation created → the ADDED event of its code-server Deployment.

Runs on the local cluster harness's API server (``e2e.local.apiserver``, in memory, no kubelet) with the CRDs
and ``locus operator run --namespace bench`` started first, untimed (``_harness``). This script watches the
Deployments of namespace ``bench``, then creates N CodeLocations one after another, each timed from just before
its POST to the watch delivering the ADDED event of ``locus-codeserver-<name>``, the next created only once that
arrived. Reported: p50 as ``seconds`` (issue 6's target: under 200 ms), p90 and max in ms.

Locus only: there is no Dagster operator to compare with.
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from typing import Any

import _common
import _harness

args = _common.parse_args()
if args.system != "locus":
    sys.exit("operator_apply_latency measures Locus's Kubernetes operator; Dagster has no equivalent")

WAIT_S = 30
added: dict[str, float] = {}
arrived = threading.Condition()


def on_deployment(kind: str, obj: dict[str, Any], received: float) -> None:
    if kind == "ADDED":
        with arrived:
            added.setdefault(obj["metadata"]["name"], received)
            arrived.notify_all()


latencies: list[float] = []
with _harness.running_cluster(args.scratch) as cluster:
    with _harness.Watch(cluster.url, _harness.DEPLOYMENTS, on_deployment) as watch:
        for n in range(args.size):
            name = f"apply-{n:04d}"
            deployment = _harness.deployment_name(name)
            started = time.perf_counter()
            response = cluster.client.post(_harness.LOCATIONS, json=_harness.code_location(name))
            assert response.status_code == 201, (response.status_code, response.text[:500])
            with arrived:
                done = arrived.wait_for(lambda d=deployment: d in added or watch.error is not None, WAIT_S)
            assert watch.error is None, f"the deployment watch failed: {watch.error!r}"
            assert done, f"no Deployment {deployment} within {WAIT_S} s"
            latencies.append(added[deployment] - started)
    assert cluster.operator.poll() is None, "the operator exited"

p50 = statistics.median(latencies)
_common.emit(
    locations=len(latencies),
    seconds=p50,
    p50_ms=p50 * 1000,
    p90_ms=_common.percentile(latencies, 0.90) * 1000,
    max_ms=max(latencies) * 1000,
)

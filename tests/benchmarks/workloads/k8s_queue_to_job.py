"""Issue 7's first Kubernetes target: a run queued → its Job created, p50 under 100 ms.

On the local cluster harness with a kubelet, so the run Jobs really run (``_k8s_stack``: ``LocalCluster``, an
Instance on the harness's scratch PostgreSQL database, one CodeLocation, ``locus operator run``; all Ready
before anything is timed). The operator hosts the Instance's run queue, woken by PostgreSQL NOTIFY.

This script watches the Jobs of namespace ``bench``, then launches N runs of the location's ``tiny`` job
through the REST API (``POST /api/runs``, the API Service's clusterIP), one every ``SPACING_S``, without
waiting for anything in between; the Instance sets no concurrency limit, so the queue admits each run as
soon as it sees it. Per run, the latency is from its RUN_ENQUEUED event (stored by the API pod, wall clock)
to this script receiving the ADDED watch event of its run Job (wall clock of the same machine); a Job's
``creationTimestamp`` has only second resolution. Reported: p50 as ``seconds``, p90 and max in ms, and the
p50 of the two halves: RUN_ENQUEUED → RUN_STARTING (the queue's wake-up and admission; the launcher stores
RUN_STARTING just before it creates the Job) and RUN_STARTING → Job ADDED (the Job's POST and the watch).
Finally every run must end in SUCCESS: the Jobs really ran.

Why one run a second: the run pods are local processes on the same machine as the operator, the API and
PostgreSQL (a tiny run's pod takes about 0.5 s on an idle machine, mostly Python start-up). Every 0.3 s, they
saturate a 2-core machine; the operator is starved, each launch takes 0.3-0.5 s instead of 10 ms, and the queue
falls further behind with every run (p50 3-4 s, max 10-11 s). With the same 0.3 s spacing and run pods that
only sleep, the p50 is 13 ms. On a cluster, run pods do not share the operator's CPU; at one a second they do
not saturate it here.

Locus only: Dagster's QueuedRunCoordinator dequeues on a 5 s interval by default.
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from typing import Any

import _common
import _harness
import _k8s_stack

args = _common.parse_args()
if args.system != "locus":
    sys.exit("k8s_queue_to_job measures Locus's Kubernetes operator; Dagster has no equivalent")
assert args.postgres_url, "--postgres-url is required"

SPACING_S = 1.0
CREATED_WAIT_S = 60
FINISHED_WAIT_S = 300

added: dict[str, float] = {}  # run id -> wall-clock time its Job's ADDED event arrived
arrived = threading.Condition()
offset = time.time() - time.perf_counter()  # Watch stamps events with perf_counter


def on_job(kind: str, obj: dict[str, Any], received: float) -> None:
    labels = obj["metadata"].get("labels") or {}
    run_id = labels.get(_k8s_stack.RUN_ID_LABEL)
    if kind == "ADDED" and run_id and labels.get(_k8s_stack.COMPONENT_LABEL) == "run":
        with arrived:
            added.setdefault(run_id, received + offset)
            arrived.notify_all()


with _k8s_stack.running_stack(args.scratch, args.postgres_url) as stack:
    with _harness.Watch(stack.cluster.url, _k8s_stack.JOBS, on_job) as watch:
        run_ids: list[str] = []
        next_launch = time.monotonic()
        for _ in range(args.size):
            time.sleep(max(0.0, next_launch - time.monotonic()))
            next_launch += SPACING_S
            run_ids.append(stack.launch("tiny"))
        with arrived:
            done = arrived.wait_for(lambda: all(r in added for r in run_ids) or watch.error is not None,
                                    CREATED_WAIT_S)
        assert watch.error is None, f"the Job watch failed: {watch.error!r}"
        missing = [r for r in run_ids if r not in added]
        assert done and not missing, f"{len(missing)} runs have no Job after {CREATED_WAIT_S} s: {missing[:3]}"

    enqueued = {r: stack.event_time(r, "RUN_ENQUEUED") for r in run_ids}
    starting = {r: stack.event_time(r, "RUN_STARTING") for r in run_ids}
    unfinished = set(run_ids)

    def all_finished() -> bool:
        unfinished.difference_update({r for r in unfinished if stack.status(r) in _k8s_stack.FINISHED})
        return not unfinished

    _k8s_stack.wait_for("every run finished", all_finished, FINISHED_WAIT_S, 0.5)
    failed = [r for r in run_ids if stack.status(r) != "SUCCESS"]
    assert not failed, f"{len(failed)} runs did not succeed; the first: {stack.events(failed[0])[-5:]}"
    assert stack.operator.poll() is None, "the operator exited"

latencies = [added[r] - enqueued[r] for r in run_ids]
queue_part = [starting[r] - enqueued[r] for r in run_ids]
job_part = [added[r] - starting[r] for r in run_ids]
p50 = statistics.median(latencies)
_common.emit(
    runs=len(latencies),
    seconds=p50,
    p50_ms=p50 * 1000,
    p90_ms=_common.percentile(latencies, 0.90) * 1000,
    max_ms=max(latencies) * 1000,
    enqueued_to_starting_p50_ms=statistics.median(queue_part) * 1000,
    starting_to_job_p50_ms=statistics.median(job_part) * 1000,
)

"""Issue 7's second Kubernetes target: a run pod dies → its run is FAILURE, in under 5 s (Dagster's run
monitoring notices a dead run worker only after its start or poll timeouts: 180 s by default).

On the local cluster harness with a kubelet (``_k8s_stack``: ``LocalCluster``, an Instance on the harness's
scratch PostgreSQL database with the run monitor at its defaults, one CodeLocation, ``locus operator run``;
all Ready before anything is timed). N times, one after another: launch a run of the location's ``sleepy``
job through the REST API (one op sleeping in the run pod itself, the in-process executor), wait until the
op's STEP_START is stored (the run pod is in user code), SIGKILL the run pod's container process (the kubelet
runs it as a local process; ``LocalCluster.pid_of``), and poll storage every 20 ms until the run is
FAILURE. The latency is from just before the kill to the RUN_FAILURE event's own timestamp (the operator's
wall clock, the same machine's). Reported: p50 as ``seconds``, max in ms, and how many failures came from
the operator's pod events (``run pod ... failed: ...``) rather than the run monitor's periodic check.

Locus only: there is no Dagster operator to compare with.
"""

from __future__ import annotations

import os
import signal
import statistics
import sys
import time
from typing import Any

import _common
import _k8s_stack

args = _common.parse_args()
if args.system != "locus":
    sys.exit("k8s_pod_failure measures Locus's Kubernetes operator; Dagster has no equivalent")
assert args.postgres_url, "--postgres-url is required"

STARTED_WAIT_S = 120
FAILED_WAIT_S = 30


def running_pid(stack: _k8s_stack.Stack, run_id: str) -> tuple[str, int] | None:
    pods: list[dict[str, Any]] = stack.run_pods(run_id)
    for pod in pods:
        name = pod["metadata"]["name"]
        pid = stack.cluster.pid_of(_k8s_stack.NAMESPACE, name)
        if pid is not None:
            return name, pid
    return None


def step_started(stack: _k8s_stack.Stack, run_id: str) -> bool:
    status = stack.status(run_id)
    assert status not in _k8s_stack.FINISHED, f"run {run_id} ended before its pod was killed: {stack.events(run_id)}"
    return any(kind == "STEP_START" for kind, _ in stack.events(run_id))


latencies: list[float] = []
by_pod_event = 0
with _k8s_stack.running_stack(args.scratch, args.postgres_url) as stack:
    for _ in range(args.size):
        run_id = stack.launch("sleepy")
        _k8s_stack.wait_for(f"run {run_id} in its step", lambda r=run_id: step_started(stack, r), STARTED_WAIT_S, 0.1)
        found = running_pid(stack, run_id)
        assert found is not None, f"run {run_id}: no running run pod"
        pod, pid = found
        killed = time.time()
        os.kill(pid, signal.SIGKILL)
        _k8s_stack.wait_for(f"run {run_id} FAILURE", lambda r=run_id: stack.status(r) in _k8s_stack.FINISHED,
                            FAILED_WAIT_S, 0.02)
        assert stack.status(run_id) == "FAILURE", (stack.status(run_id), stack.events(run_id)[-5:])
        failure = [m for kind, m in stack.events(run_id) if kind == "RUN_FAILURE"]
        by_pod_event += any(m.startswith(f"run pod {pod} failed") for m in failure)
        latencies.append(stack.event_time(run_id, "RUN_FAILURE") - killed)
    assert stack.operator.poll() is None, "the operator exited"

p50 = statistics.median(latencies)
_common.emit(
    runs=len(latencies),
    seconds=p50,
    p50_ms=p50 * 1000,
    max_ms=max(latencies) * 1000,
    by_pod_event=by_pod_event,
)

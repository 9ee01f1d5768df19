"""Queued-to-launched latency of the run queue on PostgreSQL: the time from a run's RUN_ENQUEUED event to
its RUN_STARTING event, over N runs queued one after another.

The queue runs its own loop (``RunQueue.run``) in a thread and learns of each run only through LISTEN/NOTIFY:
runs are queued through a second instance (another connection, as the API or a schedule in another process
would) and nothing calls ``wake()``. Its poll interval is set to 60 s, so a run launched sooner was launched
because of the notification. The launcher records RUN_STARTING and spawns no process: process start-up would
dominate and is not the queue's latency. Reported ``seconds`` is the p50; ``p99_seconds`` and ``max_seconds``
come along. For comparison, Dagster's QueuedRunCoordinator dequeues on a 5 s interval by default.
"""

import statistics
import threading
import time

import _common

args = _common.parse_args()
assert args.postgres_url, "--postgres-url is required"
if args.system == "dagster":
    raise SystemExit("queue_latency is measured for Locus only (Dagster's default dequeue interval is 5 s)")

from locus.daemon.run_queue import RunQueue  # type: ignore[import-not-found, unused-ignore]  # noqa: E402
from locus.execution.events import Event, EventType, RunStatus  # type: ignore[import-not-found, unused-ignore]  # noqa: E402
from locus.execution.runs import RunRecord  # type: ignore[import-not-found, unused-ignore]  # noqa: E402
from locus.instance.instance import LocusInstance  # type: ignore[import-not-found, unused-ignore]  # noqa: E402


class RecordingLauncher:
    def __init__(self, instance) -> None:
        self.instance = instance
        self.launched = threading.Semaphore(0)

    def launch(self, run) -> bool:
        self.instance.store_event(Event(run.run_id, EventType.RUN_STARTING))
        self.instance.store_event(Event(run.run_id, EventType.RUN_SUCCESS))  # frees the slot at once
        self.launched.release()
        return True

    def terminate(self, run_id):
        return False

    def check_run_worker(self, run):
        raise NotImplementedError

    def kill_run_worker(self, run):
        return False


queue_side = _common.persistent_instance("locus", args.scratch, args.postgres_url)
submitter = LocusInstance.get()  # a second instance: its own connections
launcher = RecordingLauncher(queue_side)
queue = RunQueue(queue_side, launcher, poll_interval=60)
stop = threading.Event()
thread = threading.Thread(target=queue.run, args=(stop,), daemon=True)
thread.start()
time.sleep(0.2)  # the queue's first (empty) pass and its LISTEN happen before the first run is queued

run_ids = []
for n in range(args.size):
    run_id = f"run-{n:05d}"
    submitter.add_run(RunRecord(run_id, "job", status=RunStatus.QUEUED))
    submitter.store_event(Event(run_id, EventType.RUN_ENQUEUED))
    assert launcher.launched.acquire(timeout=10), f"run {run_id} was not launched within 10 s"
    run_ids.append(run_id)
stop.set()
thread.join(5)


def event_time(run_id: str, event_type) -> float:
    (record,) = submitter.get_events(run_id, event_types=[event_type])
    return record.event.timestamp


latencies = sorted(event_time(r, EventType.RUN_STARTING) - event_time(r, EventType.RUN_ENQUEUED) for r in run_ids)
p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
_common.emit(
    runs=len(latencies),
    seconds=statistics.median(latencies),
    p50_seconds=statistics.median(latencies),
    p99_seconds=p99,
    max_seconds=latencies[-1],
)

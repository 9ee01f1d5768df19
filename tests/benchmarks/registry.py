"""The benchmark workloads: one line each. A workload is a script in ``workloads/`` (see ``_common.py``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Workload:
    name: str  # the table row, and what ``--only`` matches (the script name matches too)
    about: str  # what is measured, for the table
    size: int = 0  # passed as ``--size``: assets or ops
    smoke_size: int = 0  # ``--size`` in ``--smoke`` mode
    width: int = 20  # assets per layer, for the layered-asset workloads
    target: float | None = None  # the ratio of medians (Locus / Dagster) must be at most this
    max_runs: int | None = None  # fewer counted runs where Dagster takes 10 s or more per run
    postgres: bool = False  # the harness gives each run a fresh scratch database
    persists: bool = False  # the run must leave at least one storage row per step behind
    script: str = ""  # ``workloads/<script>.py``; the name when empty
    timed: str = ""  # when set, the script times this span itself and reports it as ``seconds``
    rss: str = ""  # when set, the script reports this process's peak RSS itself as ``rss_kib``
    max_rss_mb: float | None = None  # Locus's reported peak RSS must stay under this many MB (10^6 bytes)
    # Workloads with no Dagster counterpart (a REST API, the queue's NOTIFY wake-up) run on Locus only.
    systems: tuple[str, ...] = ("locus", "dagster")

    @property
    def path(self) -> str:
        return f"{self.script or self.name}.py"


_START = "from spawning `dagster api grpc` / `locus api grpc` to the first SERVING answer of the gRPC health check"
_SERVER = "the code server process's VmHWM when it first answered SERVING (not the workload script's)"
_FETCH = "the client's first fetch and decode of the whole location snapshot; the server starts before, untimed"
_QUEUE = "the p50 of RUN_ENQUEUED → RUN_STARTING per run, the queue woken by PostgreSQL NOTIFY (no process spawned)"
_CLIENT = "the client process's VmHWM while it holds the decoded snapshot (the server process is not counted)"
_RUNS_LIST = "the p99 of sequential `GET /api/runs?limit=100` from a loopback httpx client to uvicorn (target 30 ms)"
_SSE = "the p99 from `store_event` to the SSE client receiving the event (target 100 ms)"

_APPLY = "the p50 from a CodeLocation's POST to its Deployment's ADDED watch event, one at a time (target 200 ms)"
_RECONCILE = "from the first POST (16 in flight) until each has its Deployment, Service, current status (target 10 s)"
_OPERATOR = "the operator process's VmHWM once every location is reconciled (not the workload script's)"
_QUEUE_TO_JOB = "the p50 from a run's RUN_ENQUEUED to its run Job's ADDED watch event, a run a second (target 100 ms)"
_POD_FAILURE = "the p50 from SIGKILL of a run pod's process to the run's stored RUN_FAILURE, one at a time (target 5 s)"

_TICK = "from the start of the scheduler pass at which every schedule is due until every run is stored QUEUED"

# fmt: off
WORKLOADS = [
    Workload("import", "`import locus` / `import dagster`", script="import_sdk", target=1 / 5),
    Workload("build_assets_1k", "1,000 layered assets: import, build Definitions", 1_000, 20, 100,
             script="build_assets"),
    Workload("build_assets_10k", "10,000 layered assets: import, build Definitions", 10_000, 20, 100,
             script="build_assets", target=1 / 10, max_runs=3),
    Workload("snapshot_build_10k", "10,000 layered assets: import, build Definitions, build + serialise the snapshot",
             10_000, 20, 100, script="snapshot_build", max_runs=3),
    Workload("materialize_memory", "materialize 200 assets, in memory", 200, 20, target=1 / 10),
    Workload("job_in_process", "100-op linear job, execute_in_process", 100, 10),
    Workload("materialize_sqlite", "materialize 200 assets, SQLite instance", 200, 20, max_runs=3, persists=True),
    Workload("materialize_postgres", "materialize 200 assets, PostgreSQL instance", 200, 20, target=1 / 5,
             max_runs=3, postgres=True, persists=True),
    Workload("codeserver_start_1k", "code server start → gRPC health SERVING, 1,000 layered assets", 1_000, 20,
             100, script="codeserver_start", target=1 / 5, timed=_START, rss=_SERVER),
    Workload("codeserver_start_10k", "code server start → gRPC health SERVING, 10,000 layered assets", 10_000, 20,
             100, script="codeserver_start", max_runs=3, timed=_START, rss=_SERVER),
    Workload("snapshot_fetch_1k", "first location snapshot fetch + decode, 1,000 layered assets", 1_000, 20, 100,
             script="snapshot_fetch", timed=_FETCH, rss=_CLIENT),
    Workload("snapshot_fetch_10k", "first location snapshot fetch + decode, 10,000 layered assets", 10_000, 20, 100,
             script="snapshot_fetch", target=1 / 10, max_runs=3, timed=_FETCH, rss=_CLIENT, max_rss_mb=150),
    Workload("queue_latency", "queued → launched latency p50 over 200 runs, PostgreSQL NOTIFY", 200, 5,
             postgres=True, timed=_QUEUE, systems=("locus",)),
    Workload("schedules_1000", "1,000 schedules due in the same minute → every run created (Locus only)", 1_000, 5,
             max_runs=3, timed=_TICK, systems=("locus",)),
    # Locus only: Dagster has no REST API, so its side of these two rows fails saying so.
    Workload("api_runs_list", "REST `GET /api/runs?limit=100` over 100,000 runs, PostgreSQL", 100_000, 1, 300,
             postgres=True, max_runs=3, timed=_RUNS_LIST, systems=("locus",)),
    Workload("api_sse_latency", "REST event stream: store_event → SSE client, 300 events, PostgreSQL", 300, 1, 20,
             postgres=True, max_runs=3, timed=_SSE, systems=("locus",)),
    Workload("operator_apply_latency", "operator: CodeLocation created → its Deployment, p50 over 50 (Locus only)", 50,
             5, timed=_APPLY, systems=("locus",)),
    Workload("operator_reconcile_200", "operator: 200 CodeLocations created at once → all reconciled (Locus only)",
             200, 20, timed=_RECONCILE, rss=_OPERATOR, max_rss_mb=200, systems=("locus",)),
    Workload("k8s_queue_to_job", "Kubernetes: run queued → its Job created, p50 over 100 runs (Locus only)", 100, 5,
             postgres=True, max_runs=3, timed=_QUEUE_TO_JOB, systems=("locus",)),
    Workload("k8s_pod_failure", "Kubernetes: run pod killed → run FAILURE, p50 over 10 kills (Locus only)", 10, 2,
             postgres=True, max_runs=3, timed=_POD_FAILURE, systems=("locus",)),
]
# fmt: on

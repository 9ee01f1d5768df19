"""From ``store_event`` to an SSE client of ``GET /api/runs/{id}/events/stream`` receiving it, on PostgreSQL.

The API runs as a separate process (uvicorn on loopback, token configured); this process opens the stream
with httpx in a reader thread, then stores N events into the run at irregular intervals (10-60 ms) through
the storage layer, noting the time just before each ``store_event``; the reader notes when each event's
``data:`` line arrives. Latency is the difference (one clock: both ends are in this process). A final
RUN_SUCCESS must end the stream. Reported: p99 as ``seconds`` (target: under 100 ms), p50/p99 in ms.

Locus only: Dagster has no server-sent-events API, so ``--system dagster`` fails saying so.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import _common

args = _common.parse_args()
if args.system != "locus":
    sys.exit("api_sse_latency measures Locus's REST API; Dagster has no equivalent endpoint")
assert args.postgres_url, "--postgres-url is required"

import httpx  # noqa: E402

from locus.execution.events import Event, EventType, RunStatus  # type: ignore[import-not-found, unused-ignore]  # noqa: E402
from locus.execution.runs import RunRecord  # type: ignore[import-not-found, unused-ignore]  # noqa: E402
from locus.instance.instance import LocusInstance  # type: ignore[import-not-found, unused-ignore]  # noqa: E402

TOKEN = "bench-token"
SERVER = """
import sys, uvicorn
from locus.api.app import create_app
from locus.instance.instance import LocusInstance
uvicorn.run(create_app(LocusInstance.get()), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            lifespan="off")
"""


home = Path(args.scratch) / "home"
home.mkdir()
(home / "locus.yaml").write_text(f'storage:\n  postgres:\n    url: "{args.postgres_url}"\n')
instance = LocusInstance.for_url(args.postgres_url, home)
run_id = "sse-bench"
instance.add_run(RunRecord(run_id, "bench", RunStatus.NOT_STARTED))
instance.store_event(Event(run_id, EventType.RUN_START, "started"))

port = _common.free_port()
env = {**os.environ, "LOCUS_HOME": str(home), "LOCUS_API_TOKEN": TOKEN}
server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], cwd=args.scratch, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
received: dict[int, float] = {}
ended = threading.Event()
opened = threading.Event()
try:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline and server.poll() is None, "the API did not start"
        time.sleep(0.05)

    def read() -> None:
        url = f"http://127.0.0.1:{port}/api/runs/{run_id}/events/stream"
        with httpx.stream("GET", url, headers=headers, timeout=120) as response:
            assert response.status_code == 200, response.read()
            opened.set()
            for line in response.iter_lines():
                if line.startswith("data: "):
                    data = json.loads(line[6:])
                    received.setdefault(data.get("storage_id", -1), time.time())
                elif line == "event: end":
                    ended.set()
                    return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert opened.wait(30), "the stream did not open"
    time.sleep(0.3)  # past the replay of the first events
    rng = random.Random(7)
    sent: dict[int, float] = {}
    for n in range(args.size):
        time.sleep(rng.uniform(0.01, 0.06))
        before = time.time()
        sent[instance.store_event(Event(run_id, EventType.LOG, f"line {n}"))] = before
    sent[instance.store_event(Event(run_id, EventType.RUN_SUCCESS, "done"))] = time.time()
    reader.join(30)
    assert ended.is_set(), "the stream did not end after RUN_SUCCESS"
finally:
    server.terminate()
    try:
        server.wait(20)
    except subprocess.TimeoutExpired:
        server.kill()
    instance.dispose()

missing = sorted(set(sent) - set(received))
assert not missing, f"events never received: {missing[:10]}"
latencies = [received[i] - sent[i] for i in sent]
p99 = _common.percentile(latencies, 0.99)
_common.emit(
    events=len(latencies),
    seconds=p99,
    p50_ms=statistics.median(latencies) * 1000,
    p99_ms=p99 * 1000,
    max_ms=max(latencies) * 1000,
)

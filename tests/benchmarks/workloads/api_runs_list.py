"""``GET /api/runs?limit=100`` over N runs in PostgreSQL, from a loopback load generator.

The runs are bulk-loaded with ``COPY`` into the storage layer's own tables (the schema is created by
opening the instance), then the API runs as a separate process (uvicorn, with a token configured as in a
deployment) and an httpx client sends sequential requests for the newest page, then for pages found by
following ``next_cursor``. Reported: the first-page p99 as ``seconds`` (target: under 30 ms), and p50/p99
of both kinds in milliseconds.

Locus only: Dagster has no REST API (its webserver speaks GraphQL), so ``--system dagster`` fails saying so.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import _common

args = _common.parse_args()
if args.system != "locus":
    sys.exit("api_runs_list measures Locus's REST API; Dagster has no equivalent endpoint")
assert args.postgres_url, "--postgres-url is required"

import httpx  # noqa: E402
import psycopg  # noqa: E402

from locus.instance.instance import LocusInstance  # type: ignore[import-not-found, unused-ignore]  # noqa: E402
from locus.storage.tables import run_tags, runs  # type: ignore[import-not-found, unused-ignore]  # noqa: E402

TOKEN = "bench-token"
# The API as `locus api serve` builds it (instance from $LOCUS_HOME, token from the environment), under
# uvicorn bound by uvicorn itself. (`locus api serve` binds its own socket without IPPROTO_TCP, so asyncio
# leaves Nagle on and every keep-alive answer waits ~40 ms for a delayed ACK: reported, fixed in the CLI.)
SERVER = """
import sys, uvicorn
from locus.api.app import create_app
from locus.instance.instance import LocusInstance
uvicorn.run(create_app(LocusInstance.get()), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            lifespan="off")
"""
STATUSES = ("SUCCESS", "SUCCESS", "SUCCESS", "FAILURE", "CANCELED")
REQUESTS = 1000 if args.size >= 10_000 else 50
WARMUP = 100 if args.size >= 10_000 else 10


def load_runs(url: str, count: int) -> None:
    """``count`` finished runs with two tags each, one second apart, straight into the tables."""
    columns = [c.name for c in runs.columns if c.name != "id"]
    t0 = time.time() - count
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY {runs.name} ({', '.join(columns)}) FROM STDIN") as copy:
            for n in range(count):
                run_id = str(uuid.UUID(int=n + 1))
                tags = {"team": f"team-{n % 7}", "n": str(n)}
                body = {"run_config": {}, "tags": tags, "asset_selection": None, "step_keys_to_execute": None,
                        "origin": {"location_name": f"loc-{n % 3}"}}
                created = t0 + n
                row = {"run_id": run_id, "job_name": f"job_{n % 20}", "status": STATUSES[n % len(STATUSES)],
                       "location_name": f"loc-{n % 3}", "parent_run_id": None, "root_run_id": None,
                       "run_body": json.dumps(body), "created_at": created, "updated_at": created + 5,
                       "start_time": created + 1, "end_time": created + 5}
                copy.write_row([row[c] for c in columns])
        with cur.copy(f"COPY {run_tags.name} (run_id, key, value) FROM STDIN") as copy:
            for n in range(count):
                run_id = str(uuid.UUID(int=n + 1))
                copy.write_row([run_id, "team", f"team-{n % 7}"])
                copy.write_row([run_id, "n", str(n)])
        cur.execute(f"ANALYZE {runs.name}")
        cur.execute(f"ANALYZE {run_tags.name}")


home = os.path.join(args.scratch, "home")
os.makedirs(home)
with open(os.path.join(home, "locus.yaml"), "w") as f:
    f.write(f'storage:\n  postgres:\n    url: "{args.postgres_url}"\n')
LocusInstance.for_url(args.postgres_url, Path(home)).dispose()  # creates the schema
load_start = time.perf_counter()
load_runs(args.postgres_url, args.size)
load_seconds = time.perf_counter() - load_start

port = _common.free_port()
env = {**os.environ, "LOCUS_HOME": home, "LOCUS_API_TOKEN": TOKEN}
server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], cwd=args.scratch, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {TOKEN}"})
    deadline = time.monotonic() + 60
    while True:
        try:
            if client.get("/healthz").status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline and server.poll() is None, "the API did not start"
        time.sleep(0.05)

    def timed(params: dict[str, str | int]) -> tuple[float, dict]:
        start = time.perf_counter()
        response = client.get("/api/runs", params=params)
        elapsed = time.perf_counter() - start
        assert response.status_code == 200, response.text
        return elapsed, response.json()

    for _ in range(WARMUP):
        timed({"limit": 100})
    first_page: list[float] = []
    for _ in range(REQUESTS):
        elapsed, body = timed({"limit": 100})
        first_page.append(elapsed)
    assert len(body["runs"]) == min(100, args.size)
    assert body["runs"][0]["run_id"] == str(uuid.UUID(int=args.size))  # newest first

    # Following cursors: later pages cost the same (an indexed id comparison).
    later: list[float] = []
    cursor = body["next_cursor"]
    for _ in range(REQUESTS // 4):
        elapsed, body = timed({"limit": 100, **({"cursor": cursor} if cursor else {})})
        later.append(elapsed)
        cursor = body["next_cursor"]  # back to the first page after the last
    client.close()
finally:
    server.terminate()
    try:
        server.wait(20)
    except subprocess.TimeoutExpired:
        server.kill()

p99 = _common.percentile(first_page, 0.99)
_common.emit(
    runs=args.size,
    requests=len(first_page),
    seconds=p99,
    p50_ms=statistics.median(first_page) * 1000,
    p99_ms=p99 * 1000,
    cursor_pages_p50_ms=statistics.median(later) * 1000,
    cursor_pages_p99_ms=_common.percentile(later, 0.99) * 1000,
    load_seconds=load_seconds,
)

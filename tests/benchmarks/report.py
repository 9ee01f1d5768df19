"""The results as a markdown table, and the page ``docs/benchmarks.md`` around it."""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import subprocess
from dataclasses import dataclass, field
from typing import TypeGuard

from measure import Sample
from registry import Workload

HEADER = (
    "| workload | runs | Locus min / median | Dagster min / median | Locus / Dagster (medians) "
    "| per step, Locus / Dagster | peak RSS, Locus / Dagster | target | holds |\n"
    "|---|---|---|---|---|---|---|---|---|"
)


@dataclass
class Outcome:
    """The counted runs of one workload on one system, or why they stopped."""

    samples: list[Sample] = field(default_factory=list)
    error: str | None = None

    def median(self) -> float:
        return statistics.median(s.seconds for s in self.samples)


def table(workloads: list[Workload], results: dict[str, dict[str, Outcome]]) -> str:
    rows = [HEADER]
    for w in workloads:
        locus, dagster = results[w.name].get("locus"), results[w.name].get("dagster")
        ratio = locus.median() / dagster.median() if _ok(locus) and _ok(dagster) else None
        runs = max((len(o.samples) for o in (locus, dagster) if o), default=0)
        cells = [
            f"{w.name}: {w.about}",
            str(runs),
            _timing(locus),
            _timing(dagster),
            "—" if ratio is None else f"{ratio:.3f} = 1/{1 / ratio:.1f}" if ratio < 1 else f"{ratio:.2f}",
            f"{_per_step(locus)} / {_per_step(dagster)}",
            f"{_peak_rss(locus)} / {_peak_rss(dagster)}",
            "—" if w.target is None else f"≤ 1/{1 / w.target:g}",
            "—" if w.target is None or ratio is None else "yes" if ratio <= w.target else "**no**",
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def notes(workloads: list[Workload], results: dict[str, dict[str, Outcome]], runs: int) -> list[str]:
    lines: list[str] = []
    described: dict[tuple[str, str], str] = {}  # (timed, rss) -> the first workload described with them
    for w in workloads:
        if w.max_runs and w.max_runs < runs:
            slow = "Dagster takes" if "dagster" in w.systems else "the workload takes"
            lines.append(f"`{w.name}` counts at most {w.max_runs} runs: {slow} 10 s or more per run.")
        left = {s: o.samples[-1].rows for s, o in results[w.name].items() if o.samples}
        if any(rows is not None for rows in left.values()):
            counts = ", ".join(f"{system} {rows:,}" for system, rows in left.items() if rows is not None)
            lines.append(f"`{w.name}` left these rows in storage after a run: {counts}.")
        lines += _measured_inside(w, results[w.name], described)
        for system, outcome in results[w.name].items():
            if outcome.error:
                lines.append(f"`{w.name}` failed on {system}: `{outcome.error}`")
    return lines


def _measured_inside(w: Workload, by_system: dict[str, Outcome], described: dict[tuple[str, str], str]) -> list[str]:
    """Notes for a workload whose script measures its own figures: what they are, and its other figures."""
    if not (w.timed or w.rss):
        return []
    done = {system: o for system, o in by_system.items() if _ok(o)}
    first = described.setdefault((w.timed, w.rss), w.name)
    if first == w.name:
        shown = [f"the time is {w.timed}" if w.timed else "", f"peak RSS is {w.rss}" if w.rss else ""]
        line = f"`{w.name}` measures inside the workload: {'; '.join(s for s in shown if s)}."
    else:
        line = f"`{w.name}` measures as `{first}` does."
    if done:
        medians = " / ".join(f"{s} {_median_figure(o, 'process_seconds'):.2f} s" for s, o in done.items())
        line += f" Whole workload process, median: {medians}."
    extra = sorted({k for o in done.values() for k in o.samples[0].figures if k.endswith("_kib")})
    extra = [k for k in extra if k not in ("rss_kib", "process_peak_rss_kib")]
    if extra:
        cells = [f"{k.removesuffix('_kib')} " + " / ".join(f"{s} {_mib(_median_figure(o, k))}" for s, o in done.items())
                 for k in extra]  # fmt: skip
        line += f" Medians: {'; '.join(cells)}."
    lines = [line]
    locus = done.get("locus")
    if w.max_rss_mb is not None and locus is not None:
        mb = max(s.peak_rss_kib for s in locus.samples) * 1024 / 1e6
        holds = "holds" if mb < w.max_rss_mb else "**does not hold**"
        lines.append(f"`{w.name}` memory target, Locus peak RSS under {w.max_rss_mb:g} MB: {mb:.0f} MB, {holds}.")
    return lines


def _mib(kib: float) -> str:
    mib = kib / 1024
    return f"{mib:.1f} MiB" if abs(mib) < 10 else f"{mib:.0f} MiB"


def _median_figure(outcome: Outcome, name: str) -> float:
    return statistics.median(s.figures.get(name, 0.0) for s in outcome.samples)


def _ok(outcome: Outcome | None) -> TypeGuard[Outcome]:
    return outcome is not None and bool(outcome.samples) and outcome.error is None


def _timing(outcome: Outcome | None) -> str:
    if outcome is None:
        return "not run"
    if outcome.error:
        return "**failed**"
    return f"{_seconds(min(s.seconds for s in outcome.samples))} / {_seconds(outcome.median())}"


def _per_step(outcome: Outcome | None) -> str:
    if _ok(outcome) and outcome.samples[0].steps:
        return f"{outcome.median() / outcome.samples[0].steps * 1000:.2f} ms"
    return "—"


def _peak_rss(outcome: Outcome | None) -> str:
    if _ok(outcome):
        return f"{max(s.peak_rss_kib for s in outcome.samples) / 1024:.0f} MiB"
    return "—"


def _seconds(value: float) -> str:
    return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"


# --- the machine and the versions ----------------------------------------------------------------------

_VERSIONS = """\
import importlib.metadata as m, platform, sys
names = sys.argv[1:]
print(platform.python_version(), *(f"{n} {m.version(n)}" for n in names), sep=", ")
"""


def environment(pythons: dict[str, str], postgres_url: str | None) -> list[str]:
    """Lines describing where and with what the figures were measured."""
    packages = {"locus": ["locus"], "dagster": ["dagster", "dagster-postgres"]}
    lines = [
        f"Date: {datetime.date.today().isoformat()}",
        f"Machine: {os.cpu_count()} CPUs ({_cpu_model()}), {platform.system()} {platform.release()}",
    ]
    for system, python in pythons.items():
        try:
            out = subprocess.run(
                [python, "-c", _VERSIONS, *packages[system]], capture_output=True, text=True, check=True
            ).stdout.strip()
            lines.append(f"{system.capitalize()} side: Python {out}")
        except (OSError, subprocess.CalledProcessError):
            lines.append(f"{system.capitalize()} side: versions unknown ({python})")
    if postgres_url:
        lines.append(f"PostgreSQL: {_postgres_version(postgres_url)}, on the same machine")
    return lines


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def _postgres_version(url: str) -> str:
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=5) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            return f"server {row[0]}" if row else "unknown"
    except Exception as e:  # the page says so rather than failing after a long run
        return f"unknown ({type(e).__name__})"


def page(table_md: str, note_lines: list[str], env_lines: list[str], command: str) -> str:
    bullets = "\n".join(f"* {line}" for line in note_lines)
    env = "\n".join(f"* {line}" for line in env_lines)
    return f"""# Benchmarks: Locus against Dagster

Written by `scripts/bench` ({command}); rerun it rather than editing this page. Both systems run the
same user code (`import locus as dg` / `import dagster as dg`) side by side in one session, each run a
fresh interpreter, alternating Locus and Dagster runs after a warm-up so drift of the machine hits both
alike. Times are wall times of the whole process (interpreter start included) unless a note under the
table says the workload measures a part itself; per step is the median
divided by the number of assets or ops; peak RSS is the largest over the counted runs. The workloads live
in `tests/benchmarks/workloads/` and each asserts its result, so a broken system cannot look fast.

{table_md}

{bullets}

## Method

* Layered assets: layers of 100 (build) or 20 (materialise); each asset after the first layer takes 2 or
  3 assets of the layer before as parameters. The generated module is written once per session, so the
  counted runs import it from its `.pyc`, as a code server restarting on unchanged code would.
* `build_assets`: Dagster builds its repository and asset graph lazily, so the workload calls
  `defs.resolve_asset_graph()` (the cheaper of the ways to force it: `Definitions.validate_loadable` also
  plans every job); Locus builds and validates the graph in the `Definitions` constructor.
* Code servers (`codeserver_start`, `snapshot_fetch`; layers of 100): each system's own CLI (`dagster api grpc
  -f` / `locus api grpc --python-file`) serves the generated module as a child of the workload script, killed
  with its process group at the end. Ready means the standard gRPC health check answers SERVING (service
  `DagsterApi`, which Dagster sets right after `server.start()`; `""` for Locus), polled every 5 ms with the
  reconnect backoff cut to 5 to 20 ms. Both servers also answer SERVING when the code failed to load, so the script
  then asks the server whether it loaded, untimed. In `snapshot_fetch`, Dagster's side builds a
  `GrpcServerCodeLocation` from a `GrpcServerCodeLocationOrigin` with an ephemeral instance, as its webserver
  does for each gRPC location: ListRepositories, GetServerId, ExternalRepository with deferred job snapshots and
  one ExternalJob per job, all deserialised; the ExternalRepository call alone (the baselines' "first repository
  snapshot request") is about 0.5 s of its 0.8 s at 1,000 assets. Locus's side is `CodeServerClient(target)
  .snapshot()`.
* Persistent instances live in a fresh temporary home per run (`DAGSTER_HOME` / `LOCUS_HOME`); each
  PostgreSQL run gets a fresh database, created before and dropped after the timed process. Dagster
  reaches PostgreSQL through psycopg2, the driver dagster-postgres depends on; Locus through psycopg 3.
* dagster-postgres 0.29.27 pins `dagster==1.13.27`; like the baselines, this installs it with
  `--no-deps` next to dagster 1.13.28.
* Other work on the machine slows both systems alike but widens the spread: compare the ratio, and the
  min against the median.

## Run it

`scripts/bench` (about 12 minutes; `--runs N`, `--warmup N`, `--only NAME[,NAME]`); `scripts/bench --smoke`
runs every workload on Locus at tiny sizes in seconds, as `tests/benchmarks/test_smoke.py` does in the test
suite. A new workload is a script in `tests/benchmarks/workloads/` and a line in
`tests/benchmarks/registry.py`.

## Where

{env}
"""

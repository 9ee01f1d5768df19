"""The benchmark harness: Locus and Dagster side by side on this machine. Run it through ``scripts/bench``.

Each workload runs in a fresh interpreter per run, first once as a warm-up per system, then alternating
Locus and Dagster runs (A B A B) so slow drift of the machine hits both alike. A full run of every
workload on both systems rewrites ``docs/benchmarks.md``; every run prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

import report
from measure import RunFailed, measure
from registry import WORKLOADS, Workload

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs" / "benchmarks.md"
SYSTEMS = ("locus", "dagster")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="Locus only, tiny sizes, 1 run, no docs written")
    parser.add_argument("--only", default="", help="comma-separated workload (or script) names")
    parser.add_argument("--runs", type=int, default=5, help="counted runs per system (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="uncounted runs per system first (default 1)")
    parser.add_argument("--systems", default="", help="comma-separated subset of locus,dagster")
    parser.add_argument("--locus-python", default=str(REPO / ".venv" / "bin" / "python"))
    parser.add_argument("--dagster-python", default=str(REPO / ".bench-venv" / "bin" / "python"))
    parser.add_argument("--json", default="", help="also write the raw samples to this file")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/benchmarks.md")
    parser.add_argument("--list", action="store_true", help="print the workloads as JSON and exit")
    return parser.parse_args(argv)


def select(only: str) -> list[Workload]:
    if not only:
        return list(WORKLOADS)
    names = {n.strip() for n in only.split(",") if n.strip()}
    unknown = names - {w.name for w in WORKLOADS} - {w.script for w in WORKLOADS}
    if unknown:
        sys.exit(f"unknown workload(s) {sorted(unknown)}; known: {[w.name for w in WORKLOADS]}")
    return [w for w in WORKLOADS if w.name in names or w.script in names]


def run_workload(
    workload: Workload, pythons: dict[str, str], runs: int, warmup: int, smoke: bool, postgres_url: str
) -> dict[str, report.Outcome]:
    pythons = {system: python for system, python in pythons.items() if system in workload.systems}
    outcomes = {system: report.Outcome() for system in pythons}
    with tempfile.TemporaryDirectory(prefix="locus-bench-cache-") as cache:
        for number in range(warmup + runs):
            label = "warm-up" if number < warmup else f"run {number - warmup + 1}/{runs}"
            for system, python in pythons.items():
                outcome = outcomes[system]
                if outcome.error:
                    continue
                try:
                    sample = measure(python, workload, system, cache, smoke, postgres_url)
                except Exception as e:  # one failing system must not stop the whole benchmark
                    outcome.error = str(e) if isinstance(e, RunFailed) else f"{type(e).__name__}: {e}"
                    detail = e.detail if isinstance(e, RunFailed) else ""
                    log(f"{workload.name} {system} {label}: FAILED {outcome.error}\n{detail}")
                    continue
                mib = sample.peak_rss_kib // 1024
                log(f"{workload.name} {system} {label}: {sample.seconds:.3f} s, {mib} MiB")
                if number >= warmup:
                    outcome.samples.append(sample)
    return outcomes


def log(message: str) -> None:
    print(message.rstrip(), file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workloads = select(args.only)
    if args.list:
        print(json.dumps([{"name": w.name, "postgres": w.postgres} for w in workloads]))
        return 0
    systems = [s for s in args.systems.split(",") if s] or (["locus"] if args.smoke else list(SYSTEMS))
    if set(systems) - set(SYSTEMS):
        sys.exit(f"--systems takes a subset of {SYSTEMS}")
    pythons = {s: args.locus_python if s == "locus" else args.dagster_python for s in systems}
    runs, warmup = (1, 0) if args.smoke else (args.runs, args.warmup)
    postgres_url = os.environ.get("LOCUS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

    results = {}
    for w in workloads:
        counted = runs if w.max_runs is None else min(runs, w.max_runs)
        results[w.name] = run_workload(w, pythons, counted, warmup, args.smoke, postgres_url)

    table = report.table(workloads, results)
    notes = report.notes(workloads, results, runs)
    if args.smoke:
        print("Smoke run: tiny sizes (a few dozen assets or ops), one run; it shows the workloads work, not speed.")
    print(table, *notes, sep="\n")
    if args.json:
        raw = {n: {s: asdict(o) for s, o in by_system.items()} for n, by_system in results.items()}
        Path(args.json).write_text(json.dumps(raw, indent=2))
    complete = not args.smoke and not args.only and len(systems) == len(SYSTEMS)
    if complete and not args.no_docs:
        uses_postgres = any(w.postgres for w in workloads)
        env = report.environment(pythons, postgres_url if uses_postgres else None)
        command = f"`--runs {args.runs} --warmup {args.warmup}`"
        DOCS.write_text(report.page(table, notes, env, command))
        log(f"wrote {DOCS.relative_to(REPO)}")
    failed = any(o.error for by_system in results.values() for o in by_system.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

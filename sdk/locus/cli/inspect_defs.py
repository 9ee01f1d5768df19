"""`locus definitions validate`, `locus asset list`, `locus job list`:
load code locations and say what they define, or exactly what is wrong."""

from __future__ import annotations

import argparse
import sys

from locus.cli.output import table
from locus.cli.targets import single_target, targets_from_args
from locus.definitions.errors import CodeLoadError, LocusError
from locus.definitions.registry import Definitions
from locus.execution.code_pointer import load_definitions


def describe(defs: Definitions) -> str:
    def count(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    return ", ".join(
        [
            count(len(defs.assets), "asset"),
            count(len(defs.jobs), "job"),
            count(len(defs.schedules), "schedule"),
            count(len(defs.sensors), "sensor"),
        ]
    )


def definitions_validate(args: argparse.Namespace) -> int:
    failed = 0
    for target in targets_from_args(args):
        try:
            defs = load_definitions(target.pointer)
        except LocusError as exc:
            failed += 1
            info = getattr(exc, "error_info", None) if isinstance(exc, CodeLoadError) else None
            if info is not None:
                print(info.traceback.rstrip(), file=sys.stderr)
            print(f"✗ {target.name}: {exc}", file=sys.stderr)
            continue
        print(f"✓ {target.name}: {describe(defs)}")
    return 1 if failed else 0


def asset_list(args: argparse.Namespace) -> int:
    target = single_target(args)
    defs = load_definitions(target.pointer)
    graph = defs.asset_graph
    rows = [
        [
            key.to_user_string(),
            a.group_name,
            ",".join(sorted(a.kinds)) or "-",
            ",".join(u.to_user_string() for u in graph.upstream[key]) or "-",
        ]
        for key, a in graph.by_key.items()
    ]
    print(table(rows, ["ASSET", "GROUP", "KINDS", "UPSTREAM"]))
    return 0


def job_list(args: argparse.Namespace) -> int:
    target = single_target(args)
    defs = load_definitions(target.pointer)
    rows = [
        [
            j.name,
            str(len(j.nodes)),
            (j.executor_def.name if j.executor_def else "default"),
            j.description or "",
        ]
        for j in defs.jobs.values()
    ]
    print(table(rows, ["JOB", "STEPS", "EXECUTOR", "DESCRIPTION"]))
    return 0

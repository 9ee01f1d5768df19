"""`locus workspace status`, and turning -f/-m/-w flags into a Workspace
(grpc_server entries included) for the commands that supervise one."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from locus.cli.output import table
from locus.definitions.errors import LocusError
from locus.execution.code_pointer import CodePointer
from locus.workspace.config import LocationEntry, Workspace, load_workspace, merge_workspaces


def workspace_from_args(args: argparse.Namespace, required: bool = True) -> Workspace | None:
    """Every location the target flags name (``./workspace.yaml`` when none
    are given). None when nothing is given and ``required`` is False."""
    attribute, wd = getattr(args, "attribute", None), getattr(args, "working_directory", None)
    pointers = [
        *(CodePointer(python_file=f, attribute=attribute, working_directory=wd) for f in args.python_file),
        *(CodePointer(module_name=m, attribute=attribute, working_directory=wd) for m in args.module_name),
        *(CodePointer(package_name=p, attribute=attribute, working_directory=wd) for p in args.package_name),
    ]
    files = list(args.workspace)
    if not pointers and not files and Path("workspace.yaml").exists():
        files = ["workspace.yaml"]
    if not pointers and not files:
        if not required:
            return None
        raise LocusError(
            "no code location given and no workspace.yaml in the current folder",
            "pass -w workspace.yaml, -f FILE, -m MODULE or --package-name PACKAGE",
        )
    return merge_workspaces(
        Workspace(tuple(LocationEntry.from_target(p) for p in pointers)), *(load_workspace(f) for f in files)
    )


def _ago(ts: float) -> str:
    seconds = max(0, int(time.time() - ts))
    if seconds < 120:
        return f"{seconds}s ago"
    return f"{seconds // 60}m ago" if seconds < 7200 else f"{seconds // 3600}h ago"


def workspace_status(args: argparse.Namespace) -> int:
    """Each location as the storage registry has it (written by `locus dev`)."""
    from locus.instance.instance import LocusInstance

    with LocusInstance.get() as instance:
        records = instance.storage.get_locations()
    if not records:
        print("no code locations are registered in this instance; start them with `locus dev`")
        return 0
    rows = []
    for r in records:
        counts = ", ".join(f"{n} {kind}" for kind, n in r.counts.items() if n) or "-"
        rows.append([r.name, r.status.value, r.endpoint or "-", r.snapshot_id or "-", counts, _ago(r.updated_at)])
    print(table(rows, ["LOCATION", "STATUS", "ENDPOINT", "SNAPSHOT", "DEFINITIONS", "UPDATED"]))
    for r in records:
        if r.load_error is not None:
            print(f"\n{r.name}: {r.status.value}: {r.load_error.summary()}")
            if r.load_error.traceback.strip():
                print(r.load_error.traceback.rstrip())
    return 0

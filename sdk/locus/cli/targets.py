"""Dagster's target flags (-f, -m, --package-name, -a, -d, -w, -l) and
turning them into the code location a command works on."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from locus.definitions.errors import LocusError
from locus.execution.code_pointer import CodePointer


def add_target_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("code location (as in Dagster)")
    group.add_argument(
        "-f",
        "--python-file",
        action="append",
        default=[],
        metavar="FILE",
        help="a Python file defining a Definitions object (may repeat)",
    )
    group.add_argument(
        "-m",
        "--module-name",
        action="append",
        default=[],
        metavar="MODULE",
        help="an importable module defining a Definitions object (may repeat)",
    )
    group.add_argument(
        "--package-name",
        action="append",
        default=[],
        metavar="PACKAGE",
        help="an importable package defining a Definitions object (may repeat)",
    )
    group.add_argument("-a", "--attribute", help="the attribute holding the Definitions object")
    group.add_argument("-d", "--working-directory", help="folder to import from (default: the current one)")
    group.add_argument(
        "-w",
        "--workspace",
        action="append",
        default=[],
        metavar="WORKSPACE_YAML",
        help="a workspace.yaml file (may repeat)",
    )
    group.add_argument("-l", "--location", help="which location of a workspace with several")


@dataclass(frozen=True)
class Target:
    name: str
    pointer: CodePointer


def targets_from_args(args: argparse.Namespace) -> list[Target]:
    """Every location the flags name (a workspace.yaml in the current folder
    when none is given). Names must be unique across all of them."""
    from locus.workspace.config import LocationEntry, Workspace, load_workspace, merge_workspaces

    pointers = [
        *(
            CodePointer(python_file=f, attribute=args.attribute, working_directory=args.working_directory)
            for f in args.python_file
        ),
        *(
            CodePointer(module_name=m, attribute=args.attribute, working_directory=args.working_directory)
            for m in args.module_name
        ),
        *(
            CodePointer(package_name=p, attribute=args.attribute, working_directory=args.working_directory)
            for p in args.package_name
        ),
    ]
    files = list(args.workspace)
    if not pointers and not files and Path("workspace.yaml").exists():
        files = ["workspace.yaml"]
    if not pointers and not files:
        raise LocusError(
            "no code location given and no workspace.yaml in the current folder",
            "pass -f FILE, -m MODULE, --package-name PACKAGE or -w workspace.yaml",
        )
    workspace = merge_workspaces(
        Workspace(tuple(LocationEntry.from_target(p) for p in pointers)), *(load_workspace(f) for f in files)
    )
    found = []
    for entry in workspace.entries:
        if entry.pointer is None:
            raise LocusError(
                f"location '{entry.name}' is a grpc_server entry; this command loads code directly",
                "use `locus dev` for grpc_server locations, or point at the code with -f/-m",
            )
        found.append(Target(entry.name, entry.pointer))
    return found


def single_target(args: argparse.Namespace) -> Target:
    targets = targets_from_args(args)
    if args.location:
        for t in targets:
            if t.name == args.location:
                return t
        raise LocusError(f"no location named '{args.location}'", f"locations: {[t.name for t in targets]}")
    if len(targets) > 1:
        raise LocusError(
            f"several locations are given: {[t.name for t in targets]}",
            "pick one with -l/--location NAME",
        )
    return targets[0]

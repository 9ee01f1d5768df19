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
    when none is given)."""
    found: list[Target] = []
    for file in args.python_file:
        found.append(
            _target(
                CodePointer(
                    python_file=file, attribute=args.attribute, working_directory=args.working_directory
                )
            )
        )
    for module in args.module_name:
        found.append(
            _target(
                CodePointer(
                    module_name=module, attribute=args.attribute, working_directory=args.working_directory
                )
            )
        )
    for package in args.package_name:
        found.append(
            _target(
                CodePointer(
                    package_name=package, attribute=args.attribute, working_directory=args.working_directory
                )
            )
        )
    workspaces = list(args.workspace)
    if not found and not workspaces and Path("workspace.yaml").exists():
        workspaces = ["workspace.yaml"]
    if workspaces:
        from locus.workspace.config import load_workspaces

        for entry in load_workspaces(workspaces).entries:
            if entry.pointer is None:
                raise LocusError(
                    f"location '{entry.name}' is a grpc_server entry; this command loads code directly",
                    "use `locus dev` for grpc_server locations, or point at the code with -f/-m",
                )
            found.append(Target(entry.name, entry.pointer))
    if not found:
        raise LocusError(
            "no code location given and no workspace.yaml in the current folder",
            "pass -f FILE, -m MODULE, --package-name PACKAGE or -w workspace.yaml",
        )
    names = [t.name for t in found]
    for name in names:
        if names.count(name) > 1:
            raise LocusError(f"two locations are named '{name}'", "give them distinct location_name values")
    return found


def _target(pointer: CodePointer) -> Target:
    return Target(pointer.default_location_name, pointer.absolute())


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

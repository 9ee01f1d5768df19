"""`locus api grpc`: serve one code location over gRPC until stopped
(SIGTERM, SIGINT or a Shutdown call). What `locus dev` starts once per
location, and what a CodeLocation's Deployment runs."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from locus.definitions.errors import LocusError
from locus.execution.code_pointer import CodePointer

if TYPE_CHECKING:
    from locus.codeserver.location import LoadedLocation


def add_grpc_flags(parser: argparse.ArgumentParser) -> None:
    code = parser.add_argument_group("code location (one of -f, -m, --package-name)")
    code.add_argument("-f", "--python-file", metavar="FILE", help="a Python file defining a Definitions object")
    code.add_argument("-m", "--module-name", metavar="MODULE", help="an importable module defining Definitions")
    code.add_argument("--package-name", metavar="PACKAGE", help="an importable package defining Definitions")
    code.add_argument("-a", "--attribute", help="the attribute holding the Definitions object")
    code.add_argument("-d", "--working-directory", help="folder to import from (default: the current one)")
    code.add_argument("--location-name", help="the location's name (default: derived from the file or module)")
    listen = parser.add_argument_group("where to listen (one of --port, --socket)")
    listen.add_argument("--host", default="127.0.0.1", help="address to bind with --port (default: 127.0.0.1)")
    listen.add_argument("-p", "--port", type=int, help="TCP port")
    listen.add_argument("--socket", metavar="PATH", help="unix socket path")
    tuning = parser.add_argument_group("evaluation")
    tuning.add_argument(
        "--sensor-timeout", type=float, default=60.0, metavar="SECONDS", help="default per sensor evaluation"
    )
    tuning.add_argument(
        "--schedule-timeout", type=float, default=60.0, metavar="SECONDS", help="default per schedule evaluation"
    )
    tuning.add_argument(
        "--max-workers",
        type=int,
        default=16,
        help="schedule/sensor evaluations at once, timed-out ones still running included (default: 16)",
    )
    tuning.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="stop when the process that started this server exits (what locus dev and locus daemon use)",
    )


def _pointer(args: argparse.Namespace) -> CodePointer:
    given = [x for x in (args.python_file, args.module_name, args.package_name) if x]
    if len(given) != 1:
        raise LocusError(
            "locus api grpc serves exactly one code location",
            "pass one of -f FILE, -m MODULE or --package-name PACKAGE",
        )
    return CodePointer(
        python_file=args.python_file,
        module_name=args.module_name,
        package_name=args.package_name,
        attribute=args.attribute,
        working_directory=args.working_directory,
    )


def _report_ready(location: LoadedLocation, target: str) -> None:
    if location.load_error is not None:
        if location.load_error.traceback:
            print(location.load_error.traceback.rstrip(), file=sys.stderr)
        print(
            f"error: location '{location.name}' failed to load: {location.load_error.summary()} "
            "(served as its load error)",
            file=sys.stderr,
        )
    print(f"serving {location.name} on {target}", file=sys.stderr, flush=True)


def serve_grpc(args: argparse.Namespace) -> int:
    if (args.port is None) == (args.socket is None):
        raise LocusError("locus api grpc listens on a port or a socket", "pass --port PORT or --socket PATH")
    if args.max_workers < 1:
        raise LocusError(f"--max-workers must be at least 1, got {args.max_workers}")
    from locus.codeserver.server import CodeServerSpec, serve

    spec = CodeServerSpec(
        pointer=_pointer(args),
        location_name=args.location_name,
        host=args.host,
        port=args.port,
        socket=args.socket,
        sensor_timeout=args.sensor_timeout,
        schedule_timeout=args.schedule_timeout,
        max_workers=args.max_workers,
        exit_with_parent=args.exit_with_parent,
    )
    serve(spec, on_ready=_report_ready)
    return 0

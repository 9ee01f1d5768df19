"""The `locus` command: argument parsing and the one place that turns
errors into readable messages and exit codes (never a bare traceback)."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence

from locus.cli import codeserver, daemon_cmd, dev, execute, history, inspect_defs, operator_cmd, workspace_cmd
from locus.cli.targets import add_target_flags
from locus.definitions.errors import CodeLoadError, LocusError

EXIT_USER_ERROR = 2


def _instance_migrate(args: argparse.Namespace) -> int:
    from locus.instance.instance import LocusInstance

    with LocusInstance.get(migrate=True) as instance:
        print(f"storage is at schema {instance.schema_version()} ({instance.describe_storage()})")
    return 0


def _instance_info(args: argparse.Namespace) -> int:
    from locus.instance.instance import LocusInstance

    with LocusInstance.get() as instance:
        print(f"home:         {instance.home}")
        print(f"storage:      {instance.describe_storage()}")
        print(f"schema:       {instance.schema_version()}")
        print(f"compute logs: {instance.compute_logs_dir}")
        print(f"io storage:   {instance.storage_dir}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="locus", description="Locus data orchestrator")
    parser.add_argument("--version", action="version", version="locus 0.1.0")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def sub(
        group: argparse._SubParsersAction[argparse.ArgumentParser],
        name: str,
        help_text: str,
        handler: Callable[[argparse.Namespace], int],
    ) -> argparse.ArgumentParser:
        p = group.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    job = commands.add_parser("job", help="run and list jobs").add_subparsers(dest="sub", metavar="SUBCOMMAND")
    p = sub(
        job,
        "execute",
        "execute a job with its executor, recording the run in the instance",
        execute.job_execute,
    )
    execute.add_run_flags(p)
    p.add_argument("-j", "--job", required=True, help="the job to run")
    p = sub(job, "list", "list a location's jobs", inspect_defs.job_list)
    add_target_flags(p)

    asset = commands.add_parser("asset", help="materialise and list assets").add_subparsers(
        dest="sub", metavar="SUBCOMMAND"
    )
    p = sub(asset, "materialize", "materialise a selection of assets", execute.asset_materialize)
    execute.add_run_flags(p)
    p.add_argument(
        "--select",
        required=True,
        help='asset selection, e.g. "*", "group:numbers", "key:a+", "+b and kind:python"',
    )
    p.add_argument("-j", "--job", help="an asset job whose executor and config to use")
    p = sub(asset, "list", "list a location's assets", inspect_defs.asset_list)
    add_target_flags(p)

    run = commands.add_parser("run", help="inspect runs").add_subparsers(dest="sub", metavar="SUBCOMMAND")
    p = sub(run, "list", "list recent runs, newest first", history.run_list)
    p.add_argument("--status", help="comma-separated statuses, e.g. FAILURE,CANCELED")
    p.add_argument("--job", help="only runs of this job")
    p.add_argument("--limit", type=int, default=20)
    p = sub(run, "show", "show a run and its steps", history.run_show)
    p.add_argument("run_id", help="run id (a unique prefix is enough)")
    p = sub(run, "logs", "print a run's events, tracebacks and step output", history.run_logs)
    p.add_argument("run_id", help="run id (a unique prefix is enough)")
    p.add_argument("--step", help="only this step")

    execute_cmd = commands.add_parser("execute", help="execute stored runs (used by launchers)").add_subparsers(
        dest="sub", metavar="SUBCOMMAND"
    )
    p = sub(
        execute_cmd, "run", "execute a stored run in this environment (what a launcher starts)", execute.run_execute
    )
    p.add_argument("run_id")
    p.add_argument("-v", "--verbose", action="store_true", help="show every event")
    p = sub(
        execute_cmd,
        "step",
        "execute one step of a stored run in this process (what k8s_job_executor's step Jobs run)",
        execute.step_execute,
    )
    p.add_argument("run_id")
    p.add_argument("step_key")
    p.add_argument("-v", "--verbose", action="store_true", help="show every event")

    definitions = commands.add_parser("definitions", help="check code locations").add_subparsers(
        dest="sub", metavar="SUBCOMMAND"
    )
    p = sub(
        definitions,
        "validate",
        "load each location and report what it defines or what is wrong",
        inspect_defs.definitions_validate,
    )
    add_target_flags(p)

    instance = commands.add_parser("instance", help="the instance's storage").add_subparsers(
        dest="sub", metavar="SUBCOMMAND"
    )
    sub(instance, "migrate", "create or upgrade the storage schema", _instance_migrate)
    sub(instance, "info", "show where the instance keeps things", _instance_info)

    p = sub(commands, "dev", "run the workspace locally: code servers, run queue and API", dev.dev)
    dev.add_serve_flags(p)
    api = commands.add_parser("api", help="serve the APIs").add_subparsers(dest="sub", metavar="SUBCOMMAND")
    p = sub(api, "serve", "serve the REST API (with code servers for the workspace given)", dev.api_serve)
    dev.add_serve_flags(p)
    p = sub(api, "grpc", "serve one code location over gRPC (one process per location)", codeserver.serve_grpc)
    codeserver.add_grpc_flags(p)
    daemon = commands.add_parser("daemon", help="schedules, sensors, run queue, monitoring, retries").add_subparsers(
        dest="sub", metavar="SUBCOMMAND"
    )
    p = sub(daemon, "run", "run the daemon's loops (one active daemon per instance; others stand by)",
            daemon_cmd.daemon_run)
    daemon_cmd.add_run_flags(p)
    p = sub(daemon, "status", "show each daemon loop's last heartbeat and its age", daemon_cmd.daemon_status)
    p.add_argument("--tolerance", type=float, default=60.0, help="seconds after which a loop counts as not running")
    workspace = commands.add_parser("workspace", help="the workspace's code locations").add_subparsers(
        dest="sub", metavar="SUBCOMMAND"
    )
    sub(workspace, "status", "show each code location's state, with load errors", workspace_cmd.workspace_status)
    operator = commands.add_parser("operator", help="the Kubernetes operator").add_subparsers(
        dest="sub", metavar="SUBCOMMAND"
    )
    p = sub(operator, "run", "reconcile CodeLocations and Instances into the cluster", operator_cmd.operator_run)
    operator_cmd.add_run_flags(p)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        sys.exit(EXIT_USER_ERROR)
    try:
        code = handler(args)
    except CodeLoadError as exc:
        if exc.error_info is not None:
            print(exc.error_info.traceback.rstrip(), file=sys.stderr)
        print(f"error: {exc}", file=sys.stderr)
        code = EXIT_USER_ERROR
    except LocusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    except Exception as exc:
        if os.environ.get("LOCUS_DEBUG"):
            traceback.print_exc()
        print(
            f"error: internal error: {type(exc).__name__}: {exc}\n"
            "  (this is a bug in Locus; set LOCUS_DEBUG=1 to see the traceback and report it)",
            file=sys.stderr,
        )
        code = 1
    sys.exit(code)


if __name__ == "__main__":
    main()

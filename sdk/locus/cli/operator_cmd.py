"""``locus operator run``: the Kubernetes operator.

The operator sits above the CLI in the layering (it uses every layer), so
the command loads it by name when run; without the ``operator`` extra
installed, the user gets the pip command instead of an ImportError."""

from __future__ import annotations

import argparse
import importlib
import os
from typing import Any

from locus.definitions.errors import LocusError

SYSTEM_IMAGE_ENV = "LOCUS_SYSTEM_IMAGE"


def add_run_flags(parser: argparse.ArgumentParser) -> None:
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "--namespace",
        "-n",
        action="append",
        default=[],
        metavar="NS",
        help="watch only this namespace (repeat for several); default: every namespace",
    )
    scope.add_argument("--all-namespaces", "-A", action="store_true", help="watch every namespace (the default)")
    parser.add_argument(
        "--system-image",
        default=os.environ.get(SYSTEM_IMAGE_ENV),
        help=f"image of the daemon, API and migration pods (default: ${SYSTEM_IMAGE_ENV})",
    )
    parser.add_argument("--health-host", default="0.0.0.0", help="address of the health endpoint")
    parser.add_argument("--health-port", type=int, default=8080, help="port of GET /healthz (0: off)")
    parser.add_argument("--workers", type=int, default=8, help="CodeLocations reconciled at once")
    parser.add_argument("--resync-seconds", type=float, default=60.0, help="seconds between full resyncs")
    parser.add_argument("--verbose", "-v", action="store_true", help="debug logging")


def operator_run(args: argparse.Namespace) -> int:
    try:
        cli: Any = importlib.import_module("locus_operator.cli")
    except ImportError as error:
        raise LocusError(
            f"the operator's packages are not installed ({error.name})",
            "install them with: pip install 'locus[operator]'",
        ) from error
    code: int = cli.run(args)
    return code

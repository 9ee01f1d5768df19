"""The body of ``locus operator run`` (flags are parsed by ``locus.cli``)."""

from __future__ import annotations

import argparse
import asyncio
import logging

from locus_operator.context import DEFAULT_SYSTEM_IMAGE, OperatorSettings
from locus_operator.runner import run_operator


def settings_from_args(args: argparse.Namespace) -> OperatorSettings:
    return OperatorSettings(
        namespaces=tuple(args.namespace or ()),
        system_image=args.system_image or DEFAULT_SYSTEM_IMAGE,
        health_host=args.health_host,
        health_port=args.health_port,
        workers=args.workers,
        resync_seconds=args.resync_seconds,
    )


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # kopf logs every handler call at INFO; keep the operator's own lines readable.
    logging.getLogger("kopf").setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    asyncio.run(run_operator(settings_from_args(args)))
    return 0

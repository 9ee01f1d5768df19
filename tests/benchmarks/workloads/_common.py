"""Shared pieces of the workload scripts: arguments, generated user code, the result line.

A workload script runs as ``python <script> --system locus|dagster --size N --cache DIR --scratch DIR``
in a fresh interpreter; the harness times the whole process. The same user code runs on both systems:
only the line ``import locus as dg`` / ``import dagster as dg`` differs. A script asserts that its result
is right, then prints one JSON line (``emit``) so the harness can check what was done.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import socket
import sys
from types import ModuleType
from typing import Any

SYSTEMS = ("locus", "dagster")
MODULUS = 1_000_003  # keeps the values of deep asset graphs small


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--system", choices=SYSTEMS, required=True)
    parser.add_argument("--size", type=int, default=0, help="number of assets / ops")
    parser.add_argument("--width", type=int, default=100, help="assets per layer")
    parser.add_argument("--cache", default=".", help="directory kept across runs (generated modules)")
    parser.add_argument("--scratch", default=".", help="fresh empty directory for this run")
    parser.add_argument("--postgres-url", default="", help="URL of a fresh scratch database")
    return parser.parse_args(argv)


def import_system(system: str) -> Any:
    return importlib.import_module(system)


def emit(**figures: Any) -> None:
    """Print the result line the harness reads (the last line of stdout)."""
    print(json.dumps({"ok": True, **figures}), flush=True)


# --- generated user code -------------------------------------------------------------------------------


def layer_inputs(layer: int, index: int, width: int) -> list[str]:
    """Names of the 2 or 3 assets of the previous layer that asset (layer, index) reads."""
    if layer == 0:
        return []
    picks = (index, index + 1, index + 7) if index % 2 else (index, index + 3)
    names = dict.fromkeys(f"a_{layer - 1}_{p % width}" for p in picks)  # ordered, de-duplicated
    return list(names)


def layered_assets_source(system: str, size: int, width: int) -> str:
    """A user module defining ``size`` assets in layers of ``width``; ``ASSETS`` lists them all."""
    lines = [f"import {system} as dg", ""]
    names = []
    for n in range(size):
        layer, index = divmod(n, width)
        name = f"a_{layer}_{index}"
        inputs = layer_inputs(layer, index, width)
        body = f"({' + '.join(inputs)}) % {MODULUS}" if inputs else str(index + 1)
        lines += ["", "@dg.asset", f"def {name}({', '.join(inputs)}):", f"    return {body}", ""]
        names.append(name)
    lines += ["", f"ASSETS = [{', '.join(names)}]", "defs = dg.Definitions(assets=ASSETS)", ""]
    return "\n".join(lines)


def layered_assets_expected(size: int, width: int) -> dict[str, int]:
    """The value every asset of ``layered_assets_source`` must produce."""
    values: dict[str, int] = {}
    for n in range(size):
        layer, index = divmod(n, width)
        inputs = layer_inputs(layer, index, width)
        values[f"a_{layer}_{index}"] = sum(values[i] for i in inputs) % MODULUS if inputs else index + 1
    return values


def linear_job_source(system: str, size: int) -> str:
    """A user module defining ``size`` distinct ops chained into the job ``linear``."""
    lines = [f"import {system} as dg", "", "", "@dg.op", "def op_0():", "    return 0", ""]
    for n in range(1, size):
        lines += ["", "@dg.op", f"def op_{n}(x):", f"    return x + {n}", ""]
    lines += ["", "@dg.job", "def linear():", "    x = op_0()"]
    lines += [f"    x = op_{n}(x)" for n in range(1, size)]
    lines += ["", "", "defs = dg.Definitions(jobs=[linear])", ""]
    return "\n".join(lines)


def load_generated(cache: str, name: str, source: str) -> ModuleType:
    """Import ``source`` as module ``name``, written to ``cache`` once: later runs reuse it and its .pyc."""
    path = os.path.join(cache, f"{name}.py")
    if not os.path.exists(path):
        with open(f"{path}.tmp", "w") as f:
            f.write(source)
        os.replace(f"{path}.tmp", path)
    sys.path.insert(0, cache)
    return importlib.import_module(name)


# --- persistent instances ------------------------------------------------------------------------------


def persistent_instance(system: str, home: str, postgres_url: str = "") -> Any:
    """The system's instance living in ``home``: SQLite by default, PostgreSQL when a URL is given."""
    if system == "dagster":
        if postgres_url:
            # psycopg2 is the driver dagster-postgres depends on; SQLAlchemy 2.1 would pick psycopg 3.
            url = postgres_url.replace("postgresql://", "postgresql+psycopg2://", 1)
            with open(os.path.join(home, "dagster.yaml"), "w") as f:
                f.write(f'storage:\n  postgres:\n    postgres_url: "{url}"\n')
        os.environ["DAGSTER_HOME"] = home
        return import_system("dagster").DagsterInstance.get()
    if postgres_url:
        with open(os.path.join(home, "locus.yaml"), "w") as f:
            f.write(f'storage:\n  postgres:\n    url: "{postgres_url}"\n')
    os.environ["LOCUS_HOME"] = home
    from locus.instance.instance import LocusInstance  # type: ignore[import-not-found, unused-ignore]

    return LocusInstance.get()


def materialize_layered_on_instance(args: argparse.Namespace) -> None:
    """The body of the materialize_sqlite / materialize_postgres workloads."""
    dg = import_system(args.system)
    source = layered_assets_source(args.system, args.size, args.width)
    module = load_generated(args.cache, f"layered_{args.system}_{args.size}_{args.width}", source)
    instance = persistent_instance(args.system, args.scratch, args.postgres_url)
    result = dg.materialize(module.ASSETS, instance=instance)
    assert result.success
    expected = layered_assets_expected(args.size, args.width)
    last = list(expected)[-1]
    assert result.asset_value(last) == expected[last], (result.asset_value(last), expected[last])
    emit(steps=args.size)

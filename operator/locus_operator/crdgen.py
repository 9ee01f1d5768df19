"""Write the CRDs as YAML: `python -m locus_operator.crdgen OUTDIR` (run by
scripts/generate into crds/; tests/operator/test_crd_drift.py checks the result)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import yaml

from locus_operator.crd.build import KINDS, build_crd, crd_name

HEADER = "# Generated from operator/locus_operator/resources by scripts/generate; do not edit.\n"


def render_crds() -> dict[str, str]:
    """File name -> YAML text, for every Kind."""
    return {
        f"{crd_name(kind)}.yaml": HEADER + yaml.safe_dump(build_crd(kind), sort_keys=False, width=120) for kind in KINDS
    }


def write_files(root: Path, files: Mapping[str, str]) -> list[Path]:
    """Write each generated file (path relative to ``root`` -> text)."""
    written = []
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def write_crds(outdir: Path) -> list[Path]:
    return write_files(outdir, render_crds())


def generator_main(argv: list[str] | None, usage: str, write: Callable[[Path], list[Path]]) -> int:
    """The command line of a generator that writes into one folder."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(f"usage: {usage}", file=sys.stderr)
        return 2
    for path in write(Path(args[0])):
        print(f"wrote {path}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    return generator_main(argv, "python -m locus_operator.crdgen OUTDIR", write_crds)


if __name__ == "__main__":
    raise SystemExit(main())

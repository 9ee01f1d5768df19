"""The committed crds/*.yaml are what the resource models generate."""

from __future__ import annotations

from pathlib import Path

from crd_support import REPO

from locus_operator.crdgen import write_crds


def test_committed_crds_match_the_models(tmp_path: Path) -> None:
    written = write_crds(tmp_path)
    committed_dir = REPO / "crds"
    for fresh in written:
        committed = committed_dir / fresh.name
        assert committed.exists(), f"crds/{fresh.name} is missing: run scripts/generate"
        assert committed.read_text() == fresh.read_text(), (
            f"crds/{fresh.name} differs from what operator/locus_operator/resources generates: run scripts/generate"
        )
    stale = {p.name for p in committed_dir.glob("*.yaml")} - {p.name for p in written}
    assert not stale, f"crds/ holds CRDs no model generates: {sorted(stale)}; delete them or run scripts/generate"

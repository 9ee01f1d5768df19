"""The committed generated files are what their sources generate: crds/*.yaml
from the resource models, and in charts/locus/ the CRD copies,
values.schema.json, files/rbac-rules.yaml and the README's values table."""

from __future__ import annotations

from pathlib import Path

from crd_support import REPO

from locus_operator.chart.generate import render_chart_files
from locus_operator.crdgen import write_crds

CHART = REPO / "charts" / "locus"


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


def test_committed_chart_files_match_their_sources() -> None:
    fresh = render_chart_files(CHART)
    for relative, text in fresh.items():
        committed = CHART / relative
        assert committed.exists(), f"charts/locus/{relative} is missing: run scripts/generate"
        assert committed.read_text() == text, f"charts/locus/{relative} is out of date: run scripts/generate"
    stale = {f"crds/{p.name}" for p in (CHART / "crds").glob("*")} - set(fresh)
    assert not stale, f"charts/locus/ holds CRDs no model generates: {sorted(stale)}; run scripts/generate"


def test_the_chart_carries_the_same_crds_as_the_repository() -> None:
    for crd in (REPO / "crds").glob("*.yaml"):
        assert (CHART / "crds" / crd.name).read_text() == crd.read_text(), f"charts/locus/crds/{crd.name}"

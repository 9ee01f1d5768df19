"""The web page's files, without a browser: served at ``/`` and
``/static/...`` with the content types browsers insist on, every module
import resolvable, nothing fetched from elsewhere, no markup built from
strings, and the asset-graph layout checked under node when it is there."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from locus.api.app import create_app
from locus.api.routers.page import CONTENT_TYPES, STATIC
from locus.instance.instance import LocusInstance

FILES = sorted(p for p in STATIC.rglob("*") if p.is_file())
JS = [p for p in FILES if p.suffix == ".js"]
SVG_NS = "http://www.w3.org/2000/svg"


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    home = tmp_path_factory.mktemp("page")
    with LocusInstance.for_url(f"sqlite:///{home / 'locus.db'}", home) as instance, \
            TestClient(create_app(instance)) as client:
        yield client


def test_the_page_and_every_static_file_are_served_with_their_content_type(http: TestClient) -> None:
    index = http.get("/")
    assert index.status_code == 200
    assert index.headers["content-type"] == "text/html; charset=utf-8"
    assert '<script type="module" src="/static/js/app.js">' in index.text
    assert 'href="/static/style.css"' in index.text
    assert {p.suffix for p in FILES} <= set(CONTENT_TYPES)
    for path in FILES:
        response = http.get(f"/static/{path.relative_to(STATIC).as_posix()}")
        assert response.status_code == 200, path
        assert response.headers["content-type"] == CONTENT_TYPES[path.suffix], path
        assert response.headers["cache-control"] == "no-cache"
        assert response.content == path.read_bytes()


@pytest.mark.parametrize("path", [
    "/static/nope.js", "/static/..%2Frouters%2Fpage.py", "/static/js/..%2F..%2F__init__.py", "/static/%2Fetc%2Fpasswd",
])
def test_only_page_files_are_served(http: TestClient, path: str) -> None:
    response = http.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_every_module_import_resolves() -> None:
    for path in JS:
        for target in re.findall(r'^\s*import .*? from "(\.[^"]+)";', path.read_text(), re.M | re.S):
            assert (path.parent / target).resolve().is_file(), f"{path.name} imports missing {target}"
    assert (STATIC / "js" / "app.js").is_file()


def test_the_page_loads_nothing_from_elsewhere_and_builds_no_markup_from_strings() -> None:
    for path in FILES:
        text = path.read_text().replace(SVG_NS, "")  # a namespace name, never fetched
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), f"external URL in {path.name}"
        assert "@import" not in text, path.name
    for path in JS:
        text = path.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in text, f"{path.name} uses {sink}"


LAYOUT_CHECK = """
import { layout, longestPathLayers } from "./dag.js";
const nodes = JSON.parse(process.argv[1]);
const placed = layout(nodes);
const out = { layers: Object.fromEntries(longestPathLayers(nodes)), columns: placed.columns,
  edges: placed.edges.length, width: placed.width, height: placed.height,
  x: Object.fromEntries([...placed.positions].map(([id, p]) => [id, p.x])) };
console.log(JSON.stringify(out));
"""


def _layout(nodes: list[dict[str, object]]) -> dict[str, object]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed; the browser test still draws the graph")
    result = subprocess.run([node, "--input-type=module", "-e", LAYOUT_CHECK, json.dumps(nodes)],
                            cwd=STATIC / "js", capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    found: dict[str, object] = json.loads(result.stdout)
    return found


def test_the_asset_graph_is_layered_by_longest_path_and_ordered_by_barycenter() -> None:
    # a -> b -> c and a -> c: c sits two columns right of a, not one.
    # x1, x2 feed z2 and z1 crosswise; barycenter puts z1 beside x2.
    nodes: list[dict[str, object]] = [
        {"id": "a", "upstream": []}, {"id": "b", "upstream": ["a"]}, {"id": "c", "upstream": ["a", "b"]},
        {"id": "x1", "upstream": []}, {"id": "x2", "upstream": []},
        {"id": "z1", "upstream": ["x2"]}, {"id": "z2", "upstream": ["x1"]},
        {"id": "elsewhere_child", "upstream": ["in/another/location"]},
    ]
    out = _layout(nodes)
    assert out["layers"] == {"a": 0, "b": 1, "c": 2, "x1": 0, "x2": 0, "z1": 1, "z2": 1, "elsewhere_child": 0}
    columns = out["columns"]
    assert isinstance(columns, list)
    assert columns[0] == ["a", "elsewhere_child", "x1", "x2"]
    assert columns[1] == ["b", "z2", "z1"]
    assert columns[2] == ["c"]
    assert out["edges"] == 5  # the edge from another location is not drawn


def test_a_cycle_does_not_hang_the_layout() -> None:
    out = _layout([{"id": "p", "upstream": ["q"]}, {"id": "q", "upstream": ["p"]}])
    assert sorted(out["layers"].values()) == [0, 1]  # type: ignore[attr-defined]

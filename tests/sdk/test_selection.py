"""Which assets a selection covers, as AssetSelection objects and as the
string form users type on the CLI and in ``define_asset_job``.

The graph used throughout::

    a ─► b ─► c ─► d          x (kind python, alone)
    │
    ├──► e
    └──► warehouse/orders
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

import locus as dg
from locus import AssetKey, AssetSelection


def _asset(name: str, deps: Sequence[str] = (), **kwargs: object) -> dg.AssetsDefinition:
    def compute() -> int:
        return 1

    return dg.asset(name=name, deps=list(deps), **kwargs)(compute)  # type: ignore[call-overload, no-any-return]


@pytest.fixture(scope="module")
def graph() -> dg.AssetGraph:
    assets = [
        _asset("a", group_name="numbers", kinds=["python"], tags={"tier": "gold"}),
        _asset("b", ["a"], group_name="numbers", kinds=["python"]),
        _asset("c", ["b"], kinds=["python", "sql"], tags={"tier": "silver"}),
        _asset("d", ["c"]),
        _asset("x", kinds=["python"]),
        _asset("e", ["a"]),
        _asset("orders", ["a"], key_prefix="warehouse", group_name="lake"),
    ]
    return dg.Definitions(assets=assets).asset_graph


def names(selection: AssetSelection | str, graph: dg.AssetGraph) -> list[str]:
    if isinstance(selection, str):
        selection = AssetSelection.from_string(selection)
    return sorted(k.to_user_string() for k in selection.resolve(graph))


ALL = ["a", "b", "c", "d", "e", "warehouse/orders", "x"]

# -- objects -----------------------------------------------------------------------


def test_all_selects_every_asset(graph: dg.AssetGraph) -> None:
    assert names(AssetSelection.all(), graph) == ALL


def test_groups_select_by_group_name(graph: dg.AssetGraph) -> None:
    assert names(AssetSelection.groups("numbers"), graph) == ["a", "b"]
    assert names(AssetSelection.groups("numbers", "lake"), graph) == ["a", "b", "warehouse/orders"]
    assert names(AssetSelection.groups("nothing"), graph) == []


def test_keys_accept_strings_lists_and_asset_keys(graph: dg.AssetGraph) -> None:
    selection = AssetSelection.keys("a", ["warehouse", "orders"], AssetKey("x"))
    assert names(selection, graph) == ["a", "warehouse/orders", "x"]
    assert names(AssetSelection.keys("warehouse/orders"), graph) == ["warehouse/orders"]


def test_unknown_key_is_an_error_listing_the_known_assets(graph: dg.AssetGraph) -> None:
    with pytest.raises(dg.SelectionError, match="no asset with key nope") as caught:
        AssetSelection.keys("nope").resolve(graph)
    assert "warehouse/orders" in (caught.value.hint or "")


def test_assets_select_asset_definitions() -> None:
    a = _asset("a")
    b = _asset("b", ["a"])
    selection = AssetSelection.assets(b)
    assert names(selection, dg.Definitions(assets=[a, b]).asset_graph) == ["b"]


def test_kind_and_tag_select_by_attributes(graph: dg.AssetGraph) -> None:
    assert names(AssetSelection.kind("python"), graph) == ["a", "b", "c", "x"]
    assert names(AssetSelection.kind("sql"), graph) == ["c"]
    assert names(AssetSelection.tag("tier", "gold"), graph) == ["a"]
    assert names(AssetSelection.tag("tier"), graph) == ["a", "c"]


def test_upstream_and_downstream_include_the_start_and_go_all_the_way(graph: dg.AssetGraph) -> None:
    assert names(AssetSelection.keys("c").upstream(), graph) == ["a", "b", "c"]
    assert names(AssetSelection.keys("b").downstream(), graph) == ["b", "c", "d"]


def test_depth_limits_the_traversal(graph: dg.AssetGraph) -> None:
    assert names(AssetSelection.keys("d").upstream(depth=1), graph) == ["c", "d"]
    assert names(AssetSelection.keys("a").downstream(depth=1), graph) == ["a", "b", "e", "warehouse/orders"]
    assert names(AssetSelection.keys("a").downstream(depth=2), graph) == ["a", "b", "c", "e", "warehouse/orders"]


def test_traversal_can_leave_out_the_start(graph: dg.AssetGraph) -> None:
    assert names(AssetSelection.keys("c").upstream(include_self=False), graph) == ["a", "b"]
    assert names(AssetSelection.keys("c").downstream(include_self=False), graph) == ["d"]


def test_operators_union_intersect_and_subtract(graph: dg.AssetGraph) -> None:
    numbers = AssetSelection.groups("numbers")
    python = AssetSelection.kind("python")
    assert names(numbers | AssetSelection.keys("x"), graph) == ["a", "b", "x"]
    assert names(python & AssetSelection.keys("a").downstream(), graph) == ["a", "b", "c"]
    assert names(python - numbers, graph) == ["c", "x"]
    assert names(AssetSelection.all() - AssetSelection.keys("a").downstream(), graph) == ["x"]


# -- strings -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("*", ALL),
        ("group:numbers", ["a", "b"]),
        ("key:b", ["b"]),
        ("b", ["b"]),
        ("key:a+", ["a", "b", "c", "d", "e", "warehouse/orders"]),
        ("+key:c", ["a", "b", "c"]),
        ("1+key:c", ["b", "c"]),
        ("2+key:d", ["b", "c", "d"]),
        ("key:b+1", ["b", "c"]),
        ("key:a+1", ["a", "b", "e", "warehouse/orders"]),
        ("1+key:c+1", ["b", "c", "d"]),
        ("+key:b+", ["a", "b", "c", "d"]),  # b's upstreams and downstreams, not a's downstreams
        ("1+key:b+1", ["a", "b", "c"]),
        ("(key:b)+1", ["b", "c"]),
        ("kind:python", ["a", "b", "c", "x"]),
        ("kind:python and not key:x", ["a", "b", "c"]),
        ("not group:numbers", ["c", "d", "e", "warehouse/orders", "x"]),
        ("group:numbers or key:x", ["a", "b", "x"]),
        ("(key:a or key:x) and kind:python", ["a", "x"]),
        ("key:a or key:x and kind:sql", ["a"]),  # and binds tighter than or
        ("key:a+ and +key:c", ["a", "b", "c"]),  # the path between two assets
        ("tag:tier=gold", ["a"]),
        ("tag:tier", ["a", "c"]),
        ("a,x", ["a", "x"]),
        ("a, d, x", ["a", "d", "x"]),
        ("*b", ["a", "b"]),
        ("b*", ["b", "c", "d"]),
        ("*b*", ["a", "b", "c", "d"]),
        ('key:"warehouse/orders"', ["warehouse/orders"]),
        ('"warehouse/orders"', ["warehouse/orders"]),
        ("warehouse/orders", ["warehouse/orders"]),
        ("+warehouse/orders", ["a", "warehouse/orders"]),
        ("  group:lake  ", ["warehouse/orders"]),
    ],
)
def test_string_selects(text: str, expected: list[str], graph: dg.AssetGraph) -> None:
    assert names(text, graph) == expected


def test_string_and_object_forms_agree(graph: dg.AssetGraph) -> None:
    as_object = AssetSelection.kind("python") - AssetSelection.keys("x")
    assert names("kind:python and not key:x", graph) == names(as_object, graph)


def test_define_asset_job_accepts_a_selection_string() -> None:
    assets = [_asset("a", group_name="numbers"), _asset("b", ["a"], group_name="numbers"), _asset("c", ["b"])]
    defs = dg.Definitions(assets=assets, jobs=[dg.define_asset_job("numbers_job", selection="group:numbers")])
    assert list(defs.get_job_def("numbers_job").nodes) == ["a", "b"]


def test_define_asset_job_accepts_a_list_of_assets_and_keys() -> None:
    a, b, c = _asset("a"), _asset("b", ["a"]), _asset("c", ["b"])
    job_def = dg.define_asset_job("picked", selection=[c, "a"])
    assert list(dg.Definitions(assets=[a, b, c], jobs=[job_def]).get_job_def("picked").nodes) == ["a", "c"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "it is empty"),
        ("   ", "it is empty"),
        ("key:a or", "it ends too early"),
        ("(key:a", "a '(' is not closed"),
        ("key:a)", "unexpected ')'"),
        ("key:a key:b", "unexpected 'key:b'"),
        ("and", "unexpected 'and'"),
        ("%", "unexpected character at position 0"),
        ("group:numbers & key:a", "unexpected character at position 14"),
    ],
)
def test_unparseable_strings_name_the_text_and_give_an_example(text: str, problem: str) -> None:
    with pytest.raises(dg.SelectionError) as caught:
        AssetSelection.from_string(text)
    message = str(caught.value)
    assert f"cannot parse asset selection {text!r}" in message
    assert problem in message
    assert '"group:numbers"' in message  # an example of what to write


def test_selection_that_is_not_a_selection_is_refused_with_an_example() -> None:
    with pytest.raises(dg.SelectionError, match="is not an AssetSelection") as caught:
        dg.define_asset_job("bad", selection=42)
    assert "group:numbers" in str(caught.value)

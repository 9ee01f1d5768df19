"""``@asset`` as users write it: keys, groups, descriptions, dependencies by
parameter, ``deps`` and ``ins``, direct calls, loading from modules, and
AssetKey's own behaviour."""

from __future__ import annotations

import types

import pytest

import locus as dg
from locus import AssetKey


def _materialize(*assets: dg.AssetsDefinition, **kwargs: object) -> dg.ExecutionResult:
    return dg.materialize(list(assets), **kwargs)  # type: ignore[arg-type]


# -- keys, names and attributes ------------------------------------------------


def test_bare_asset_is_keyed_by_function_name_in_default_group() -> None:
    @dg.asset
    def orders() -> list[int]:
        return [1, 2]

    assert orders.key == AssetKey("orders")
    assert orders.group_name == "default"
    assert orders.upstream_keys == ()


def test_name_replaces_the_function_name_in_the_key() -> None:
    @dg.asset(name="customers")
    def build_customers() -> int:
        return 1

    assert build_customers.key == AssetKey("customers")


@pytest.mark.parametrize("prefix", ["warehouse/raw", ["warehouse", "raw"]])
def test_key_prefix_as_string_or_list_prefixes_the_key(prefix: object) -> None:
    @dg.asset(key_prefix=prefix)  # type: ignore[call-overload]
    def orders() -> int:
        return 1

    assert orders.key == AssetKey(["warehouse", "raw", "orders"])
    assert orders.key.to_user_string() == "warehouse/raw/orders"


def test_group_description_kinds_tags_and_metadata_are_kept() -> None:
    @dg.asset(
        group_name="sales",
        description="All orders.",
        kinds=["python", "duckdb"],
        tags={"team": "data", "tier": 1},
        metadata={"owner": "ana", "rows": 10},
    )
    def orders() -> int:
        """Not this docstring."""
        return 1

    assert orders.group_name == "sales"
    assert orders.description == "All orders."
    assert orders.kinds == {"python", "duckdb"}
    # Tags are strings, as in Dagster; non-strings are stored as JSON text.
    assert orders.tags == {"team": "data", "tier": "1"}
    assert orders.metadata == {"owner": "ana", "rows": 10}


def test_docstring_is_the_description_when_none_is_given() -> None:
    @dg.asset
    def orders() -> int:
        """Every order placed today."""
        return 1

    assert orders.description == "Every order placed today."


def test_asset_without_docstring_has_no_description() -> None:
    @dg.asset
    def orders() -> int:
        return 1

    assert orders.description is None


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"group_name": "not a name"}, "group_name"),
        ({"kinds": "python"}, "kinds must be a list"),
        ({"ins": {"missing": dg.AssetIn("x")}}, "not parameters"),
        ({"deps": [42]}, "deps entry 42"),
        ({"no_such_argument": 1}, "no_such_argument"),
    ],
)
def test_bad_decorator_arguments_are_rejected_naming_the_asset(kwargs: dict[str, object], fragment: str) -> None:
    def orders(upstream: int) -> int:
        return upstream

    with pytest.raises(dg.DefinitionError, match=fragment) as caught:
        dg.asset(**kwargs)(orders)  # type: ignore[call-overload]
    assert "'orders'" in str(caught.value)


def test_asset_reading_itself_is_rejected() -> None:
    with pytest.raises(dg.DefinitionError, match="'orders' depends on itself"):

        @dg.asset(deps=["orders"])
        def orders() -> int:
            return 1


# -- dependencies -------------------------------------------------------------


def test_parameters_name_upstream_assets_and_receive_their_values() -> None:
    @dg.asset
    def numbers() -> list[int]:
        return [1, 2, 3]

    @dg.asset
    def total(numbers: list[int]) -> int:
        return sum(numbers)

    assert total.upstream_keys == (AssetKey("numbers"),)
    result = _materialize(numbers, total)
    assert result.success
    assert result.asset_value("total") == 6


def test_deps_accept_assets_strings_and_asset_keys_as_order_only_upstreams() -> None:
    calls: list[str] = []

    @dg.asset
    def a() -> None:
        calls.append("a")

    @dg.asset(key_prefix="raw")
    def b() -> None:
        calls.append("b")

    @dg.asset
    def c() -> None:
        calls.append("c")

    @dg.asset(deps=[a, "raw/b", AssetKey("c")])
    def d() -> None:
        calls.append("d")

    assert d.upstream_keys == (AssetKey("a"), AssetKey(["raw", "b"]), AssetKey("c"))
    # Listed first, the dependant still runs last: deps order the run.
    assert _materialize(d, c, b, a).success
    assert calls[-1] == "d"
    assert sorted(calls[:3]) == ["a", "b", "c"]


def test_asset_in_reads_an_asset_under_another_name() -> None:
    @dg.asset
    def raw_orders() -> list[int]:
        return [5, 6]

    @dg.asset(ins={"orders": dg.AssetIn("raw_orders")})
    def order_count(orders: list[int]) -> int:
        return len(orders)

    assert order_count.upstream_keys == (AssetKey("raw_orders"),)
    assert _materialize(raw_orders, order_count).asset_value("order_count") == 2


def test_asset_in_key_prefix_prefixes_the_parameter_name() -> None:
    @dg.asset(key_prefix=["warehouse"])
    def orders() -> list[int]:
        return [1, 2, 3, 4]

    @dg.asset(ins={"orders": dg.AssetIn(key_prefix="warehouse")})
    def order_total(orders: list[int]) -> int:
        return sum(orders)

    assert order_total.upstream_keys == (AssetKey(["warehouse", "orders"]),)
    assert _materialize(orders, order_total).asset_value("order_total") == 10


def test_asset_can_take_context_first_and_still_read_upstreams() -> None:
    @dg.asset
    def numbers() -> list[int]:
        return [1, 2]

    @dg.asset
    def described(context: dg.AssetExecutionContext, numbers: list[int]) -> str:
        return f"{context.asset_key.to_user_string()}:{len(numbers)}"

    assert described.upstream_keys == (AssetKey("numbers"),)
    assert _materialize(numbers, described).asset_value("described") == "described:2"


# -- execution settings -------------------------------------------------------


def test_io_manager_key_stores_the_value_with_that_resource() -> None:
    memory = dg.InMemoryIOManager()

    @dg.asset(io_manager_key="memory")
    def numbers() -> list[int]:
        return [7]

    assert numbers.io_manager_key == "memory"
    assert numbers.resource_keys == {"memory"}
    assert _materialize(numbers, resources={"memory": memory}).success
    assert memory.values == {("asset", "numbers"): [7]}


def test_retry_policy_retries_a_failing_asset_until_it_succeeds() -> None:
    attempts: list[int] = []

    @dg.asset(retry_policy=dg.RetryPolicy(max_retries=2))
    def flaky() -> int:
        attempts.append(1)
        if len(attempts) < 3:
            raise RuntimeError("not yet")
        return 42

    result = _materialize(flaky)
    assert result.success
    assert result.asset_value("flaky") == 42
    assert len(attempts) == 3


def test_retry_policy_gives_up_after_max_retries() -> None:
    attempts: list[int] = []

    @dg.asset(retry_policy=dg.RetryPolicy(max_retries=1))
    def broken() -> int:
        attempts.append(1)
        raise RuntimeError("always")

    result = _materialize(broken, raise_on_error=False)
    assert not result.success
    assert len(attempts) == 2


def test_calling_an_asset_directly_runs_the_function() -> None:
    @dg.asset
    def total(numbers: list[int]) -> int:
        return sum(numbers)

    assert total([1, 2, 3]) == 6
    assert total(numbers=[4]) == 4


# -- load_assets_from_modules -------------------------------------------------


def _module_with_chain() -> types.ModuleType:
    module = types.ModuleType("chain_assets")

    @dg.asset
    def numbers() -> list[int]:
        return [1, 2, 3]

    @dg.asset
    def doubled(numbers: list[int]) -> list[int]:
        return [n * 2 for n in numbers]

    @dg.asset(deps=[doubled])
    def report() -> str:
        return "done"

    module.numbers = numbers  # type: ignore[attr-defined]
    module.doubled = doubled  # type: ignore[attr-defined]
    module.report = report  # type: ignore[attr-defined]
    module.alias_of_numbers = numbers  # type: ignore[attr-defined]
    module.not_an_asset = 42  # type: ignore[attr-defined]
    return module


def test_load_assets_from_modules_finds_each_asset_once_in_order() -> None:
    module = _module_with_chain()
    loaded = dg.load_assets_from_modules([module, module])
    assert [a.key.to_user_string() for a in loaded] == ["numbers", "doubled", "report"]


def test_load_assets_from_modules_with_group_name_regroups_every_asset() -> None:
    loaded = dg.load_assets_from_modules([_module_with_chain()], group_name="math")
    assert {a.group_name for a in loaded} == {"math"}
    defs = dg.Definitions(assets=loaded, jobs=[dg.define_asset_job("math_job", selection="group:math")])
    assert len(defs.get_job_def("math_job").nodes) == 3


def test_load_assets_from_modules_with_key_prefix_keeps_internal_dependencies() -> None:
    loaded = dg.load_assets_from_modules([_module_with_chain()], key_prefix="lake")
    by_key = {a.key: a for a in loaded}
    assert set(by_key) == {AssetKey(["lake", "numbers"]), AssetKey(["lake", "doubled"]), AssetKey(["lake", "report"])}
    assert by_key[AssetKey(["lake", "doubled"])].upstream_keys == (AssetKey(["lake", "numbers"]),)
    assert by_key[AssetKey(["lake", "report"])].upstream_keys == (AssetKey(["lake", "doubled"]),)

    dg.Definitions(assets=loaded)  # validates: no dangling upstreams
    result = dg.materialize(loaded)
    assert result.success
    assert result.asset_value("lake/doubled") == [2, 4, 6]


def test_prefixed_assets_can_live_beside_the_originals() -> None:
    module = _module_with_chain()
    originals = dg.load_assets_from_modules([module])
    copies = dg.load_assets_from_modules([module], key_prefix=["copy"])
    defs = dg.Definitions(assets=[*originals, *copies])
    assert len(defs.assets) == 6


# -- AssetKey ----------------------------------------------------------------------


def test_asset_keys_are_equal_by_path_and_usable_as_dict_keys() -> None:
    assert AssetKey("a") == AssetKey(["a"])
    assert AssetKey(["a", "b"]) != AssetKey("a/b")  # a string is one part
    assert AssetKey(["a", "b"]) != ["a", "b"]
    assert {AssetKey(["x", "y"]): 1}[AssetKey(("x", "y"))] == 1
    assert sorted([AssetKey("b"), AssetKey("a")]) == [AssetKey("a"), AssetKey("b")]


def test_asset_key_user_string_joins_parts_with_slashes() -> None:
    key = AssetKey(["warehouse", "orders"])
    assert key.to_user_string() == "warehouse/orders"
    assert AssetKey.from_user_string("warehouse/orders") == key


def test_asset_key_stored_form_round_trips_even_with_slashes_in_a_part() -> None:
    key = AssetKey(["s3", "bucket/with/slash"])
    stored = key.to_string()
    assert AssetKey.from_string(stored) == key
    assert stored != AssetKey(["s3", "bucket", "with", "slash"]).to_string()


def test_asset_key_is_immutable() -> None:
    key = AssetKey("a")
    with pytest.raises(AttributeError):
        key.path = ("b",)  # type: ignore[misc]


@pytest.mark.parametrize("bad", [[], "", ["a", ""], [1]])
def test_asset_key_rejects_empty_or_non_string_parts(bad: object) -> None:
    with pytest.raises(ValueError, match="non-empty strings"):
        AssetKey(bad)  # type: ignore[arg-type]

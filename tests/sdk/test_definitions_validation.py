"""``Definitions`` validates everything when it is built: a broken code
location fails at load with a message that names the culprit and the fix,
never halfway through a run."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

import locus as dg
from locus import AssetKey


def _asset(name: str, deps: Sequence[str] = (), **kwargs: object) -> dg.AssetsDefinition:
    """An asset named ``name`` with order-only upstreams ``deps``."""

    def compute() -> int:
        return 1

    return dg.asset(name=name, deps=list(deps), **kwargs)(compute)  # type: ignore[call-overload, no-any-return]


@dg.op
def noop() -> None:
    pass


def _job(name: str) -> dg.JobDefinition:
    def body() -> None:
        noop()

    return dg.job(name=name)(body)


# -- duplicates ----------------------------------------------------------------


def test_two_different_assets_with_one_key_are_refused_naming_both_functions() -> None:
    @dg.asset(name="orders")
    def load_orders() -> int:
        return 1

    @dg.asset(name="orders")
    def fetch_orders() -> int:
        return 2

    with pytest.raises(dg.DefinitionError) as caught:
        dg.Definitions(assets=[load_orders, fetch_orders])
    message = str(caught.value)
    assert "two different assets have the key 'orders'" in message
    assert "load_orders" in message
    assert "fetch_orders" in message
    assert "fix: rename one with name= or key_prefix=" in message


def test_the_same_asset_listed_twice_is_accepted_once() -> None:
    a = _asset("a")
    defs = dg.Definitions(assets=[a, [a]])
    assert list(defs.asset_graph.keys) == [AssetKey("a")]
    assert list(defs.get_implicit_global_asset_job_def().nodes) == ["a"]


def test_two_different_jobs_with_one_name_are_refused() -> None:
    with pytest.raises(dg.DefinitionError, match="two different jobs are named 'nightly'"):
        dg.Definitions(jobs=[_job("nightly"), _job("nightly")])


def test_two_different_schedules_with_one_name_are_refused() -> None:
    nightly = _job("nightly")
    first = dg.ScheduleDefinition(name="every_day", job=nightly, cron_schedule="0 0 * * *")
    second = dg.ScheduleDefinition(name="every_day", job=nightly, cron_schedule="0 1 * * *")
    with pytest.raises(dg.DefinitionError, match="two different schedules are named 'every_day'"):
        dg.Definitions(jobs=[nightly], schedules=[first, second])


def test_two_different_sensors_with_one_name_are_refused() -> None:
    nightly = _job("nightly")

    def watch() -> None:
        return None

    first = dg.sensor(job=nightly, name="watch")(watch)
    second = dg.sensor(job=nightly, name="watch")(watch)
    with pytest.raises(dg.DefinitionError, match="two different sensors are named 'watch'") as caught:
        dg.Definitions(sensors=[first, second])
    assert "unique name" in str(caught.value)


# -- the asset graph ------------------------------------------------------------


def test_unknown_upstream_asset_names_both_assets_and_the_fix() -> None:
    @dg.asset
    def report(orders: list[int]) -> int:
        return len(orders)

    with pytest.raises(dg.DefinitionError) as caught:
        dg.Definitions(assets=[report])
    message = str(caught.value)
    assert "asset 'report' depends on 'orders'" in message
    assert "define an asset named 'orders'" in message


def test_unknown_deps_entry_is_refused_like_an_unknown_parameter() -> None:
    with pytest.raises(dg.DefinitionError, match="asset 'b' depends on 'raw/a'"):
        dg.Definitions(assets=[_asset("b", deps=["raw/a"])])


def test_cycle_is_refused_naming_every_asset_in_order() -> None:
    # a reads c, c reads b, b reads a
    assets = [_asset("a", ["c"]), _asset("b", ["a"]), _asset("c", ["b"]), _asset("outside", ["a"])]
    with pytest.raises(dg.DefinitionError) as caught:
        dg.Definitions(assets=assets)
    message = str(caught.value)
    assert "the assets form a cycle: a <- c <- b <- a" in message
    assert "outside" not in message
    assert "break the cycle" in message


def test_two_asset_cycle_is_refused() -> None:
    with pytest.raises(dg.DefinitionError, match="cycle: x <- y <- x"):
        dg.Definitions(assets=[_asset("x", ["y"]), _asset("y", ["x"])])


def test_non_asset_in_assets_list_is_refused() -> None:
    with pytest.raises(dg.DefinitionError, match="which is not an asset"):
        dg.Definitions(assets=[lambda: 1])


# -- resources ------------------------------------------------------------------


def test_missing_resource_names_the_asset_and_the_key() -> None:
    with pytest.raises(dg.DefinitionError) as caught:
        dg.Definitions(assets=[_asset("orders", required_resource_keys={"warehouse"})])
    message = str(caught.value)
    assert "asset 'orders' requires resource 'warehouse'" in message
    assert "Definitions(resources={'warehouse': ...})" in message


def test_missing_io_manager_key_is_a_missing_resource() -> None:
    with pytest.raises(dg.DefinitionError, match="asset 'orders' requires resource 'lake'"):
        dg.Definitions(assets=[_asset("orders", io_manager_key="lake")])
    defs = dg.Definitions(assets=[_asset("orders", io_manager_key="lake")], resources={"lake": dg.InMemoryIOManager()})
    assert defs.get_assets_def("orders").io_manager_key == "lake"


def test_default_io_manager_needs_no_resource_entry() -> None:
    assert dg.Definitions(assets=[_asset("orders")]).resources == {}


def test_op_job_missing_a_resource_is_refused_naming_the_job() -> None:
    @dg.op(required_resource_keys={"api"})
    def call_api() -> None:
        pass

    @dg.job
    def uses_api() -> None:
        call_api()

    with pytest.raises(dg.DefinitionError, match="job 'uses_api' requires resource 'api'"):
        dg.Definitions(jobs=[uses_api])
    assert dg.Definitions(jobs=[uses_api], resources={"api": object()}).get_job_def("uses_api") is uses_api


def test_resource_key_must_be_an_identifier() -> None:
    with pytest.raises(dg.DefinitionError, match="resource key 'my-db' is not a valid Python identifier"):
        dg.Definitions(resources={"my-db": object()})


# -- schedules, sensors and their jobs ---------------------------------------------


def test_schedule_targeting_an_undefined_job_is_refused_listing_the_jobs() -> None:
    schedule_def = dg.ScheduleDefinition(job_name="missing_job", cron_schedule="0 * * * *")
    with pytest.raises(dg.DefinitionError) as caught:
        dg.Definitions(jobs=[_job("present")], schedules=[schedule_def])
    message = str(caught.value)
    assert "schedule 'missing_job_schedule' targets job 'missing_job', which is not defined" in message
    assert "['present']" in message


def test_sensor_targeting_an_undefined_job_is_refused() -> None:
    def watch() -> None:
        return None

    sensor_def = dg.sensor(job_name="missing_job")(watch)
    with pytest.raises(dg.DefinitionError, match="sensor 'watch' targets job 'missing_job', which is not defined"):
        dg.Definitions(sensors=[sensor_def])


def test_jobs_referenced_only_by_schedules_and_sensors_are_included() -> None:
    scheduled = _job("scheduled")
    sensed = _job("sensed")
    asset_job = dg.define_asset_job("asset_job")

    def watch() -> None:
        return None

    defs = dg.Definitions(
        assets=[_asset("a")],
        schedules=[
            dg.ScheduleDefinition(job=scheduled, cron_schedule="0 * * * *"),
            dg.ScheduleDefinition(job=asset_job, cron_schedule="0 0 * * *"),
        ],
        sensors=[dg.sensor(jobs=[sensed, scheduled])(watch)],
    )
    assert set(defs.jobs) == {"scheduled", "sensed", "asset_job"}
    assert defs.get_job_def("scheduled") is scheduled
    assert list(defs.get_job_def("asset_job").nodes) == ["a"]


# -- asset jobs and lookups -------------------------------------------------------


def test_asset_job_whose_selection_matches_nothing_is_refused() -> None:
    job_def = dg.define_asset_job("empty_job", selection=dg.AssetSelection.groups("nothing_here"))
    with pytest.raises(dg.DefinitionError, match="asset job 'empty_job': its selection matches no assets"):
        dg.Definitions(assets=[_asset("a")], jobs=[job_def])


def test_asset_job_selecting_an_unknown_key_names_the_key_and_the_known_assets() -> None:
    job_def = dg.define_asset_job("typo_job", selection=["ordrs"])
    with pytest.raises(dg.SelectionError, match="no asset with key ordrs") as caught:
        dg.Definitions(assets=[_asset("orders")], jobs=[job_def])
    assert "orders" in caught.value.hint  # type: ignore[operator]


def test_get_job_def_for_an_unknown_name_lists_the_jobs() -> None:
    defs = dg.Definitions(jobs=[_job("beta"), _job("alpha")])
    with pytest.raises(dg.DefinitionError, match="no job named 'gamma'") as caught:
        defs.get_job_def("gamma")
    assert "pick one of: alpha, beta" in str(caught.value)


def test_lookups_of_unknown_assets_schedules_and_sensors_name_them() -> None:
    defs = dg.Definitions(assets=[_asset("a")])
    with pytest.raises(dg.DefinitionError, match="no asset with key 'b/c'"):
        defs.get_assets_def("b/c")
    with pytest.raises(dg.DefinitionError, match="no schedule named 'hourly'"):
        defs.get_schedule_def("hourly")
    with pytest.raises(dg.DefinitionError, match="no sensor named 'watch'"):
        defs.get_sensor_def("watch")


def test_merge_combines_two_code_locations_worth_of_definitions() -> None:
    first = dg.Definitions(assets=[_asset("a")], jobs=[_job("one")])
    second = dg.Definitions(assets=[_asset("b")], jobs=[_job("two")])
    merged = dg.Definitions.merge(first, second)
    assert set(merged.asset_graph.keys) == {AssetKey("a"), AssetKey("b")}
    assert set(merged.jobs) == {"one", "two"}


def test_layered_graph_of_two_thousand_assets_builds_and_orders_correctly() -> None:
    layers, width = 20, 100
    assets = []
    for layer in range(layers):
        for i in range(width):
            deps = [f"l{layer - 1}_{(i + d) % width}" for d in (0, 1)] if layer else []
            assets.append(_asset(f"l{layer}_{i}", deps, group_name=f"layer{layer % 2}"))
    defs = dg.Definitions(assets=assets, jobs=[dg.define_asset_job("everything")])

    job_def = defs.get_job_def("everything")
    assert len(job_def.nodes) == layers * width
    position = {name: index for index, name in enumerate(job_def.nodes)}
    for a in assets:
        for up in a.upstream_keys:
            assert position[up.to_user_string()] < position[a.key.to_user_string()]
    graph = defs.asset_graph
    assert len(graph.with_downstream([AssetKey("l0_0")])) > width
    assert graph.with_upstream([AssetKey("l2_0")]) == {
        AssetKey(k) for k in ("l2_0", "l1_0", "l1_1", "l0_0", "l0_1", "l0_2")
    }

"""Resources, config and IO managers as a user meets them: typed fields that
validate, environment variables read only when a run starts, config given
through run config, and IO managers that see the right context."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import locus as dg
from locus import Config, ConfigurableResource, EnvVar


class Warehouse(ConfigurableResource):
    url: str
    port: int = 5432
    password: str = ""


# -- ConfigurableResource ---------------------------------------------------------


def test_configurable_resource_fields_are_typed_and_defaulted() -> None:
    warehouse = Warehouse(url="db.internal")
    assert (warehouse.url, warehouse.port) == ("db.internal", 5432)
    assert Warehouse(url="db", port="6543").port == 6543  # type: ignore[arg-type]


def test_configurable_resource_rejects_a_bad_value_naming_the_field() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="port"):
        Warehouse(url="db", port="not a number")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="colour"):
        Warehouse(url="db", colour="red")  # type: ignore[call-arg]


def test_configurable_resource_is_injected_by_typed_parameter() -> None:
    @dg.asset
    def connection_string(warehouse: Warehouse) -> str:
        return f"{warehouse.url}:{warehouse.port}"

    assert connection_string.upstream_keys == ()  # a resource, not an upstream asset
    assert connection_string.resource_keys == {"warehouse", "io_manager"}
    result = dg.materialize([connection_string], resources={"warehouse": Warehouse(url="db")})
    assert result.asset_value("connection_string") == "db:5432"


def test_configured_returns_a_copy_with_fields_replaced() -> None:
    base = Warehouse(url="db", port=1)
    changed = base.configured({"port": 2})
    assert (changed.url, changed.port) == ("db", 2)
    assert base.port == 1


def test_run_config_overrides_configurable_resource_fields() -> None:
    @dg.asset
    def port(warehouse: Warehouse) -> int:
        return warehouse.port

    result = dg.materialize(
        [port],
        resources={"warehouse": Warehouse(url="db")},
        run_config={"resources": {"warehouse": {"config": {"port": 7}}}},
    )
    assert result.asset_value("port") == 7


def test_env_var_field_is_read_when_the_run_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCUS_TEST_WAREHOUSE_PASSWORD", "at-definition")
    warehouse = Warehouse(url="db", password=EnvVar("LOCUS_TEST_WAREHOUSE_PASSWORD"))

    @dg.asset
    def secret(warehouse: Warehouse) -> str:
        return warehouse.password

    monkeypatch.setenv("LOCUS_TEST_WAREHOUSE_PASSWORD", "at-run")
    assert dg.materialize([secret], resources={"warehouse": warehouse}).asset_value("secret") == "at-run"


def test_env_var_survives_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    warehouse = Warehouse(url="db", password=EnvVar("LOCUS_TEST_WAREHOUSE_PASSWORD")).configured({"port": 9})

    @dg.asset
    def secret(warehouse: Warehouse) -> str:
        return f"{warehouse.password}@{warehouse.port}"

    monkeypatch.setenv("LOCUS_TEST_WAREHOUSE_PASSWORD", "pw")
    assert dg.materialize([secret], resources={"warehouse": warehouse}).asset_value("secret") == "pw@9"


def test_missing_env_var_fails_the_run_naming_the_field_and_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOCUS_TEST_MISSING_VARIABLE", raising=False)
    # Defining the resource and the Definitions does not read the environment.
    warehouse = Warehouse(url="db", password=EnvVar("LOCUS_TEST_MISSING_VARIABLE"))

    @dg.asset
    def secret(warehouse: Warehouse) -> str:
        return warehouse.password

    dg.Definitions(assets=[secret], resources={"warehouse": warehouse})
    with pytest.raises(dg.LocusError) as caught:
        dg.materialize([secret], resources={"warehouse": warehouse})
    message = str(caught.value)
    assert "resources.warehouse.password" in message
    assert "LOCUS_TEST_MISSING_VARIABLE" in message
    assert "export LOCUS_TEST_MISSING_VARIABLE=" in message


# -- @resource ------------------------------------------------------------------------


@dg.resource(config_schema={"prefix": str, "times": dg.Field(int, default_value=2)})
def greeter(init_context: dg.InitResourceContext) -> str:
    config = init_context.resource_config
    return str(config["prefix"]) * int(config["times"])


@dg.asset(required_resource_keys={"greeter"})
def greeting(context: dg.AssetExecutionContext) -> str:
    return str(context.resources.greeter)


def test_function_resource_gets_its_config_from_run_config() -> None:
    result = dg.materialize(
        [greeting], resources={"greeter": greeter}, run_config={"resources": {"greeter": {"config": {"prefix": "hi"}}}}
    )
    assert result.asset_value("greeting") == "hihi"


def test_function_resource_missing_required_config_is_a_run_config_error() -> None:
    with pytest.raises(dg.RunConfigError, match=re.escape("resources.greeter.config.prefix: missing required field")):
        dg.materialize([greeting], resources={"greeter": greeter})


def test_configured_function_resource_needs_no_run_config() -> None:
    result = dg.materialize([greeting], resources={"greeter": greeter.configured({"prefix": "yo", "times": 3})})
    assert result.asset_value("greeting") == "yoyoyo"
    # Defaults of the schema apply to configured values too.
    result = dg.materialize([greeting], resources={"greeter": greeter.configured({"prefix": "ab"})})
    assert result.asset_value("greeting") == "abab"


def test_configured_function_resource_checks_its_config_at_once() -> None:
    with pytest.raises(dg.DefinitionError, match="resource 'greeter'") as caught:
        greeter.configured({"prefix": 1, "colour": "red"})
    message = str(caught.value)
    assert "config.prefix: expected str" in message
    assert "config.colour: unknown field" in message


def test_resource_without_context_parameter_is_called_plainly() -> None:
    @dg.resource
    def client() -> dict[str, str]:
        return {"name": "client"}

    @dg.op(required_resource_keys={"client"})
    def use_client(context: dg.OpExecutionContext) -> str:
        return str(context.resources.client["name"])

    @dg.job(resource_defs={"client": client})
    def uses() -> None:
        use_client()

    assert uses.execute_in_process().output_for_node("use_client") == "client"


def test_missing_resource_for_execute_in_process_is_named() -> None:
    @dg.op(required_resource_keys={"client"})
    def use_client() -> None:
        pass

    @dg.job
    def uses() -> None:
        use_client()

    with pytest.raises(dg.DefinitionError, match=r"job 'uses' requires resources \['client'\]"):
        uses.execute_in_process()


# -- op and asset config --------------------------------------------------------------


class LimitConfig(Config):
    limit: int
    label: str = "rows"


@dg.op
def take(config: LimitConfig) -> str:
    return f"{config.limit} {config.label}"


@dg.job
def take_job() -> None:
    take()


def test_config_class_is_filled_from_run_config() -> None:
    result = take_job.execute_in_process(run_config={"ops": {"take": {"config": {"limit": 3}}}})
    assert result.output_for_node("take") == "3 rows"


def test_config_class_errors_are_reported_with_their_paths() -> None:
    with pytest.raises(dg.RunConfigError) as caught:
        take_job.execute_in_process(run_config={"ops": {"take": {"config": {"limit": "many", "colour": "red"}}}})
    paths = [path for path, _ in caught.value.errors]
    assert "ops.take.config.limit" in paths
    assert "ops.take.config.colour" in paths
    assert "job 'take_job'" in str(caught.value)


def test_config_class_on_an_asset() -> None:
    @dg.asset
    def sample(config: LimitConfig) -> list[int]:
        return list(range(config.limit))

    result = dg.materialize([sample], run_config={"ops": {"sample": {"config": {"limit": 2}}}})
    assert result.asset_value("sample") == [0, 1]


def test_dict_config_schema_with_field_defaults() -> None:
    @dg.op(config_schema={"name": str, "times": dg.Field(int, default_value=2, description="repeat count")})
    def repeat(context: dg.OpExecutionContext) -> str:
        return str(context.op_config["name"]) * int(context.op_config["times"])

    @dg.job
    def repeat_job() -> None:
        repeat()

    result = repeat_job.execute_in_process(run_config={"ops": {"repeat": {"config": {"name": "ab"}}}})
    assert result.output_for_node("repeat") == "abab"
    with pytest.raises(
        dg.RunConfigError, match=re.escape("ops.repeat.config.name: missing required field of type str")
    ):
        repeat_job.execute_in_process()


def test_run_config_for_an_unknown_op_is_refused() -> None:
    with pytest.raises(dg.RunConfigError, match=re.escape("ops.tkae: no op named 'tkae'")):
        take_job.execute_in_process(run_config={"ops": {"tkae": {"config": {"limit": 1}}}})


# -- IO managers ----------------------------------------------------------------------


def test_in_memory_io_manager_keeps_asset_values() -> None:
    memory = dg.InMemoryIOManager()

    @dg.asset
    def numbers() -> list[int]:
        return [1, 2]

    @dg.asset(key_prefix="lake")
    def total(numbers: list[int]) -> int:
        return sum(numbers)

    assert dg.materialize([numbers, total], resources={"io_manager": memory}).success
    assert memory.values[("asset", "numbers")] == [1, 2]
    assert memory.values[("asset", "lake", "total")] == 3


def test_filesystem_io_manager_writes_files_you_can_find(tmp_path: Path) -> None:
    import pickle

    @dg.asset(key_prefix="warehouse")
    def orders() -> list[int]:
        return [1, 2, 3]

    @dg.asset(ins={"orders": dg.AssetIn(key_prefix="warehouse")})
    def order_count(orders: list[int]) -> int:
        return len(orders)

    io_manager = dg.FilesystemIOManager(base_dir=str(tmp_path))
    assert dg.materialize([orders, order_count], resources={"io_manager": io_manager}).success
    assert pickle.loads((tmp_path / "warehouse" / "orders").read_bytes()) == [1, 2, 3]
    assert pickle.loads((tmp_path / "order_count").read_bytes()) == 3

    # A later run of only the downstream asset reads the stored upstream.
    result = dg.materialize([orders, order_count], resources={"io_manager": io_manager}, selection="order_count")
    assert result.asset_value("order_count") == 3


def test_filesystem_io_manager_stores_op_outputs_by_run_and_step(tmp_path: Path) -> None:
    @dg.op
    def produce() -> int:
        return 5

    @dg.job(resource_defs={"io_manager": dg.FilesystemIOManager(base_dir=str(tmp_path))})
    def produce_job() -> None:
        produce()

    result = produce_job.execute_in_process()
    assert (tmp_path / result.run_id / "produce" / "result").is_file()


class RecordingIOManager(dg.IOManager):
    """Stores values in a dict and remembers every context it saw."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, ...], Any] = {}
        self.outputs: list[dg.OutputContext] = []
        self.inputs: list[dg.InputContext] = []

    def _key(self, context: dg.OutputContext) -> tuple[str, ...]:
        return tuple(context.get_asset_identifier() if context.has_asset_key else context.get_identifier())

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        self.outputs.append(context)
        self.values[self._key(context)] = obj

    def load_input(self, context: dg.InputContext) -> Any:
        self.inputs.append(context)
        return self.values[self._key(context.upstream_output)]


def test_custom_io_manager_sees_asset_keys_for_assets() -> None:
    recorder = RecordingIOManager()

    @dg.asset(key_prefix="raw")
    def events() -> list[str]:
        return ["e1"]

    @dg.asset(ins={"events": dg.AssetIn(key_prefix="raw")})
    def event_count(events: list[str]) -> int:
        return len(events)

    assert dg.materialize([events, event_count], resources={"io_manager": recorder}).success
    assert [c.asset_key for c in recorder.outputs] == [dg.AssetKey(["raw", "events"]), dg.AssetKey("event_count")]
    [loaded] = recorder.inputs
    assert loaded.name == "events"
    assert loaded.asset_key == dg.AssetKey(["raw", "events"])
    assert loaded.upstream_output.asset_key == dg.AssetKey(["raw", "events"])
    assert recorder.values[("event_count",)] == 1


def test_custom_io_manager_sees_step_and_output_names_for_ops() -> None:
    recorder = RecordingIOManager()

    @dg.op(out={"left": dg.Out(), "right": dg.Out()})
    def split() -> tuple[int, int]:
        return 1, 2

    @dg.op
    def add(a: int, b: int) -> int:
        return a + b

    @dg.job(resource_defs={"io_manager": recorder})
    def split_and_add() -> None:
        left, right = split()
        add(left, b=right)

    result = split_and_add.execute_in_process()
    assert result.output_for_node("add") == 3
    assert [(c.step_key, c.name, c.asset_key) for c in recorder.outputs] == [
        ("split", "left", None),
        ("split", "right", None),
        ("add", "result", None),
    ]
    assert {c.run_id for c in recorder.outputs} == {result.run_id}
    assert [(c.name, c.upstream_output.step_key, c.upstream_output.name) for c in recorder.inputs] == [
        ("a", "split", "left"),
        ("b", "split", "right"),
    ]


def test_output_io_manager_key_picks_the_resource_per_output() -> None:
    memory = dg.InMemoryIOManager()

    @dg.op(out=dg.Out(io_manager_key="memory"))
    def produce() -> int:
        return 9

    @dg.op
    def consume(n: int) -> int:
        return n + 1

    @dg.job(resource_defs={"memory": memory})
    def memory_job() -> None:
        consume(produce())

    result = memory_job.execute_in_process()
    assert result.output_for_node("consume") == 10
    assert list(memory.values.values()) == [9]

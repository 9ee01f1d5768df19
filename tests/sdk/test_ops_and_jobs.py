"""Ops composed into jobs by calling them inside a ``@job`` body: the graph
that results, the values that flow through it, and the mistakes a body can
make (each refused when the job is defined)."""

from __future__ import annotations

import pytest

import locus as dg
from locus.definitions.composition import FromOutput, FromOutputs


@dg.op
def one() -> int:
    return 1


@dg.op
def two() -> int:
    return 2


@dg.op
def add_one(n: int) -> int:
    return n + 1


@dg.op
def double(n: int) -> int:
    return n * 2


@dg.op
def total(numbers: list[int]) -> int:
    return sum(numbers)


def _upstreams(job_def: dg.JobDefinition, node: str) -> dict[str, object]:
    return dict(job_def.nodes[node].inputs)


# -- composition ---------------------------------------------------------------


def test_fan_out_feeds_one_output_to_several_ops() -> None:
    @dg.job
    def fan_out() -> None:
        n = one()
        add_one(n)
        double(n)

    assert set(fan_out.nodes) == {"one", "add_one", "double"}
    assert _upstreams(fan_out, "add_one") == {"n": FromOutput("one", "result")}
    assert _upstreams(fan_out, "double") == {"n": FromOutput("one", "result")}
    result = fan_out.execute_in_process()
    assert result.success
    assert result.output_for_node("add_one") == 2
    assert result.output_for_node("double") == 2


def test_fan_in_passes_a_list_of_outputs_to_one_input() -> None:
    @dg.job
    def fan_in() -> None:
        total([one(), two(), add_one(two())])

    assert isinstance(fan_in.nodes["total"].inputs["numbers"], FromOutputs)
    result = fan_in.execute_in_process()
    assert result.output_for_node("total") == 1 + 2 + 3


def test_multiple_outputs_are_unpacked_in_the_body_and_flow_separately() -> None:
    @dg.op(out={"low": dg.Out(), "high": dg.Out()})
    def split() -> tuple[int, int]:
        return 3, 30

    @dg.job
    def split_job() -> None:
        low, high = split()
        add_one(low)
        double(high)

    assert split.output_names == ("low", "high")
    result = split_job.execute_in_process()
    assert result.success
    assert result.output_for_node("split", "low") == 3
    assert result.output_for_node("split", "high") == 30
    assert result.output_for_node("add_one") == 4
    assert result.output_for_node("double") == 60


def test_yielded_outputs_reach_the_named_outputs() -> None:
    @dg.op(out={"a": dg.Out(), "b": dg.Out()})
    def gen():  # type: ignore[no-untyped-def]
        yield dg.Output(5, output_name="b")
        yield dg.Output(6, output_name="a")

    @dg.job
    def gen_job() -> None:
        a, b = gen()
        total([a, b])

    result = gen_job.execute_in_process()
    assert result.output_for_node("gen", "a") == 6
    assert result.output_for_node("total") == 11


def test_same_op_called_twice_gets_a_numbered_second_node() -> None:
    @dg.job
    def twice() -> None:
        add_one(add_one(one()))

    assert list(twice.nodes) == ["one", "add_one", "add_one_2"]
    assert _upstreams(twice, "add_one_2") == {"n": FromOutput("add_one", "result")}
    assert twice.execute_in_process().output_for_node("add_one_2") == 3


def test_alias_names_the_node() -> None:
    @dg.job
    def aliased() -> None:
        n = one.alias("start")()
        add_one.alias("plus")(n)

    assert set(aliased.nodes) == {"start", "plus"}
    assert aliased.execute_in_process().output_for_node("plus") == 2


def test_alias_called_outside_a_body_is_refused() -> None:
    with pytest.raises(dg.DefinitionError, match="only be called inside a @job or @graph"):
        one.alias("start")()


def test_input_with_a_default_value_may_be_left_unconnected() -> None:
    @dg.op(ins={"step": dg.In(default_value=10)})
    def add_step(n: int, step: int) -> int:
        return n + step

    @dg.op
    def add_signature_default(n: int, step: int = 100) -> int:
        return n + step

    @dg.op(ins={"label": dg.In(default_value=None)})
    def label_of(n: int, label: str | None) -> str | None:
        return label

    @dg.job
    def defaults() -> None:
        n = one()
        add_step(n)
        add_signature_default(n)
        label_of(n)
        add_step.alias("connected")(n, two())

    result = defaults.execute_in_process()
    assert result.output_for_node("add_step") == 11
    assert result.output_for_node("add_signature_default") == 101
    assert result.output_for_node("label_of") is None
    assert result.output_for_node("connected") == 3


def test_calling_an_op_outside_a_body_runs_its_function() -> None:
    assert add_one(41) == 42


def test_graph_inside_a_job_inlines_its_nodes_under_the_graph_name() -> None:
    @dg.graph
    def plus_two(n: int) -> object:
        return add_one(add_one(n))

    @dg.job
    def with_graph() -> None:
        double(plus_two(one()))

    assert set(with_graph.nodes) == {"one", "plus_two.add_one", "plus_two.add_one_2", "double"}
    assert _upstreams(with_graph, "plus_two.add_one") == {"n": FromOutput("one", "result")}
    assert _upstreams(with_graph, "double") == {"n": FromOutput("plus_two.add_one_2", "result")}
    result = with_graph.execute_in_process()
    assert result.output_for_node("plus_two.add_one_2") == 3
    assert result.output_for_node("double") == 6


def test_graph_with_several_outputs_returns_them_by_name() -> None:
    @dg.graph
    def pair() -> object:
        return {"first": one(), "second": two()}

    @dg.job
    def uses_pair() -> None:
        first, second = pair()
        total([first, second])

    assert uses_pair.execute_in_process().output_for_node("total") == 3


def test_graph_to_job_builds_a_runnable_job() -> None:
    @dg.graph(description="Adds one to one.")
    def small() -> None:
        add_one(one())

    job_def = small.to_job(name="small_job", tags={"team": "data"})
    assert job_def.name == "small_job"
    assert job_def.description == "Adds one to one."
    assert job_def.tags == {"team": "data"}
    assert job_def.execute_in_process().output_for_node("add_one") == 2
    assert small.to_job().name == "small"


def test_graph_with_inputs_cannot_become_a_job() -> None:
    @dg.graph
    def needs_input(n: int) -> None:
        add_one(n)

    with pytest.raises(dg.DefinitionError, match=r"graph 'needs_input' has inputs \['n'\]"):
        needs_input.to_job()


def test_graph_called_outside_a_body_is_refused_with_a_hint() -> None:
    @dg.graph
    def g() -> None:
        one()

    with pytest.raises(dg.DefinitionError, match="to_job"):
        g()


# -- job settings ------------------------------------------------------------


def test_job_keeps_tags_description_and_executor() -> None:
    @dg.job(tags={"team": "data", "priority": 3}, description="Counts.", executor_def=dg.in_process_executor)
    def counted() -> None:
        one()

    assert counted.name == "counted"
    assert counted.tags == {"team": "data", "priority": "3"}
    assert counted.description == "Counts."
    assert counted.executor_def is dg.in_process_executor


def test_job_docstring_is_its_description_and_name_can_be_overridden() -> None:
    @dg.job(name="renamed")
    def original() -> None:
        """Runs one."""
        one()

    assert original.name == "renamed"
    assert original.description == "Runs one."


def test_multi_line_docstrings_become_descriptions_without_indentation() -> None:
    @dg.op
    def documented_op() -> int:
        """First line.

        Details.
        """
        return 1

    @dg.graph
    def documented_graph() -> None:
        """First line.

        Details.
        """
        documented_op()

    @dg.job
    def documented_job() -> None:
        """First line.

        Details.
        """
        documented_op()

    expected = "First line.\n\nDetails."
    assert documented_op.description == expected
    assert documented_graph.description == expected
    assert documented_graph.to_job().description == expected
    assert documented_job.description == expected


def test_job_default_config_applies_and_run_config_overrides_it() -> None:
    @dg.op(config_schema={"n": int})
    def configured(context: dg.OpExecutionContext) -> int:
        return int(context.op_config["n"])

    @dg.job(config={"ops": {"configured": {"config": {"n": 4}}}})
    def with_defaults() -> None:
        configured()

    assert with_defaults.execute_in_process().output_for_node("configured") == 4
    result = with_defaults.execute_in_process(run_config={"ops": {"configured": {"config": {"n": 5}}}})
    assert result.output_for_node("configured") == 5


def test_job_tags_are_on_the_run() -> None:
    @dg.job(tags={"team": "data"})
    def tagged() -> None:
        one()

    result = tagged.execute_in_process(tags={"extra": "x"})
    assert result.run.tags == {"team": "data", "extra": "x"}


def test_failing_op_fails_the_run_and_skips_downstream() -> None:
    ran: list[str] = []

    @dg.op
    def boom() -> int:
        raise ValueError("broken input file")

    @dg.op
    def after(n: int) -> None:
        ran.append("after")

    @dg.job
    def failing() -> None:
        after(boom())

    result = failing.execute_in_process(raise_on_error=False)
    assert not result.success
    assert ran == []
    assert "broken input file" in result.get_step_failure_events()[0].message
    with pytest.raises(ValueError, match="broken input file"):
        failing.execute_in_process()


@pytest.mark.parametrize("bad", [{"max_concurrent": 2}, "multiprocess"])
def test_executor_def_must_be_an_executor(bad: object) -> None:
    with pytest.raises(dg.DefinitionError, match="executor_def must be an executor"):

        @dg.job(executor_def=bad)  # type: ignore[call-overload]
        def j() -> None:
            one()

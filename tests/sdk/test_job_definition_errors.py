"""Mistakes in ``@job`` / ``@op`` definitions, each refused when the job or
op is defined, with a message naming the culprit and how to fix it."""

from __future__ import annotations

import pytest

import locus as dg


@dg.op
def one() -> int:
    return 1


@dg.op
def two() -> int:
    return 2


@dg.op
def add_one(n: int) -> int:
    return n + 1


def test_constant_passed_as_an_op_input_is_refused_with_a_hint() -> None:
    with pytest.raises(dg.DefinitionError) as caught:

        @dg.job
        def constant() -> None:
            add_one(5)

    message = str(caught.value)
    assert "job 'constant'" in message
    assert "input 'n' of op 'add_one' was given 5" in message
    assert "op config" in message


def test_missing_input_is_refused_naming_it() -> None:
    with pytest.raises(dg.DefinitionError, match=r"op 'add_one' is called without its inputs \['n'\]"):

        @dg.job
        def missing() -> None:
            add_one()


def test_unknown_keyword_is_refused_listing_the_inputs() -> None:
    with pytest.raises(dg.DefinitionError, match=r"no input named 'm' \(inputs: \['n'\]\)"):

        @dg.job
        def unknown() -> None:
            add_one(m=one())


def test_too_many_positional_inputs_are_refused() -> None:
    with pytest.raises(dg.DefinitionError, match="takes 1 inputs"):

        @dg.job
        def too_many() -> None:
            add_one(one(), two())


def test_body_calling_no_ops_is_refused() -> None:
    with pytest.raises(dg.DefinitionError, match="job 'empty' calls no ops"):

        @dg.job
        def empty() -> None:
            pass


def test_job_body_with_parameters_is_refused() -> None:
    with pytest.raises(dg.DefinitionError, match="takes no parameters"):

        @dg.job
        def with_param(x: int) -> None:
            add_one(x)


@pytest.mark.parametrize("name", ["1job", "has space", "dash-name"])
def test_invalid_job_names_are_refused(name: str) -> None:
    with pytest.raises(dg.DefinitionError, match="not valid"):

        @dg.job(name=name)
        def j() -> None:
            one()


def test_op_ins_naming_no_parameter_is_refused() -> None:
    with pytest.raises(dg.DefinitionError, match=r"ins names \['y'\]"):

        @dg.op(ins={"y": dg.In()})
        def f(x: int) -> int:
            return x


def test_op_with_star_args_is_refused() -> None:
    with pytest.raises(dg.DefinitionError, match="takes \\*args"):

        @dg.op
        def f(*args: int) -> int:
            return 0

"""The pure parts of run retries: whether a failed run is retried, and which
steps a retry from failure runs (the planner's rule, over snapshot edges)."""

from __future__ import annotations

from locus import in_process_executor, job, op
from locus.daemon.retries import decide, retry_run_id
from locus.execution.events import RunStatus
from locus.execution.runs import RunRecord
from locus.instance.config import RunRetriesConfig

ON = RunRetriesConfig(enabled=True, max_retries=2)


def failed(**tags: str) -> RunRecord:
    return RunRecord("parent", "job", status=RunStatus.FAILURE, tags=tags)


def test_retries_count_down_the_lineage() -> None:
    first = decide(failed(), ON, had_step_failure=True)
    assert first.retry and first.retry_number == 1 and first.strategy == "FROM_FAILURE"
    assert decide(failed(**{"locus/retry_number": "1"}), ON, True).retry_number == 2
    last = decide(failed(**{"locus/retry_number": "2"}), ON, True)
    assert not last.retry and "no retries left (2 of 2 used)" in last.reason


def test_tags_override_the_config() -> None:
    assert not decide(failed(**{"locus/max_retries": "0"}), ON, True).retry
    tagged = decide(failed(**{"locus/max_retries": "5", "locus/retry_number": "3"}), ON, True)
    assert tagged.retry and tagged.retry_number == 4
    assert decide(failed(**{"locus/retry_strategy": "ALL_STEPS"}), ON, True).strategy == "ALL_STEPS"
    assert (
        decide(failed(), RunRetriesConfig(enabled=True, max_retries=1, retry_strategy="ALL_STEPS"), True).strategy
        == "ALL_STEPS"
    )


def test_what_is_never_retried() -> None:
    canceled = RunRecord("parent", "job", status=RunStatus.CANCELED)
    assert not decide(canceled, ON, False).retry
    assert not decide(failed(), RunRetriesConfig(enabled=False, max_retries=3), True).retry
    no_step_failures = RunRetriesConfig(enabled=True, max_retries=1, retry_on_asset_or_op_failure=False)
    assert not decide(failed(), no_step_failures, had_step_failure=True).retry
    assert decide(failed(), no_step_failures, had_step_failure=False).retry


def test_a_run_to_resume_is_retried_from_failure_even_with_retries_off() -> None:
    decision = decide(failed(**{"locus/resume": "true"}), RunRetriesConfig(), True)
    assert decision.retry and decision.resume and decision.strategy == "FROM_FAILURE"


def test_the_retry_id_is_fixed_per_parent() -> None:
    assert retry_run_id("a") == retry_run_id("a") != retry_run_id("b")


@op
def source() -> int:
    return 1


@op
def left(x: int) -> int:
    return x


@op
def right(x: int) -> int:
    return x


@op
def join(a: int, b: int) -> int:
    return a + b


@op
def lone() -> int:
    return 0


@job(executor_def=in_process_executor)
def diamond() -> None:
    x = source()
    join(left(x), right(x))
    lone()

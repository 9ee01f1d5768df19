"""Run retries: a run that ended in FAILURE (never one CANCELED) and has
retries left is submitted again as a new run whose ``parent_run_id`` is the
failed run and ``root_run_id`` the first run of the lineage.

* Retries left: ``locus/max_retries`` on the run, else ``max_retries`` from
  the config, against ``locus/retry_number`` (0 on a first run, carried and
  incremented down the lineage). Runs the monitor tagged ``locus/resume`` (a
  lost worker, with ``max_resume_run_attempts``) are retried whatever the
  retry settings say.
* Strategy: ``locus/retry_strategy`` on the run, else the config's.
  ``FROM_FAILURE`` re-runs the steps that did not succeed in the parent and
  everything downstream of them, loading the other inputs from the parent's
  outputs; ``ALL_STEPS`` re-runs the parent's whole selection.
* Exactly once: the retry's run id is derived from the parent's, and
  submission with a known run id returns the existing run, so neither
  repeated passes nor a restarted daemon retry a run twice.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from locus.codeserver.client import CodeServerUnavailable
from locus.daemon.monitor import RESUME_ATTEMPT_TAG, RESUME_TAG
from locus.execution.events import EventType, RunStatus
from locus.execution.runs import RunRecord, RunsFilter
from locus.instance.config import RunRetriesConfig
from locus.instance.instance import LocusInstance
from locus.workspace.manager import LocationNotFound, LocationNotLoaded, WorkspaceManager
from locus.workspace.submission import RunSubmission, SubmissionError, reexecution, submit_run

log = logging.getLogger(__name__)

MAX_RETRIES_TAG = "locus/max_retries"
RETRY_NUMBER_TAG = "locus/retry_number"
RETRY_STRATEGY_TAG = "locus/retry_strategy"
RETRY_NAMESPACE = uuid.UUID("6f1d3c1e-52a4-4f0b-9a57-3b1c2f7e8d90")
# Failed runs created this long ago or more are not looked at again (a
# restarted daemon does not revisit its whole history).
LOOKBACK_SECONDS = 24 * 3600.0
# Submission problems worth trying again on a later pass: the location is
# starting, restarting or briefly unreachable.
_TRANSIENT = frozenset({"not_loaded", "unreachable"})

Strategy = Literal["FROM_FAILURE", "ALL_STEPS"]


def retry_run_id(parent_run_id: str) -> str:
    return str(uuid.uuid5(RETRY_NAMESPACE, f"{parent_run_id}|retry"))


def _int_tag(run: RunRecord, key: str) -> int | None:
    try:
        return int(run.tags[key]) if key in run.tags else None
    except ValueError:
        return None


@dataclass(frozen=True)
class RetryDecision:
    """Whether and how to retry one failed run (pure: see ``decide``)."""

    retry: bool
    reason: str
    retry_number: int = 0
    strategy: Strategy = "FROM_FAILURE"
    resume: bool = False


def decide(run: RunRecord, config: RunRetriesConfig, had_step_failure: bool) -> RetryDecision:
    """Whether the failed ``run`` gets a retry, with which number and strategy."""
    number = (_int_tag(run, RETRY_NUMBER_TAG) or 0) + 1
    raw_strategy = run.tags.get(RETRY_STRATEGY_TAG, config.retry_strategy)
    strategy: Strategy = "ALL_STEPS" if raw_strategy == "ALL_STEPS" else "FROM_FAILURE"
    if run.status != RunStatus.FAILURE:
        return RetryDecision(False, f"the run ended {run.status.value}, not FAILURE")
    if run.tags.get(RESUME_TAG) == "true":
        return RetryDecision(True, "its worker died", number, "FROM_FAILURE", resume=True)
    if not config.enabled:
        return RetryDecision(False, "run retries are off (run_retries.enabled)")
    limit = _int_tag(run, MAX_RETRIES_TAG)
    limit = config.max_retries if limit is None else limit
    if number > limit:
        return RetryDecision(False, f"no retries left ({number - 1} of {limit} used)")
    if had_step_failure and not config.retry_on_asset_or_op_failure:
        return RetryDecision(False, "a step failed and run_retries.retry_on_asset_or_op_failure is false")
    return RetryDecision(True, f"retry {number} of {limit}", number, strategy)


class RunRetries:
    name = "run_retries"

    def __init__(
        self,
        instance: LocusInstance,
        manager: WorkspaceManager,
        config: RunRetriesConfig | None = None,
        clock: Callable[[], float] = time.time,
        interval: float = 1.0,
    ) -> None:
        self._instance = instance
        self._manager = manager
        self._config = config if config is not None else instance.config.run_retries
        self._clock = clock
        self.interval = interval
        # Failed runs already dealt with (retried, or never to be): spares
        # the storage look-ups on later passes.
        self._handled: set[str] = set()

    def tick(self, now: float) -> None:
        failed = self._instance.storage.get_runs(
            RunsFilter(statuses=(RunStatus.FAILURE,), created_after=now - LOOKBACK_SECONDS)
        )
        self._handled &= {run.run_id for run in failed}
        for run in reversed(failed):  # oldest first
            if run.run_id in self._handled:
                continue
            try:
                if self.consider(run):
                    self._handled.add(run.run_id)
            except Exception:
                log.exception("retrying run %s failed", run.run_id)

    def consider(self, run: RunRecord) -> bool:
        """Retry ``run`` if it should be; True when it needs no further look
        (retried, or not to be), False to try again on a later pass."""
        child_id = retry_run_id(run.run_id)
        if self._instance.get_run(child_id) is not None:
            return True
        had_step_failure = bool(self._instance.get_events(run.run_id, event_types=[EventType.STEP_FAILURE]))
        decision = decide(run, self._config, had_step_failure)
        if not decision.retry:
            return True
        if run.location_name is None:
            log.warning("run %s cannot be retried: it names no code location", run.run_id)
            return True
        try:
            child = submit_run(self._manager, self._instance, self._submission(run, child_id, decision))
        except SubmissionError as exc:
            log.warning("run %s could not be retried: %s", run.run_id, exc.message)
            return exc.kind not in _TRANSIENT
        except (LocationNotLoaded, CodeServerUnavailable) as exc:
            log.warning("run %s cannot be retried yet: %s", run.run_id, exc.message)
            return False
        except LocationNotFound as exc:
            log.warning("run %s cannot be retried: %s", run.run_id, exc.message)
            return True
        log.info("run %s failed; retried as run %s (%s)", run.run_id, child.run_id, decision.reason)
        return True

    def _submission(self, run: RunRecord, child_id: str, decision: RetryDecision) -> RunSubmission:
        tags = {k: v for k, v in run.tags.items() if k != RESUME_TAG}
        if decision.resume:
            tags[RESUME_ATTEMPT_TAG] = str((_int_tag(run, RESUME_ATTEMPT_TAG) or 0) + 1)
        else:
            tags[RETRY_NUMBER_TAG] = str(decision.retry_number)
        verb = "resumed" if decision.resume else "retried"
        submission = reexecution(
            self._manager,
            self._instance,
            run,
            decision.strategy,
            queued_by=f"run retries ({verb} from run {run.run_id}, {decision.strategy})",
            run_id=child_id,
        )
        return replace(submission, tags=tags)

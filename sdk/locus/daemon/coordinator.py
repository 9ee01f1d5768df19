"""Which queued runs may start now: the run coordinator's limits as one pure
function, so the run queue is a thin shell around it and the rules are
tested without storage.

* ``max_concurrent_runs``: -1 is unlimited, 0 pauses the queue; once the
  in-progress count reaches it, nothing more starts this pass.
* ``tag_concurrency_limits``: ``{key, limit}`` counts every run carrying the
  key together, ``{key, value, limit}`` only runs with that value, and
  ``{key, value: {applyLimitPerUniqueValue: true}, limit}`` each value on its
  own. A run held back by a tag limit does not hold back the runs behind it.
* ``locus/priority`` (an integer tag, default 0): higher starts first; equal
  priorities start oldest first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from locus.execution.events import RunStatus
from locus.execution.runs import RunRecord
from locus.instance.config import RunCoordinatorConfig, TagConcurrencyLimit

PRIORITY_TAG = "locus/priority"
# The statuses that occupy a slot: launched and not yet finished.
IN_PROGRESS_STATUSES = (RunStatus.STARTING, RunStatus.STARTED, RunStatus.CANCELING)

# (index of the limit in the config, the tag value it counts; None: all values together)
_Bucket = tuple[int, str | None]


def priority(run: RunRecord) -> int:
    """The run's ``locus/priority`` tag; 0 when absent or not an integer."""
    try:
        return int(run.tags.get(PRIORITY_TAG, 0))
    except ValueError:
        return 0


def dequeue_order(queued: Sequence[RunRecord]) -> list[RunRecord]:
    """Highest priority first, then oldest first."""
    return sorted(queued, key=lambda run: (-priority(run), run.created_at))


def _buckets(tags: Mapping[str, str], limits: Sequence[TagConcurrencyLimit]) -> list[_Bucket]:
    """The tag-limit counters a run with ``tags`` occupies."""
    found: list[_Bucket] = []
    for index, limit in enumerate(limits):
        if limit.key not in tags:
            continue
        value = tags[limit.key]
        if limit.per_unique_value:
            found.append((index, value))
        elif limit.value is None:
            found.append((index, None))
        elif limit.value == value:
            found.append((index, value))
    return found


def admissible(
    queued: Sequence[RunRecord], in_progress: Sequence[RunRecord], config: RunCoordinatorConfig
) -> list[RunRecord]:
    """The queued runs that may start now, in the order to launch them.

    ``queued`` in any order (they are put in dequeue order here);
    ``in_progress`` the runs already holding a slot (STARTING, STARTED,
    CANCELING)."""
    limits = config.tag_concurrency_limits
    slots = config.max_concurrent_runs
    running = len(in_progress)
    used: Counter[_Bucket] = Counter(b for run in in_progress for b in _buckets(run.tags, limits))
    admitted: list[RunRecord] = []
    for run in dequeue_order(queued):
        if slots != -1 and running >= slots:
            break
        buckets = _buckets(run.tags, limits)
        if any(used[bucket] >= limits[bucket[0]].limit for bucket in buckets):
            continue
        used.update(buckets)
        running += 1
        admitted.append(run)
    return admitted

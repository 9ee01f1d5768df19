"""RetryPolicy: how often and how soon a failed op or asset is tried again."""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

from locus.definitions.errors import DefinitionError


class Backoff(StrEnum):
    LINEAR = "LINEAR"
    EXPONENTIAL = "EXPONENTIAL"


class Jitter(StrEnum):
    FULL = "FULL"
    PLUS_MINUS = "PLUS_MINUS"


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 1
    delay: float | None = None
    backoff: Backoff | None = None
    jitter: Jitter | None = None

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise DefinitionError(
                f"RetryPolicy(max_retries={self.max_retries}) must not be negative",
                "pass max_retries=0 or more",
            )
        if self.delay is not None and self.delay < 0:
            raise DefinitionError(f"RetryPolicy(delay={self.delay}) must not be negative", "pass delay>=0")

    def delay_for_attempt(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        base = self.delay or 0.0
        if self.backoff == Backoff.LINEAR:
            base *= attempt
        elif self.backoff == Backoff.EXPONENTIAL:
            base *= 2 ** (attempt - 1)
        if self.jitter == Jitter.FULL:
            return random.uniform(0, base)
        if self.jitter == Jitter.PLUS_MINUS:
            return max(0.0, base + random.uniform(-base, base) / 2)
        return base

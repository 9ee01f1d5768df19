"""The errors users see. Each names the culprit and says how to fix it; the
CLI and API print ``str(error)`` and never a traceback for these."""

from __future__ import annotations

from typing import Any


class LocusError(Exception):
    """Base of every error Locus raises on purpose."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(f"{message}\n  fix: {hint}" if hint else message)


class DefinitionError(LocusError):
    """Definitions that cannot be valid: bad decorator arguments, duplicate
    names, unknown upstream assets, cycles, missing resources, bad cron."""


class RunConfigError(LocusError):
    """Run config that does not match the job's config schema. ``errors``
    lists every problem as (dotted path, message)."""

    def __init__(self, job_name: str, errors: list[tuple[str, str]]) -> None:
        self.job_name = job_name
        self.errors = errors
        lines = "\n".join(f"  {path}: {message}" for path, message in errors)
        super().__init__(
            f"Run config for job '{job_name}' is invalid:\n{lines}",
            "correct the values at the paths above (see the job's config schema)",
        )


class CodeLoadError(LocusError):
    """User code that cannot be loaded as a code location. ``error_info``
    carries the user's exception and traceback when there was one."""

    def __init__(self, message: str, hint: str | None = None, error_info: Any = None) -> None:
        super().__init__(message, hint)
        self.error_info = error_info


class SelectionError(LocusError):
    """An asset selection string or object that cannot be resolved."""


class ExecutionError(LocusError):
    """A run that cannot start, or an executor that cannot run here."""

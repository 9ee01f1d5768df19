"""The one error a bad workspace.yaml (or a clash between workspace files and
``-f``/``-m`` targets) produces."""

from __future__ import annotations

from locus.definitions.errors import LocusError


class WorkspaceConfigError(LocusError):
    """A workspace that cannot be used. The message starts with
    ``file:line:`` when the problem has a place; ``source`` and ``line`` carry
    the same for callers that want them."""

    def __init__(self, message: str, hint: str | None = None, *, source: str | None = None,
                 line: int | None = None) -> None:
        super().__init__(message, hint)
        self.source = source
        self.line = line

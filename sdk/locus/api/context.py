"""What route handlers share: the instance, in local mode the workspace
manager and the run queue, and where definitions come from. Handlers get it
with ``Depends(context)``. It holds no request state: replicas are
interchangeable."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from locus.api.errors import ApiError
from locus.api.snapshots import SnapshotSource
from locus.daemon.run_queue import RunQueue
from locus.instance.instance import LocusInstance
from locus.workspace.manager import WorkspaceManager


@dataclass(frozen=True)
class ApiContext:
    instance: LocusInstance
    manager: WorkspaceManager | None = None
    queue: RunQueue | None = None
    # How often a server-sent-events stream looks for new events.
    sse_poll_seconds: float = 0.05
    snapshots: SnapshotSource = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "snapshots", SnapshotSource(self.instance, self.manager))

    def require_manager(self, doing: str) -> WorkspaceManager:
        if self.manager is None:
            raise ApiError(
                409, "no_workspace", f"cannot {doing}: this API serves no workspace",
                "start the API with `locus dev` or `locus api serve -w workspace.yaml`",
            )
        return self.manager

    def wake_queue(self) -> None:
        if self.queue is not None:
            self.queue.wake()


def context(request: Request) -> ApiContext:
    found: ApiContext = request.app.state.locus
    return found

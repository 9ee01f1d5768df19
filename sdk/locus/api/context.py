"""What route handlers share: the instance, and in local mode the workspace
manager and the run queue. Handlers get it with ``Depends(context)``."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from locus.api.errors import ApiError
from locus.daemon.run_queue import RunQueue
from locus.instance.instance import LocusInstance
from locus.workspace.manager import WorkspaceManager


@dataclass(frozen=True)
class ApiContext:
    instance: LocusInstance
    manager: WorkspaceManager | None = None
    queue: RunQueue | None = None

    def require_manager(self, doing: str) -> WorkspaceManager:
        if self.manager is None:
            raise ApiError(
                409, "no_workspace", f"cannot {doing}: this API serves no workspace",
                "start the API with `locus dev` or `locus api serve -w workspace.yaml`",
            )
        return self.manager


def context(request: Request) -> ApiContext:
    found: ApiContext = request.app.state.locus
    return found

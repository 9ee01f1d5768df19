"""The REST status API: ``create_app`` wires routers (one per concept) and
the error shape. It never imports user code: definitions come from code
servers' snapshots, runs are validated by their code server."""

from __future__ import annotations

from fastapi import FastAPI

from locus.api.context import ApiContext
from locus.api.errors import install_error_handlers
from locus.api.routers import health, locations, runs
from locus.daemon.run_queue import RunQueue
from locus.instance.instance import LocusInstance
from locus.workspace.manager import WorkspaceManager


def create_app(
    instance: LocusInstance, manager: WorkspaceManager | None = None, queue: RunQueue | None = None
) -> FastAPI:
    app = FastAPI(title="Locus", version="0.1.0", description="Locus status API")
    app.state.locus = ApiContext(instance, manager, queue)
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(locations.router)
    app.include_router(runs.router)
    return app

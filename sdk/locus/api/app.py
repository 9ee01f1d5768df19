"""The REST status API: ``create_app`` wires routers (one per concept), the
error shape and, when a token is configured, bearer-token authentication.
It never imports user code: definitions come from code servers' snapshots,
runs are validated by their code server. It keeps no state of its own, so
several replicas can serve one PostgreSQL."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from locus.api.auth import COOKIE_NAME, OPEN_PATHS, TOKEN_ENV, BearerAuth, configured_token
from locus.api.context import ApiContext
from locus.api.errors import ERROR_RESPONSES, install_error_handlers
from locus.api.routers import assets, definitions, events, health, instigators, locations, metrics, runs
from locus.daemon.run_queue import RunQueue
from locus.instance.instance import LocusInstance
from locus.workspace.manager import WorkspaceManager

DESCRIPTION = f"""The Locus status API: code locations, definitions, runs, events and
logs, schedules and sensors. Every error is `{{"error": {{"code", "message", "hint", "details"}}}}`.

When the instance has a token (env `{TOKEN_ENV}` or `api.auth_token` in locus.yaml), every
endpoint but the probes `/healthz` and `/readyz` needs `Authorization: Bearer <token>`; browsers may send the cookie
`{COOKIE_NAME}` instead (the web page stores it after asking once)."""

_ROUTERS = (health, metrics, locations, definitions, assets, runs, events, instigators)

_UNSET: Any = object()
_ERROR_SCHEMA = {"$ref": "#/components/schemas/ErrorBody"}


def create_app(
    instance: LocusInstance,
    manager: WorkspaceManager | None = None,
    queue: RunQueue | None = None,
    *,
    auth_token: str | None = _UNSET,
    sse_poll_seconds: float = 0.05,
) -> FastAPI:
    """``auth_token`` defaults to the configured one (``configured_token``);
    pass None to serve without authentication."""
    token = configured_token(instance.config) if auth_token is _UNSET else auth_token
    app = FastAPI(title="Locus", version="0.1.0", description=DESCRIPTION)
    app.state.locus = ApiContext(instance, manager, queue, sse_poll_seconds)
    install_error_handlers(app)
    for module in _ROUTERS:
        app.include_router(module.router, responses=ERROR_RESPONSES)
    _include_page(app)
    if token:
        app.add_middleware(BearerAuth, token=token)
    _customise_openapi(app, with_auth=bool(token))
    return app


def _include_page(app: FastAPI) -> None:
    # The web page is built alongside; served when its router is there.
    try:
        from locus.api.routers import page
    except ImportError:
        return
    app.include_router(page.router, include_in_schema=False)


def _customise_openapi(app: FastAPI, with_auth: bool) -> None:
    """Errors are JSON even where the success is text (metrics, the event
    stream); with a token, document it."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = original()
        for operations in schema["paths"].values():
            for operation in operations.values():
                for status, response in operation.get("responses", {}).items():
                    if status in ERROR_RESPONSES:
                        response["content"] = {"application/json": {"schema": _ERROR_SCHEMA}}
        if with_auth:
            schema.setdefault("components", {})["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": COOKIE_NAME},
            }
            schema["security"] = [{"bearer": []}, {"cookie": []}]
            for probe in OPEN_PATHS:
                schema["paths"].get(probe, {}).get("get", {})["security"] = []
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]

"""The API's one error shape, ``{"error": {"code", "message", "hint",
"details"}}``, for every 4xx and 5xx, whoever raised it."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from locus.api.models import ErrorBody

log = logging.getLogger(__name__)


class ApiError(Exception):
    """Raised by route handlers; becomes the error body with ``status``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        hint: str | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.hint = hint
        self.details = details


def error_body(code: str, message: str, hint: str | None = None, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "hint": hint, "details": details}}


def _response(status: int, code: str, message: str, hint: str | None = None, details: Any = None) -> JSONResponse:
    return JSONResponse(error_body(code, message, hint, details), status_code=status)


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}

# Every route documents its errors with the one shape; giving 4XX also stops
# FastAPI from documenting its own 422 body, which this API never sends.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": ErrorBody, "description": "the request cannot be served; error.code says why"},
    "5XX": {"model": ErrorBody, "description": "the server or a service it needs failed"},
}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return _response(exc.status, exc.code, exc.message, exc.hint, exc.details)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"path": ".".join(str(part) for part in e.get("loc", ())), "message": e.get("msg", "")}
            for e in exc.errors()
        ]
        return _response(422, "invalid_request", "the request is not valid", "fix the fields listed in details",
                         {"errors": errors})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
        hint = "see /docs for the routes and their methods" if exc.status_code in (404, 405) else None
        headers = getattr(exc, "headers", None)
        response = _response(exc.status_code, code, str(exc.detail), hint)
        if headers:
            response.headers.update(headers)
        return response

    @app.exception_handler(Exception)
    async def internal_error(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error in the API")
        return _response(500, "internal_error", f"internal error: {type(exc).__name__}: {exc}",
                         "this is a bug in Locus; the API log has the traceback")

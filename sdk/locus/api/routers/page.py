"""The web page: ``/`` is its one HTML document and ``/static/...`` its CSS
and JavaScript modules, shipped inside the package (no CDN, no build step).
The page itself only talks to the REST API."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from locus.api.errors import ApiError

STATIC = Path(__file__).resolve().parent.parent / "static"

# Explicit, because the platform's mimetypes table may call .js
# "application/x-javascript" or nothing, and browsers refuse a module script
# served without a JavaScript type.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}

# The files change with Locus upgrades; revalidating is cheap on loopback.
_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}

router = APIRouter(tags=["page"], include_in_schema=False)


def _file(relative: str) -> FileResponse:
    path = (STATIC / relative).resolve()
    content_type = CONTENT_TYPES.get(path.suffix)
    if content_type is None or not path.is_relative_to(STATIC) or not path.is_file():
        raise ApiError(404, "not_found", f"no page file '{relative}'")
    return FileResponse(path, media_type=content_type, headers=_HEADERS)


@router.get("/")
def index() -> FileResponse:
    return _file("index.html")


@router.get("/static/{relative:path}")
def static(relative: str) -> FileResponse:
    return _file(relative)

"""Bearer-token authentication for the whole app.

With a token configured (``LOCUS_API_TOKEN``, else ``api.auth_token`` in
locus.yaml), every request but the probes ``GET /healthz`` and ``GET /readyz`` must carry it, either as
``Authorization: Bearer <token>`` (API clients) or as the cookie
``locus_token`` (the web page: a browser cannot add headers to the page
load or to an EventSource). Tokens are compared in constant time.

A browser asking for a page without the token gets the 401 as a small form
that stores the cookie, instead of the JSON error meant for programs.
"""

from __future__ import annotations

import hmac
import json
import os
from http.cookies import CookieError, SimpleCookie

from starlette.types import ASGIApp, Receive, Scope, Send

from locus.api.errors import error_body
from locus.instance.config import InstanceConfig

TOKEN_ENV = "LOCUS_API_TOKEN"
COOKIE_NAME = "locus_token"
# Probes: the kubelet sends no token.
OPEN_PATHS = frozenset({"/healthz", "/readyz"})


def configured_token(config: InstanceConfig, environ: dict[str, str] | None = None) -> str | None:
    """The environment variable wins, so a deployment can rotate the token
    without editing locus.yaml; empty means unset."""
    env = os.environ if environ is None else environ
    return env.get(TOKEN_ENV) or config.api.auth_token or None


def presented_token(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The token a request carries: the bearer header first, then the cookie."""
    cookie_header = None
    for name, value in headers:
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                return credentials.strip()
        elif name == b"cookie":
            cookie_header = value.decode("latin-1")
    if cookie_header is not None:
        try:
            morsel = SimpleCookie(cookie_header).get(COOKIE_NAME)
        except CookieError:
            return None
        if morsel is not None and morsel.value:
            return morsel.value
    return None


def token_matches(presented: str | None, expected: str) -> bool:
    if presented is None:
        return False
    return hmac.compare_digest(presented.encode(), expected.encode())


_LOGIN_PAGE = """<!doctype html><meta charset="utf-8"><title>Locus: sign in</title>
<form style="font:16px sans-serif;margin:4em auto;max-width:28em" onsubmit="document.cookie=
'locus_token='+encodeURIComponent(this.t.value)+'; path=/; SameSite=Strict';location.reload();return false">
<p>This Locus API needs its token (<code>LOCUS_API_TOKEN</code>).</p>
<input name="t" type="password" autofocus style="width:100%"><p><button>Sign in</button></form>"""


class BearerAuth:
    """ASGI middleware: 401 in the API's error shape without the token."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        presented = presented_token(headers)
        if token_matches(presented, self.token):
            await self.app(scope, receive, send)
            return
        accept = next((v for k, v in headers if k == b"accept"), b"").decode("latin-1")
        if "text/html" in accept and not scope["path"].startswith("/api/"):
            body, content_type = _LOGIN_PAGE.encode(), b"text/html; charset=utf-8"
        else:
            reason = "no API token was given" if presented is None else "the API token is wrong"
            hint = "send `Authorization: Bearer <token>` (or the cookie locus_token) with the instance's token"
            body, content_type = json.dumps(error_body("unauthorized", reason, hint)).encode(), b"application/json"
        await send({
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", b'Bearer realm="locus"'),
            ],
        })
        await send({"type": "http.response.body", "body": body})

"""Bearer-token authentication on every route but /healthz, where the token
comes from, and the one error shape for every 4xx/5xx."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from locus.api.app import create_app
from locus.api.auth import configured_token
from locus.instance.config import parse_instance_config
from locus.instance.instance import LocusInstance

TOKEN = "s3cret-token"


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


def test_every_route_but_the_probes_answers_401_without_the_token(instance: LocusInstance) -> None:
    app = create_app(instance, auth_token=TOKEN)
    checked = 0
    # iter_route_contexts flattens app.routes: included routers are nested there.
    with TestClient(app) as http:
        for route in iter_route_contexts(app.routes):
            for method in sorted(route.methods or {"GET"}):
                if method == "HEAD":
                    continue
                response = http.request(method, _concrete(route.path))
                if route.path in ("/healthz", "/readyz"):
                    assert response.status_code == 200
                    continue
                checked += 1
                assert response.status_code == 401, (method, route.path, response.text)
                assert response.headers["www-authenticate"].startswith("Bearer")
                if "json" in response.headers["content-type"]:
                    assert response.json()["error"]["code"] == "unauthorized"
                wrong = http.request(method, _concrete(route.path), headers={"Authorization": "Bearer nope"})
                assert wrong.status_code == 401, (method, route.path)
        assert checked >= 30
        assert http.get("/api/nothing").status_code == 401  # unknown paths too


def test_the_token_works_as_a_bearer_header_or_a_cookie(instance: LocusInstance) -> None:
    with TestClient(create_app(instance, auth_token=TOKEN)) as http:
        assert http.get("/api/runs", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert http.get("/api/runs", headers={"Authorization": f"bearer {TOKEN}"}).status_code == 200
        assert http.get("/api/runs", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
        assert http.get("/api/runs", headers={"Cookie": f"locus_token={TOKEN}"}).status_code == 200
        assert http.get("/api/runs", headers={"Cookie": "locus_token=wrong"}).status_code == 401
        assert http.get("/openapi.json", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        page = http.get("/", headers={"Accept": "text/html"})
        assert page.status_code == 401 and "locus_token" in page.text  # a browser gets a sign-in form


def test_the_token_comes_from_the_environment_or_locus_yaml(instance: LocusInstance,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    config = parse_instance_config("api:\n  auth_token: {env: MY_TOKEN}\n", environ={"MY_TOKEN": "from-yaml"})
    assert config.api.auth_token == "from-yaml"
    assert configured_token(config, environ={}) == "from-yaml"
    assert configured_token(config, environ={"LOCUS_API_TOKEN": "from-env"}) == "from-env"
    assert configured_token(parse_instance_config(""), environ={}) is None
    monkeypatch.setenv("LOCUS_API_TOKEN", TOKEN)
    with TestClient(create_app(instance)) as http:
        assert http.get("/api/runs").status_code == 401
        assert http.get("/api/runs", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_without_a_token_nothing_asks_for_one(http: TestClient) -> None:
    assert http.get("/api/runs").status_code == 200


def _shape(response: object, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "hint", "details"}
    assert body["error"]["code"] == code
    error: dict[str, object] = body["error"]
    return error


def test_framework_errors_use_the_one_shape(http: TestClient) -> None:
    _shape(http.get("/api/nothing-here"), 404, "not_found")
    response = http.delete("/api/runs")
    _shape(response, 405, "method_not_allowed")
    assert "GET" in response.headers["allow"]
    error = _shape(http.post("/api/runs", content=b"{not json", headers={"content-type": "application/json"}),
                   422, "invalid_request")
    assert error["details"]["errors"]  # type: ignore[index]
    error = _shape(http.post("/api/runs/x/reexecute", json={"strategy": "SOME"}), 422, "invalid_request")
    assert [e["path"] for e in error["details"]["errors"]] == ["body.strategy"]  # type: ignore[index]


def test_an_unexpected_exception_is_a_500_in_the_shape_without_a_traceback(instance: LocusInstance,
                                                                           tmp_path: Path) -> None:
    app = create_app(instance, auth_token=None)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("kaboom")

    with TestClient(app, raise_server_exceptions=False) as http:
        response = http.get("/boom")
        error = _shape(response, 500, "internal_error")
        assert "kaboom" in str(error["message"]) and "Traceback" not in response.text

"""Issue 8's CI e2e: `helm template` of the chart, applied to the local
cluster harness. The operator runs as the pod the chart renders (its command,
arguments, probes and service account as a user installs them), reconciles
the chart's default Instance against a real PostgreSQL, serves a CodeLocation
of the example image, and a run launched through the API, with the chart's
generated token, becomes a Kubernetes Job that succeeds."""

from __future__ import annotations

import base64
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml
from e2e.local.cluster import LocalCluster
from e2e.local.images import ImageEnv
from e2e.local.tools import helm
from tests.e2e_local.operator_support import (
    ROOT,
    Database,
    app_image,
    condition_true,
    namespace_object,
    postgres_secret,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

NS = "locus"
EXAMPLES_IMAGE = "locus-examples:e2e"


def render(db: Database) -> list[dict[str, Any]]:
    values = {
        "postgresql": {"enabled": False},
        "externalPostgresql": {
            "host": db.host, "port": db.port, "database": db.name, "user": db.user,
            "passwordSecret": {"name": "team-postgres", "key": "password"},
        },
    }
    result = subprocess.run(
        [helm(), "template", "locus", str(ROOT / "charts" / "locus"), "--namespace", NS, "--include-crds",
         "--values", "-"],
        input=yaml.safe_dump(values), capture_output=True, text=True, timeout=120, check=True,
    )
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def system_image(objects: list[dict[str, Any]]) -> str:
    operator = next(o for o in objects if o["kind"] == "Deployment")
    image: str = operator["spec"]["template"]["spec"]["containers"][0]["image"]
    return image


@pytest.fixture(scope="module")
def installed(database: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    objects = render(database)
    images = {
        system_image(objects): ImageEnv.current_python(),
        EXAMPLES_IMAGE: app_image(ROOT / "examples"),
    }
    with LocalCluster(images=images, work_dir=tmp_path_factory.mktemp("chart")) as cluster:
        secret = postgres_secret(b"trust-auth-ignores-it", name="team-postgres", namespace=NS)
        crds = [o for o in objects if o["kind"] == "CustomResourceDefinition"]
        rest = [o for o in objects if o["kind"] != "CustomResourceDefinition"]
        cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(crds))
        cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(
            [namespace_object(NS), secret, *rest]))
        yield cluster


def test_the_rendered_chart_runs_the_operator_and_a_job_succeeds(installed: LocalCluster, database: Database) -> None:
    cluster = installed
    api = cluster.api
    instance_path = f"/apis/locus.dev/v1alpha1/namespaces/{NS}/instances/default"
    try:
        api.wait_for(lambda: condition_true(api.get_or_none(instance_path)), timeout=120,
                     what="the chart's Instance Ready")
    except TimeoutError:
        pods = cluster.kubectl("get", "pods", "-A", "-o", "wide", check=False).stdout
        operator_pods = [p["metadata"]["name"] for p in api.list(f"/api/v1/namespaces/{NS}/pods")
                         if "operator" in p["metadata"]["name"]]
        logs = "".join(cluster.log(NS, name, "operator", previous=True)[-3000:] + "\n---\n"
                       + cluster.log(NS, name, "operator")[-3000:] for name in operator_pods)
        raise AssertionError(f"{pods}\noperator log:\n{logs}\nkubelet:\n{cluster.server_log()}") from None

    location = yaml.safe_load((ROOT / "e2e" / "kind" / "codelocation.yaml").read_text())
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(location))
    location_path = f"/apis/locus.dev/v1alpha1/namespaces/{NS}/codelocations/numbers"
    api.wait_for(lambda: condition_true(api.get_or_none(location_path)), timeout=60,
                 what="the CodeLocation Ready")

    token_secret = api.get(f"/api/v1/namespaces/{NS}/secrets/locus-api-token")
    token = base64.b64decode(token_secret["data"]["token"]).decode()
    service = api.get(f"/api/v1/namespaces/{NS}/services/locus-default-api")
    base = f"http://{service['spec']['clusterIP']}:3000/api"
    with httpx.Client(base_url=base, timeout=30) as http:
        assert http.get("/runs").status_code == 401  # auth is on by default
        headers = {"Authorization": f"Bearer {token}"}

        def loaded() -> bool:
            listed = http.get("/locations", headers=headers).json()
            return any(loc["name"] == "numbers" and loc["status"] == "LOADED" for loc in listed["locations"])

        try:
            api.wait_for(loaded, timeout=30, what="the API to see the registered location")
        except TimeoutError:
            api_pod = next(p["metadata"]["name"] for p in api.list(f"/api/v1/namespaces/{NS}/pods")
                           if "-api-" in p["metadata"]["name"])
            import psycopg

            with psycopg.connect(database.url) as conn:
                rows = conn.execute("SELECT name, status, body FROM code_locations").fetchall()
            raise AssertionError(f"{http.get('/locations', headers=headers).text}\n{rows}\n"
                                 f"{cluster.log(NS, api_pod, 'api')[-4000:]}") from None
        created = http.post("/runs", headers=headers,
                            json={"location": "numbers", "job_name": "process_numbers_asset"})
        assert created.status_code == 201, created.text
        run_id = created.json()["run_id"]

        def finished() -> dict[str, Any] | None:
            run: dict[str, Any] = http.get(f"/runs/{run_id}", headers=headers).json()["run"]
            return run if run["status"] in ("SUCCESS", "FAILURE", "CANCELED") else None

        run = api.wait_for(finished, timeout=60, what="the run to finish")
        events = http.get(f"/runs/{run_id}/events", headers=headers).text
    assert run["status"] == "SUCCESS", events[-3000:]
    jobs = api.list(f"/apis/batch/v1/namespaces/{NS}/jobs", label_selector={"locus.dev/run-id": run_id})
    assert len(jobs) == 1 and jobs[0]["metadata"]["name"].startswith("locus-run-")
    assert "summed_two_sums" in events

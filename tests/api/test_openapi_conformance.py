"""schemathesis over the app's own OpenAPI document, with a token
configured and a pre-seeded instance: no 5xx, and every answer (status,
content type, body) is one the document allows."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from api.stack import seed_run
from locus.api.app import create_app
from locus.execution.events import Event, EventType, RunStatus
from locus.instance.instance import LocusInstance
from locus.storage.records import DaemonHeartbeat, InstigatorState, LocationRecord, LocationStatus, TickRecord

TOKEN = "conformance-token"
EXAMPLES = 25
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def app_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    home = tmp_path_factory.mktemp("conformance")
    instance = LocusInstance.for_url(f"sqlite:///{home / 'locus.db'}", home)
    # Seeded runs are all finished, so no generated call can wait on a live stream.
    for n, status in enumerate([RunStatus.SUCCESS, RunStatus.FAILURE, RunStatus.CANCELED]):
        seed_run(instance, f"run-{n}", status=status, tags={"team": "a"})
    instance.store_event(Event("run-0", EventType.LOG, "hello", step_key="extract"))
    logs = home / "logs" / "run-0"
    logs.mkdir(parents=True)
    (logs / "extract.out").write_text("out\n")
    storage = instance.storage
    # The registry names a location whose code server is gone: definitions
    # endpoints must answer with errors or empty lists, never 5xx.
    storage.upsert_location(LocationRecord("pipeline", LocationStatus.LOADED, endpoint="unix:/nonexistent.sock",
                                           snapshot_id="abc"))
    storage.upsert_location(LocationRecord("broken", LocationStatus.ERROR))
    storage.set_instigator_state(InstigatorState("pipeline:nightly", "nightly", "pipeline", "schedule", "RUNNING"))
    storage.create_tick(TickRecord("pipeline:nightly", "t1", timestamp=time.time()))
    storage.add_daemon_heartbeat(DaemonHeartbeat("SCHEDULER", "d", time.time()))
    app = create_app(instance, auth_token=TOKEN)
    yield schemathesis.openapi.from_asgi("/openapi.json", app, headers={"Authorization": f"Bearer {TOKEN}"})
    instance.dispose()


def test_the_api_keeps_its_openapi_promises(app_schema: Any) -> None:
    # One hypothesis run per operation inside one test: schemathesis's pytest
    # plugin does not work with this pytest, and this keeps the budget bounded.
    operations = [result.ok() for result in app_schema.get_all_operations()]
    assert len(operations) >= 28
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, checks=CHECKS)

        check()

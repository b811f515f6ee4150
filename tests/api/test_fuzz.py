"""schemathesis against the hub's own OpenAPI schema: no 5xx, and every response conforms to the schema.

Bounded examples per operation and a fixed seed (derandomised), so the run is repeatable.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from headwater.services.jobs import driver
from tests.fixtures.hub import RunningHub
from tests.services.jobs.helpers import THREADS

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def fuzz_token(sqlite_hub: RunningHub, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An admin of a fresh organization with a little of everything to aim at."""
    # The jobs the fuzzer creates run on the in-process executor: its subject is the API, and a cluster of
    # worker processes started under a parallel suite's load could outlast the test's timeout.
    engine = driver.engine_for(sqlite_hub.hub)
    if engine._executor is None and engine.config is None:
        driver.configure(sqlite_hub.hub, THREADS)
    token = sqlite_hub.token(org=f"fuzz-{uuid.uuid4().hex[:8]}")
    folder: Path = tmp_path_factory.mktemp("fuzz")
    (folder / "f.txt").write_text("x")
    with sqlite_hub.client(token) as api:
        api.post("/v1/secrets", json={"id": "fuzz", "secretType": "generic", "secretKey": "fuzz-value"})
        api.post(
            "/v1/sources",
            json={"protocol": "local", "label": "fuzz", "params": {"path": str(folder)}, "access": "read-write"},
        )
        api.post("/v1/systems", json={"name": "fuzz"})
    return token


@pytest.fixture(scope="module")
def api_schema(sqlite_hub: RunningHub) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{sqlite_hub.url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_server_error_and_no_schema_violation(case: schemathesis.Case, fuzz_token: str) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {fuzz_token}"}, checks=CHECKS, timeout=30)

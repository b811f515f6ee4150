"""Fixtures of the job tests: one threaded hub for the module, an admin client in a fresh organization."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.fixtures.hub import RunningHub
from tests.services.jobs.helpers import threaded_hub


@pytest.fixture(scope="session")
def jobs_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    running = threaded_hub(tmp_path_factory.mktemp("jobs-hub"))
    yield running
    running.stop()


@pytest.fixture
def admin(jobs_hub: RunningHub) -> Iterator[httpx.Client]:
    with jobs_hub.client(jobs_hub.token()) as client:
        yield client

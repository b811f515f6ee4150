"""Fixtures shared by the connector tests."""

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Async connector tests run on asyncio, the loop the hub serves on."""
    return "asyncio"

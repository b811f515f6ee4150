"""Every kind runs the connector contract (`contract.py`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from headwater.connectors.base import Connector
from headwater.connectors.local import LocalConnector
from tests.connectors.contract import ConnectorContract

pytestmark = pytest.mark.anyio

Factory = Callable[[pytest.FixtureRequest, Path], Connector]


def local(request: pytest.FixtureRequest, tmp_path: Path) -> Connector:
    return LocalConnector(tmp_path / "root", create=True, chunk_size=4096)


CONNECTOR_FACTORIES: dict[str, Factory] = {"local": local}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=sorted(CONNECTOR_FACTORIES))
async def connector(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Connector]:
    conn = CONNECTOR_FACTORIES[request.param](request, tmp_path)
    try:
        yield conn
    finally:
        await conn.close()


class TestContract(ConnectorContract):
    pass

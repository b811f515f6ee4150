"""Finding 14: the embedded Dask cluster accepts only peers holding its own certificate.

Before, the scheduler and workers took any local connection, so code that reached the
ports (a `python` app's child, say) could submit code to the workers, which hold the
hub's credentials. Now the cluster speaks TLS with a temporary CA made for it.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed import Client
from distributed.core import rpc
from distributed.security import Security

from headwater.services.jobs import driver
from headwater.services.jobs.executor import DaskExecutor, ExecutorConfig
from tests.fixtures.hub import RunningHub, start_hub
from tests.fixtures.loops import run_coroutine


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskExecutor]:
    running: RunningHub = start_hub(tmp_path_factory.mktemp("dask-peers"))
    driver.configure(running.hub, ExecutorConfig(processes=True, workers=1, threads=1))
    executor = driver.engine_for(running.hub).executor
    assert isinstance(executor, DaskExecutor)
    yield executor
    running.stop()


def addresses(executor: DaskExecutor) -> list[str]:
    """The scheduler's and every worker's listening address."""
    return [executor.client.scheduler.address, *executor.client.scheduler_info()["workers"]]


def test_the_hub_itself_still_runs_code_on_its_cluster(cluster: DaskExecutor) -> None:
    assert all(address.startswith("tls://127.0.0.1:") for address in addresses(cluster))
    assert cluster.client.submit(sum, [1, 2], pure=False).result(timeout=30) == 3


def test_a_plain_unauthenticated_client_cannot_connect_or_run_code(cluster: DaskExecutor) -> None:
    plain = cluster.client.scheduler.address.replace("tls://", "tcp://")
    with pytest.raises((OSError, TimeoutError)), Client(plain, timeout="3s", set_as_default=False) as intruder:
        intruder.submit(sum, [1, 2], pure=False).result(timeout=5)


def test_a_tls_client_with_another_certificate_cannot_connect(cluster: DaskExecutor) -> None:
    with (
        pytest.raises((OSError, TimeoutError)),
        Client(cluster.client.scheduler.address, security=Security.temporary(), timeout="3s", set_as_default=False),
    ):
        pass


def test_a_tls_client_that_trusts_the_cluster_but_holds_no_certificate_cannot_connect(
    cluster: DaskExecutor, tmp_path: Path
) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text(cluster.cluster.security.tls_ca_file)  # the temporary CA's certificate (public)
    context = ssl.create_default_context(cafile=str(ca))
    context.check_hostname = False
    for address in addresses(cluster):
        host, port = address.removeprefix("tls://").rsplit(":", 1)
        answer = b""
        with socket.create_connection((host, int(port)), timeout=5) as raw:
            try:
                with context.wrap_socket(raw) as conn:  # the server's certificate checks out against the CA
                    conn.sendall(b"\0" * 64)
                    answer = conn.recv(1024)
            except OSError:  # ssl.SSLError included: the server ends the handshake, it wants a client certificate
                pass
        assert answer == b""


def test_no_worker_or_scheduler_port_answers_an_unauthenticated_peer(cluster: DaskExecutor) -> None:
    async def identity(address: str) -> object:
        async with rpc(address.replace("tls://", "tcp://"), timeout=3) as peer:
            return await asyncio.wait_for(peer.identity(), 5)

    for address in addresses(cluster):
        with pytest.raises((OSError, TimeoutError, asyncio.TimeoutError)):
            run_coroutine(identity(address))


def test_an_external_cluster_must_speak_tls_and_the_hub_must_hold_a_certificate() -> None:
    with pytest.raises(ValueError, match="tls://"):
        ExecutorConfig(scheduler="tcp://127.0.0.1:8786").external_security()
    with pytest.raises(ValueError, match="HEADWATER_DASK_TLS_CERT_FILE"):
        ExecutorConfig(scheduler="tls://127.0.0.1:8786", tls_ca_file="ca.pem", tls_key_file="k.pem").external_security()

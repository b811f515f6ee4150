"""`check()` of the S3 family classifies each failure into its own error, and so into its own state code."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from headwater.connectors import catalogue
from headwater.connectors.base import Connector, Credentials
from headwater.connectors.kind import BuildContext
from headwater.connectors.s3 import S3Connector, Timeouts, location_of
from headwater.connectors.s3_profiles import PROFILES
from headwater.errors import (
    EndpointRefused,
    HeadwaterError,
    NotFound,
    UpstreamAuthFailed,
    UpstreamPermissionDenied,
    UpstreamTimeout,
    UpstreamTLSError,
    UpstreamUnavailable,
)
from headwater.services import states
from tests.fixtures.network import free_port
from tests.fixtures.seaweedfs import Keys, SeaweedFS

pytestmark = pytest.mark.anyio

FAST = Timeouts(connect=1.0, check=1.0)


def connector(
    server: SeaweedFS,
    bucket: str | None,
    keys: Keys | None,
    *,
    endpoint: str | None = None,
    allow_private: bool = True,
    timeouts: Timeouts = FAST,
) -> Connector:
    params = catalogue.get("s3").params.model_validate(
        {"endpoint": endpoint or server.endpoint, "region": server.region, **({"bucket": bucket} if bucket else {})}
    )
    creds = Credentials(keys.access_key, {"secretKey": keys.secret_key}) if keys else None
    return S3Connector(
        location_of(PROFILES["s3"], params), creds, allow_private_endpoints=allow_private, timeouts=timeouts
    )


async def failure(conn: Connector, *, write: bool = False) -> HeadwaterError:
    with pytest.raises(HeadwaterError) as caught:
        await conn.check(write=write)
    return caught.value


def assert_clean(error: HeadwaterError, *secrets: str) -> None:
    """A check's message names the problem, never a secret or a request URL."""
    for secret in secrets:
        assert secret not in error.message
    assert "://" not in error.message and "X-Amz" not in error.message


@pytest.fixture(scope="module")
def bucket(seaweedfs: SeaweedFS) -> str:
    return seaweedfs.create_bucket()


@pytest.fixture(scope="module")
def silent_server() -> Iterator[int]:
    """A loopback TCP server that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(timeout=2)
    for sock in held:
        sock.close()
    server.close()


async def test_a_working_read_write_connection_passes_and_leaves_nothing(seaweedfs: SeaweedFS, bucket: str) -> None:
    await connector(seaweedfs, bucket, seaweedfs.rw).check(write=True)
    assert seaweedfs.keys_in(bucket) == []


async def test_wrong_keys(seaweedfs: SeaweedFS, bucket: str) -> None:
    wrong = Keys(seaweedfs.rw.access_key, "not-the-secret-" + uuid.uuid4().hex)
    error = await failure(connector(seaweedfs, bucket, wrong))
    assert isinstance(error, UpstreamAuthFailed)
    assert states.failed(error).code == "301"
    assert_clean(error, wrong.secret_key)
    unknown = Keys("no-such-access-key", "whatever-" + uuid.uuid4().hex)
    assert isinstance(await failure(connector(seaweedfs, bucket, unknown)), UpstreamAuthFailed)


async def test_bucket_missing(seaweedfs: SeaweedFS) -> None:
    error = await failure(connector(seaweedfs, f"hw-missing-{uuid.uuid4().hex[:8]}", seaweedfs.rw), write=True)
    assert isinstance(error, NotFound) and "does not exist" in error.message
    assert states.failed(error).code == "303"


async def test_read_only_keys_on_a_read_write_source(seaweedfs: SeaweedFS, bucket: str) -> None:
    await connector(seaweedfs, bucket, seaweedfs.ro).check(write=False)
    error = await failure(connector(seaweedfs, bucket, seaweedfs.ro), write=True)
    assert isinstance(error, UpstreamPermissionDenied) and "not write" in error.message
    assert states.failed(error).code == "302"
    assert_clean(error, seaweedfs.ro.secret_key)


async def test_anonymous_on_a_private_bucket(seaweedfs: SeaweedFS, bucket: str) -> None:
    error = await failure(connector(seaweedfs, bucket, None))
    assert isinstance(error, UpstreamPermissionDenied)


async def test_unreachable_endpoint(seaweedfs: SeaweedFS, bucket: str) -> None:
    started = time.monotonic()
    error = await failure(connector(seaweedfs, bucket, seaweedfs.rw, endpoint=f"http://127.0.0.1:{free_port()}"))
    assert isinstance(error, UpstreamUnavailable) and states.failed(error).code == "304"
    assert time.monotonic() - started < 2
    assert_clean(error, seaweedfs.rw.secret_key)


async def test_an_endpoint_that_never_answers_times_out(seaweedfs: SeaweedFS, bucket: str, silent_server: int) -> None:
    started = time.monotonic()
    error = await failure(connector(seaweedfs, bucket, seaweedfs.rw, endpoint=f"http://127.0.0.1:{silent_server}"))
    elapsed = time.monotonic() - started
    assert isinstance(error, UpstreamTimeout) and states.failed(error).code == "305"
    assert 0.8 < elapsed < 3


def test_checks_are_bounded_by_default() -> None:
    defaults = Timeouts()
    assert defaults.check <= 5 and defaults.connect <= 5


async def test_tls_to_a_plain_http_port(seaweedfs: SeaweedFS, bucket: str) -> None:
    port = seaweedfs.endpoint.rsplit(":", 1)[1]
    error = await failure(connector(seaweedfs, bucket, seaweedfs.rw, endpoint=f"https://127.0.0.1:{port}"))
    assert isinstance(error, UpstreamTLSError) and states.failed(error).code == "306"


async def test_refused_addresses(seaweedfs: SeaweedFS, bucket: str) -> None:
    with pytest.raises(EndpointRefused) as caught:
        connector(seaweedfs, bucket, seaweedfs.rw, allow_private=False)
    assert states.failed(caught.value).code == "308"
    for endpoint in ("http://169.254.169.254", "http://169.254.169.254:8080"):
        with pytest.raises(EndpointRefused):
            connector(seaweedfs, bucket, seaweedfs.rw, endpoint=endpoint)


async def test_unresolvable_host(seaweedfs: SeaweedFS, bucket: str) -> None:
    with pytest.raises(UpstreamUnavailable):
        connector(seaweedfs, bucket, seaweedfs.rw, endpoint="http://no-such-host.invalid")


async def test_without_a_bucket_the_check_proves_endpoint_and_keys(seaweedfs: SeaweedFS) -> None:
    await connector(seaweedfs, None, seaweedfs.rw).check(write=True)
    wrong = Keys(seaweedfs.rw.access_key, "wrong-" + uuid.uuid4().hex)
    assert isinstance(await failure(connector(seaweedfs, None, wrong)), UpstreamAuthFailed)


async def test_a_check_never_changes_the_connection(seaweedfs: SeaweedFS, bucket: str) -> None:
    conn = connector(seaweedfs, bucket, seaweedfs.ro)
    assert isinstance(conn, S3Connector)
    before = conn.location
    await failure(conn, write=True)
    assert conn.location == before


def test_builder_refuses_an_incomplete_secret(seaweedfs: SeaweedFS, bucket: str) -> None:
    kind = catalogue.get("s3")
    params = kind.params.model_validate({"endpoint": seaweedfs.endpoint, "bucket": bucket})
    with pytest.raises(HeadwaterError, match="accessKey and a secretKey"):
        kind.build(
            params, Credentials("only-an-access-key", {}), BuildContext(Path("/x"), allow_private_endpoints=True)
        )

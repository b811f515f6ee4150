"""Fixtures for the fsspec tests: a `HeadwaterFileSystem` on hosted data and on an `s3` connection.

Imported by the test modules that use them (`from tests.client.fsspec_backends import ...`);
each fixture is module scoped, so one organization and one bucket serve a whole module.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from headwater.client import Client
from headwater.client.fsspec import HeadwaterFileSystem
from tests.fixtures.hub import RunningHub
from tests.fixtures.seaweedfs import SeaweedFS


@dataclass(frozen=True)
class Root:
    """A filesystem, the folder the tests of one backend work under, and how to reach the hub."""

    fs: HeadwaterFileSystem
    base: str
    url: str
    token: str

    @property
    def options(self) -> dict[str, str]:
        """`storage_options` for pandas and `fsspec.open` (`hub_url`: pandas claims `url` for itself)."""
        return {"hub_url": self.url, "token": self.token}

    def uri(self, *parts: str) -> str:
        return "headwater://" + "/".join([self.base, *parts])

    def path(self, *parts: str) -> str:
        return "/".join([self.base, *parts])


def filesystem(hub: RunningHub, token: str) -> HeadwaterFileSystem:
    """A filesystem of its own (fsspec would otherwise share instances with equal arguments)."""
    return HeadwaterFileSystem(url=hub.url, token=token, skip_instance_cache=True)


def s3_source(
    hub: RunningHub, token: str, seaweedfs: SeaweedFS, bucket: str | None, *, access: str = "read-write"
) -> str:
    """Register an `s3` connection with SeaweedFS's writer keys, on `bucket` (or, with None, on
    every bucket, the first path segment naming it); returns its `s3+label`."""
    label = f"lake-{uuid.uuid4().hex[:6]}"
    with Client(hub.url, token) as client:
        client.secrets.create(
            id=f"{label}-keys", secret_type="s3", access_key=seaweedfs.rw.access_key, secret_key=seaweedfs.rw.secret_key
        )
        client.sources.create(
            protocol="s3",
            label=label,
            access=access,
            secret_id=f"{label}-keys",
            params={
                "endpoint": seaweedfs.endpoint,
                "region": seaweedfs.region,
                **({"bucket": bucket} if bucket else {}),
            },
        )
    return f"s3+{label}"


@pytest.fixture(scope="module")
def hosted_root(sqlite_hub: RunningHub) -> Iterator[Root]:
    """A collection of a fresh organization's hosted data."""
    org = f"org-{uuid.uuid4().hex[:10]}"
    token = sqlite_hub.token(org=org)
    fs = filesystem(sqlite_hub, token)
    base = f"data/{org}/tests"
    fs.mkdir(base)
    yield Root(fs, base, sqlite_hub.url, token)
    fs.rm(base, recursive=True)


@pytest.fixture(scope="module")
def s3_root(sqlite_hub: RunningHub, seaweedfs: SeaweedFS) -> Iterator[Root]:
    """A read-write `s3` connection of a fresh organization on a SeaweedFS bucket of its own."""
    token = sqlite_hub.token()
    connection = s3_source(sqlite_hub, token, seaweedfs, seaweedfs.create_bucket())
    yield Root(filesystem(sqlite_hub, token), connection, sqlite_hub.url, token)

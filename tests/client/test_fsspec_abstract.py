"""fsspec's own abstract test suites against the hub: hosted data, and an S3 connection on SeaweedFS.

Both backends keep empty directories: hosted data is a folder tree, and the `s3` kind writes
a marker object on `mkdir` (hidden from listings), so `supports_empty_directories` is True for
both, unlike s3fs on a bare bucket.
"""

from __future__ import annotations

import posixpath
import uuid
from collections.abc import Callable, Iterator

import fsspec.tests.abstract as abstract
import pytest

from headwater.client.fsspec import HeadwaterFileSystem
from tests.client.fsspec_backends import Root, hosted_root, s3_root  # noqa: F401 (fixtures)


class HubFixtures(abstract.AbstractFixtures):  # type: ignore[misc]
    """The fixtures fsspec's suites need; `root` picks the backend."""

    @pytest.fixture
    def root(self) -> Root:  # pragma: no cover - overridden per backend
        raise NotImplementedError

    @pytest.fixture
    def fs(self, root: Root) -> HeadwaterFileSystem:
        return root.fs

    @pytest.fixture
    def fs_path(self, root: Root) -> Iterator[str]:
        path = posixpath.join(root.base, f"t-{uuid.uuid4().hex[:8]}")
        yield path
        if root.fs.exists(path):
            root.fs.rm(path, recursive=True)

    @pytest.fixture
    def fs_join(self) -> Callable[..., str]:
        return posixpath.join

    @pytest.fixture
    def supports_empty_directories(self) -> bool:
        return True


class HostedFixtures(HubFixtures):
    @pytest.fixture
    def root(self, hosted_root: Root) -> Root:
        return hosted_root


class S3Fixtures(HubFixtures):
    @pytest.fixture
    def root(self, s3_root: Root) -> Root:
        return s3_root


class TestHostedCopy(abstract.AbstractCopyTests, HostedFixtures):  # type: ignore[misc]
    pass


class TestHostedGet(abstract.AbstractGetTests, HostedFixtures):  # type: ignore[misc]
    pass


class TestHostedPut(abstract.AbstractPutTests, HostedFixtures):  # type: ignore[misc]
    pass


class TestHostedOpen(abstract.AbstractOpenTests, HostedFixtures):  # type: ignore[misc]
    pass


class TestHostedPipe(abstract.AbstractPipeTests, HostedFixtures):  # type: ignore[misc]
    pass


class TestS3Copy(abstract.AbstractCopyTests, S3Fixtures):  # type: ignore[misc]
    pass


class TestS3Get(abstract.AbstractGetTests, S3Fixtures):  # type: ignore[misc]
    pass


class TestS3Put(abstract.AbstractPutTests, S3Fixtures):  # type: ignore[misc]
    pass


class TestS3Open(abstract.AbstractOpenTests, S3Fixtures):  # type: ignore[misc]
    pass


class TestS3Pipe(abstract.AbstractPipeTests, S3Fixtures):  # type: ignore[misc]
    pass

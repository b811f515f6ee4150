"""Every kind runs the connector contract (`contract.py`), built the way the hub builds it: from the catalogue.

One class per kind states the kind's `Traits` and inherits the mixins they call for; servers are
shared for the session and each test gets a fresh root (a new prefix, folder or table name).
`test_every_kind_runs_the_contract` fails when a kind joins the catalogue without a class here.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pymysql
import pytest

from headwater.connectors import catalogue
from headwater.connectors.base import Connector, Credentials
from headwater.connectors.hosted_kinds import UploadStore
from headwater.connectors.kind import BuildContext
from headwater.connectors.s3 import Location
from headwater.connectors.s3_profiles import PROFILES
from headwater.connectors.storage import HOSTED_ROOT, BucketStorage, FolderStorage, Storage
from tests.connectors.contract import Sample, SampleTable, Traits, chunks_of, contract
from tests.fixtures.databases import ScratchDatabase, pg_connect
from tests.fixtures.http_server import HttpServer
from tests.fixtures.seaweedfs import SeaweedFS

pytestmark = pytest.mark.anyio

ORG = "org-contract"


def context(data_dir: Path, source_id: str = "source-1", storage: Storage | None = None) -> BuildContext:
    return BuildContext(
        data_dir / "hosted",
        allow_private_endpoints=True,
        chunk_size=4096,
        data_dir=data_dir,
        org_id=ORG,
        source_id=source_id,
        storage=storage,
    )


def build(
    kind: str,
    params: dict[str, Any],
    data_dir: Path,
    credentials: Credentials | None = None,
    source_id: str = "source-1",
    storage: Storage | None = None,
) -> Connector:
    """A connector as the hub builds one: the kind from the catalogue, its params validated by its schema."""
    spec = catalogue.get(kind)
    return spec.build(spec.params.model_validate(params), credentials, context(data_dir, source_id, storage))


class OnFolder:
    """A hosted kind on the hub's default storage: a folder (the data dir)."""

    def storage(self, request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
        return FolderStorage(tmp_path)


class OnObjectStore:
    """A hosted kind with the hub's storage on SeaweedFS (HEADWATER_STORAGE_URL=s3://bucket/prefix), a fresh prefix each test."""

    @pytest.fixture(scope="class")
    def storage_bucket(self, seaweedfs: SeaweedFS) -> str:
        return seaweedfs.create_bucket()

    def storage(self, request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
        server: SeaweedFS = request.getfixturevalue("seaweedfs")
        bucket = request.getfixturevalue("storage_bucket")
        location = Location(
            PROFILES["s3"], server.endpoint, server.region, bucket, f"hub-{uuid.uuid4().hex[:10]}", True
        )
        return BucketStorage(location, Credentials(server.rw.access_key, {"secretKey": server.rw.secret_key}))


@pytest.fixture
async def connector(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Connector]:
    """The class's connection: each class says how to open it in `open`."""
    conn = await request.instance.open(request, tmp_path)
    try:
        yield conn
    finally:
        await conn.close()


#: A writable kind that copies within its connection (local folders, hosted storage, the S3 family).
COPY_TRAITS = Traits(copies=True)


class TestLocal(*contract(COPY_TRAITS)):  # type: ignore[misc]
    kind = "local"
    traits = COPY_TRAITS

    async def open(self, request: pytest.FixtureRequest, tmp_path: Path) -> Connector:
        (tmp_path / "root").mkdir()
        return build("local", {"path": str(tmp_path / "root")}, tmp_path)


class TestHostedStorage(OnFolder, *contract(COPY_TRAITS)):  # type: ignore[misc]
    """`data://` storage: the hub opens the organization's root in its storage as services/data.py does."""

    kind = "data"
    traits = COPY_TRAITS

    async def open(self, request: pytest.FixtureRequest, tmp_path: Path) -> Connector:
        return self.storage(request, tmp_path).connector(f"{HOSTED_ROOT}/{ORG}", create=True, chunk_size=4096)


class TestHostedDataOnObjectStore(OnObjectStore, TestHostedStorage):
    """`data://` storage on an object store."""


class S3Family:
    """A kind of the S3 family against SeaweedFS: its profile's quirks (checksums, bulk delete, part
    sizes, fixed regions), with the endpoint the profile lets a source override and path-style addressing."""

    kind = "s3"
    region: str | None = "us-east-1"

    @pytest.fixture(scope="class")
    def bucket(self, seaweedfs: SeaweedFS) -> str:
        return seaweedfs.create_bucket()

    async def open(self, request: pytest.FixtureRequest, tmp_path: Path) -> Connector:
        server: SeaweedFS = request.getfixturevalue("seaweedfs")
        params: dict[str, Any] = {
            "endpoint": server.endpoint,
            "bucket": request.getfixturevalue("bucket"),
            "prefix": f"t-{uuid.uuid4().hex[:10]}",
            "pathStyle": True,
        }
        if self.region is not None:
            params["region"] = self.region
        return build(
            self.kind, params, tmp_path, Credentials(server.rw.access_key, {"secretKey": server.rw.secret_key})
        )


class TestS3(S3Family, *contract(COPY_TRAITS)):  # type: ignore[misc]
    traits = COPY_TRAITS


class TestAws(S3Family, *contract(COPY_TRAITS)):  # type: ignore[misc]
    kind = "aws"
    traits = COPY_TRAITS


class TestGcp(S3Family, *contract(COPY_TRAITS)):  # type: ignore[misc]
    kind = "gcp"
    region = None  # always "auto"
    traits = COPY_TRAITS


class TestStorj(S3Family, *contract(COPY_TRAITS)):  # type: ignore[misc]
    kind = "storj"
    region = None  # always "global"
    traits = COPY_TRAITS


URL_TRAITS = Traits(output=False, directories=False, listing=False)


class TestUrl(*contract(URL_TRAITS)):  # type: ignore[misc]
    """A folder URL on the test HTTP server: files by path, ranges, no listing."""

    kind = "url"
    traits = URL_TRAITS

    @pytest.fixture
    def sample(self, http_server: HttpServer) -> Sample:
        return Sample("data.bin", http_server.files["data.bin"])

    async def open(self, request: pytest.FixtureRequest, tmp_path: Path) -> Connector:
        server: HttpServer = request.getfixturevalue("http_server")
        return build("url", {"url": f"{server.url}/files/"}, tmp_path)


FILE_TRAITS = Traits(output=False, directories=False)


class TestFile(OnFolder, *contract(FILE_TRAITS)):  # type: ignore[misc]
    """An uploaded file: one file, by its name."""

    kind = "file"
    traits = FILE_TRAITS
    data = bytes(range(256)) * 64

    @pytest.fixture
    def sample(self) -> Sample:
        return Sample("report.bin", self.data)

    async def open(self, request: pytest.FixtureRequest, tmp_path: Path) -> Connector:
        storage = self.storage(request, tmp_path)
        store = UploadStore(storage)
        upload = store.create(ORG, "report.bin")
        await store.write_whole(upload, chunks_of(self.data))
        return build("file", {"uploadId": upload.id, "filename": "report.bin"}, tmp_path, storage=storage)


class TestFileOnObjectStore(OnObjectStore, TestFile):
    """An uploaded file kept on an object store."""


class TestBucket(OnFolder, *contract(Traits())):  # type: ignore[misc]
    """A temporary bucket: output only in the catalogue, yet it serves back what it keeps (to its links)."""

    kind = "bucket"
    traits = Traits()

    async def open(self, request: pytest.FixtureRequest, tmp_path: Path) -> Connector:
        return build("bucket", {}, tmp_path, storage=self.storage(request, tmp_path))


class TestBucketOnObjectStore(OnObjectStore, TestBucket):
    """A temporary bucket kept on an object store."""


BYPASS_TRAITS = Traits(retains=False)


class TestBypass(*contract(BYPASS_TRAITS)):  # type: ignore[misc]
    kind = "bypass"
    traits = BYPASS_TRAITS

    async def open(self, request: pytest.FixtureRequest, tmp_path: Path) -> Connector:
        return build("bypass", {}, tmp_path)


SYNTHETIC_TRAITS = Traits(output=False, directories=False, ranges=False)


class TestSynthetic(*contract(SYNTHETIC_TRAITS)):  # type: ignore[misc]
    kind = "synthetic"
    traits = SYNTHETIC_TRAITS

    @pytest.fixture
    def sample(self) -> Sample:
        return Sample("people.csv", None)

    async def open(self, request: pytest.FixtureRequest, tmp_path: Path) -> Connector:
        return build("synthetic", {}, tmp_path)


TABLE_TRAITS = Traits(directories=False, ranges=False, tables=True)
ROWS = [["1", "alpha"], ["2", "beta"], ["3", "gamma, with a comma"]]


class TestPostgres(*contract(TABLE_TRAITS)):  # type: ignore[misc]
    kind = "postgres"
    traits = TABLE_TRAITS

    @pytest.fixture(scope="class")
    def table(self, pg_db: ScratchDatabase) -> SampleTable:
        name = f"contract_{uuid.uuid4().hex[:8]}"
        with pg_connect(pg_db) as conn:
            conn.execute(f"CREATE TABLE {name} (id integer PRIMARY KEY, label text)")
            for row in ROWS:
                conn.execute(f"INSERT INTO {name} VALUES (%s, %s)", (int(row[0]), row[1]))
        return SampleTable("public", name, ["id", "label"], ROWS)

    async def open(self, request: pytest.FixtureRequest, tmp_path: Path) -> Connector:
        db: ScratchDatabase = request.getfixturevalue("pg_db")
        return build(
            "postgres",
            {"host": db.host, "port": db.port, "database": db.name},
            tmp_path,
            Credentials(db.user, {"secretKey": db.password}),
        )


class TestMysql(*contract(TABLE_TRAITS)):  # type: ignore[misc]
    kind = "mysql"
    traits = TABLE_TRAITS

    @pytest.fixture(scope="class")
    def table(self, mysql_db: ScratchDatabase) -> SampleTable:
        name = f"contract_{uuid.uuid4().hex[:8]}"
        conn = pymysql.connect(
            host=mysql_db.host,
            port=mysql_db.port,
            user=mysql_db.user,
            password=mysql_db.password,
            database=mysql_db.name,
            autocommit=True,
        )
        try:
            with conn.cursor() as cursor:
                cursor.execute(f"CREATE TABLE {name} (id integer PRIMARY KEY, label text)")
                cursor.executemany(f"INSERT INTO {name} VALUES (%s, %s)", [(int(r[0]), r[1]) for r in ROWS])
        finally:
            conn.close()
        return SampleTable(mysql_db.name, name, ["id", "label"], ROWS)

    async def open(self, request: pytest.FixtureRequest, tmp_path: Path) -> Connector:
        db: ScratchDatabase = request.getfixturevalue("mysql_db")
        return build(
            "mysql",
            {"host": db.host, "port": db.port, "database": db.name},
            tmp_path,
            Credentials(db.user, {"secretKey": db.password}),
        )


CONTRACTS: dict[str, type] = {
    cls.kind: cls  # type: ignore[attr-defined]
    for cls in (
        TestLocal,
        TestHostedStorage,
        TestS3,
        TestAws,
        TestGcp,
        TestStorj,
        TestUrl,
        TestFile,
        TestBucket,
        TestBypass,
        TestSynthetic,
        TestPostgres,
        TestMysql,
    )
}


def test_every_kind_runs_the_contract() -> None:
    """Each built-in kind has a class above, and its traits agree with what the catalogue says of it."""
    kinds = {k.name: k for k in catalogue.kinds()}
    assert set(kinds) == set(CONTRACTS) - {"data"}
    for name, kind in kinds.items():
        traits: Traits = CONTRACTS[name].traits  # type: ignore[attr-defined]
        assert traits.output == kind.capabilities.output, name
        assert traits.copies == kind.capabilities.copies, name
        assert traits.input or not kind.capabilities.input, name

"""Real, unmodified S3 clients against the hub's S3 front door (`headwater serve --s3-port`) on loopback.

boto3, the AWS CLI, rclone, DuckDB's httpfs, pyarrow's S3FileSystem and s3fs with pandas each write
and read back both an S3 connection on SeaweedFS (bucket `lake.s3`, checked on SeaweedFS's side) and
the organization's hosted data (bucket `data`), signing with an access key from `POST /v1/access-keys`.
Each client is configured only with the endpoint, the key pair and path-style addressing.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import obstore as obs
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from boto3.s3.transfer import TransferConfig
from pyarrow.fs import FileSelector

from tests.fixtures.loops import run_coroutine
from tests.fixtures.network import free_port, wait_for_port
from tests.fixtures.s3_clients import S3Account, S3Clients, boto3_client
from tests.fixtures.seaweedfs import SeaweedFS

LAKE = "lake.s3"
BUCKETS = [LAKE, "data"]
MIB = 1024 * 1024


@dataclass
class FrontDoor:
    """A hub process serving its S3 port, an S3 connection `lake` on SeaweedFS, and an access key."""

    account: S3Account
    clients: S3Clients
    backend: str  # the SeaweedFS bucket behind `lake.s3`
    seaweedfs: SeaweedFS

    def on_backend(self, bucket: str, prefix: str) -> list[str]:
        """Keys under `prefix` as SeaweedFS holds them (only the S3 connection has a backend to look at)."""
        assert bucket == LAKE
        return self.seaweedfs.keys_in(self.backend, prefix)

    def quiet(self, done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
        """A command-line client's run, checked to have printed no secret."""
        assert self.account.secret not in done.stdout + done.stderr
        return done


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def door(seaweedfs: SeaweedFS, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FrontDoor]:
    root = tmp_path_factory.mktemp("front-door")
    port, s3_port = free_port(), free_port()
    token = "hw_clients-" + uuid.uuid4().hex
    env = {
        **os.environ,
        "HEADWATER_DATA_DIR": str(root / "hub"),
        "HEADWATER_BOOTSTRAP_TOKEN": token,
        "HEADWATER_ALLOW_PRIVATE_ENDPOINTS": "1",
        "HEADWATER_DASK_WARM": "0",
    }
    for name in ("HEADWATER_MASTER_KEY", "HEADWATER_DATABASE_URL", "HEADWATER_WORKERS", "HEADWATER_S3_PORT"):
        env.pop(name, None)
    command = [sys.executable, "-m", "headwater.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--s3-port", str(s3_port), "--workers", "1", "--log-level", "warning"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, process.stderr.read().decode()  # type: ignore[union-attr]
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "headwater serve did not answer /healthz"
            time.sleep(0.1)
        wait_for_port(s3_port, timeout=60)
        backend = seaweedfs.create_bucket()
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as api:
            made = api.post(
                "/v1/secrets",
                json={
                    "id": "lake-key",
                    "secretType": "s3",
                    "accessKey": seaweedfs.rw.access_key,
                    "secretKey": seaweedfs.rw.secret_key,
                },
            )
            assert made.status_code == 201, made.text
            params = {"endpoint": seaweedfs.endpoint, "region": seaweedfs.region, "bucket": backend}
            made = api.post(
                "/v1/sources",
                json={
                    "protocol": "s3",
                    "label": "lake",
                    "secretId": "lake-key",
                    "access": "read-write",
                    "params": params,
                },
            )
            assert made.status_code == 201, made.text
            made = api.post("/v1/access-keys", json={"name": "clients"})
            assert made.status_code == 201, made.text
            key = made.json()
        account = S3Account(f"http://127.0.0.1:{s3_port}", key["accessKeyId"], key["secretAccessKey"])
        yield FrontDoor(account, S3Clients(account, root / "clients"), backend, seaweedfs)
    finally:
        stop(process)  # type: ignore[arg-type]


def folder() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


def tree(root: Path) -> Path:
    """A small folder of files (one in a subfolder, one of 6 MiB so uploads go in parts)."""
    (root / "sub").mkdir(parents=True)
    (root / "a.csv").write_text("n,city\n1,Oslo\n2,Lima\n")
    (root / "sub" / "b.txt").write_text("hello from a subfolder\n")
    (root / "sub" / "big.bin").write_bytes(os.urandom(6 * MIB + 123))
    return root


RELATIVE = ["a.csv", "sub/b.txt", "sub/big.bin"]


@pytest.mark.parametrize("bucket", BUCKETS)
def test_boto3_uploads_in_parts_downloads_and_presigns(door: FrontDoor, bucket: str, tmp_path: Path) -> None:
    s3 = door.clients.boto3()
    prefix = folder()
    source = tmp_path / "up.bin"
    source.write_bytes(os.urandom(12 * MIB + 7))
    parts = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
    s3.upload_file(str(source), bucket, f"{prefix}/up.bin", Config=parts)
    head = s3.head_object(Bucket=bucket, Key=f"{prefix}/up.bin")
    assert head["ContentLength"] == source.stat().st_size
    back = tmp_path / "down.bin"
    s3.download_file(bucket, f"{prefix}/up.bin", str(back), Config=parts)
    assert back.read_bytes() == source.read_bytes()
    if bucket == LAKE:
        assert door.on_backend(bucket, prefix) == [f"{prefix}/up.bin"]

    presigner = boto3_client(door.account, signature_version="s3v4")
    url = presigner.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": f"{prefix}/up.bin"})
    fetched = httpx.get(url, headers={"Range": "bytes=0-1023"})
    assert fetched.status_code == 206
    assert fetched.content == source.read_bytes()[:1024]


def test_boto3_pages_through_2500_keys(door: FrontDoor) -> None:
    prefix = folder()
    store = door.seaweedfs.store(door.backend)
    keys = [f"{prefix}/k{i:05d}" for i in range(2500)]

    async def fill() -> None:
        pending = iter(keys)

        async def worker() -> None:
            for key in pending:
                await obs.put_async(store, key, b"x")

        await asyncio.gather(*(worker() for _ in range(32)))

    run_coroutine(fill())
    s3 = door.clients.boto3()
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=LAKE, Prefix=f"{prefix}/"))
    assert len(pages) == 3
    assert [o["Key"] for page in pages for o in page["Contents"]] == keys
    v1 = list(
        s3.get_paginator("list_objects").paginate(Bucket=LAKE, Prefix=f"{prefix}/", PaginationConfig={"PageSize": 1000})
    )
    assert sum(len(page["Contents"]) for page in v1) == 2500


@pytest.mark.parametrize("bucket", BUCKETS)
def test_the_aws_cli_copies_lists_syncs_and_removes(door: FrontDoor, bucket: str, tmp_path: Path) -> None:
    local = tree(tmp_path / "local")
    prefix = folder()
    base = f"s3://{bucket}/{prefix}"
    door.quiet(door.clients.aws("s3", "cp", str(local / "a.csv"), f"{base}/one/a.csv"))
    listed = door.quiet(door.clients.aws("s3", "ls", f"{base}/one/")).stdout
    assert "a.csv" in listed
    door.quiet(door.clients.aws("s3", "sync", str(local), f"{base}/synced"))
    if bucket == LAKE:
        assert door.on_backend(bucket, f"{prefix}/synced") == [f"{prefix}/synced/{r}" for r in RELATIVE]
    back = tmp_path / "back"
    door.quiet(door.clients.aws("s3", "sync", f"{base}/synced", str(back)))
    for relative in RELATIVE:
        assert (back / relative).read_bytes() == (local / relative).read_bytes(), relative
    recursive = door.quiet(door.clients.aws("s3", "ls", "--recursive", f"{base}/")).stdout
    assert len(recursive.strip().splitlines()) == 4
    door.quiet(door.clients.aws("s3", "rm", "--recursive", f"{base}/"))
    assert door.quiet(door.clients.aws("s3", "ls", "--recursive", f"{base}/", check=False)).stdout.strip() == ""
    if bucket == LAKE:
        assert door.on_backend(bucket, prefix) == []


@pytest.mark.parametrize("bucket", BUCKETS)
def test_rclone_copies_then_checks(door: FrontDoor, bucket: str, tmp_path: Path) -> None:
    local = tree(tmp_path / "local")
    remote = f"hub:{bucket}/{folder()}"
    door.quiet(door.clients.rclone("copy", str(local), remote))
    door.quiet(door.clients.rclone("check", str(local), remote))
    listed = door.quiet(door.clients.rclone("lsf", "-R", "--files-only", remote)).stdout.split()
    assert sorted(listed) == RELATIVE
    back = tmp_path / "back"
    door.quiet(door.clients.rclone("copy", remote, str(back)))
    for relative in RELATIVE:
        assert (back / relative).read_bytes() == (local / relative).read_bytes(), relative


@pytest.mark.parametrize("bucket", BUCKETS)
def test_duckdb_reads_and_writes_parquet(door: FrontDoor, bucket: str) -> None:
    con = door.clients.duckdb()
    where = f"s3://{bucket}/{folder()}"
    con.execute(
        f"COPY (SELECT i AS id, i % 7 AS bucket FROM range(200000) t(i)) TO '{where}/numbers.parquet' (FORMAT parquet)"
    )
    assert con.execute(f"SELECT count(*), sum(id) FROM read_parquet('{where}/numbers.parquet')").fetchall() == [
        (200000, 199999 * 200000 // 2)
    ]
    assert con.execute(f"SELECT count(*) FROM read_parquet('{where}/*.parquet') WHERE bucket = 3").fetchall() == [
        (len(range(3, 200000, 7)),)
    ]
    con.close()


@pytest.mark.parametrize("bucket", BUCKETS)
def test_pyarrow_s3filesystem_reads_and_writes(door: FrontDoor, bucket: str) -> None:
    fs = door.clients.pyarrow()
    where = f"{bucket}/{folder()}"
    table = pa.table({"id": list(range(50000)), "name": [f"n{i}" for i in range(50000)]})
    pq.write_table(table, f"{where}/table.parquet", filesystem=fs)
    with fs.open_output_stream(f"{where}/notes.txt") as out:
        out.write(b"written by arrow\n")
    infos = fs.get_file_info(FileSelector(where, recursive=True))
    assert sorted(info.path.rsplit("/", 1)[1] for info in infos if info.is_file) == ["notes.txt", "table.parquet"]
    assert pq.read_table(f"{where}/table.parquet", filesystem=fs).equals(table)
    with fs.open_input_file(f"{where}/notes.txt") as read:
        assert read.read() == b"written by arrow\n"


@pytest.mark.parametrize("bucket", BUCKETS)
def test_pandas_through_s3fs_reads_and_writes(door: FrontDoor, bucket: str) -> None:
    options = door.clients.s3fs_options()
    where = f"s3://{bucket}/{folder()}"
    frame = pd.DataFrame({"id": range(1000), "city": ["Oslo", "Lima", "Pune", "Kyiv"] * 250})
    frame.to_parquet(f"{where}/frame.parquet", storage_options=options)
    frame.to_csv(f"{where}/frame.csv", index=False, storage_options=options)
    pd.testing.assert_frame_equal(pd.read_parquet(f"{where}/frame.parquet", storage_options=options), frame)
    pd.testing.assert_frame_equal(pd.read_csv(f"{where}/frame.csv", storage_options=options), frame)

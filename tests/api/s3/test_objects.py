"""Object reads and writes through the front door: on an S3 connection (SeaweedFS) and on hosted data."""

from __future__ import annotations

import hashlib
import socket
import time
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from tests.api.s3.test_buckets import code_of
from tests.fixtures.s3_front import Org, S3Front
from tests.fixtures.seaweedfs import SeaweedFS


@pytest.fixture(params=["connection", "hosted"])
def bucket(request: pytest.FixtureRequest, org: Org) -> str:
    return org.bucket if request.param == "connection" else "data"


def test_put_get_head_delete_round_trip(s3_front: S3Front, org: Org, bucket: str) -> None:
    s3 = s3_front.client(org.token)
    body = b"x" * 3000 + b"end"
    put = s3.put_object(Bucket=bucket, Key="team/a.csv", Body=body)
    got = s3.get_object(Bucket=bucket, Key="team/a.csv")
    assert got["Body"].read() == body
    assert got["ContentLength"] == len(body) and got["ContentType"].startswith("text/csv")
    assert got["ETag"] == put["ETag"]
    head = s3.head_object(Bucket=bucket, Key="team/a.csv")
    assert head["ContentLength"] == len(body) and head["ETag"] == put["ETag"]
    assert s3.delete_object(Bucket=bucket, Key="team/a.csv")["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=bucket, Key="team/a.csv")
    assert code_of(caught.value) == "NoSuchKey"
    assert s3.delete_object(Bucket=bucket, Key="team/a.csv")["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_the_s3_connection_writes_reach_the_backend(s3_front: S3Front, org: Org, seaweedfs: SeaweedFS) -> None:
    s3_front.client(org.token).put_object(Bucket=org.bucket, Key="deep/down/k.bin", Body=b"123")
    assert "deep/down/k.bin" in seaweedfs.keys_in(org.backend_bucket)


def test_ranges(s3_front: S3Front, org: Org, bucket: str) -> None:
    s3 = s3_front.client(org.token)
    s3.put_object(Bucket=bucket, Key="r/digits", Body=b"0123456789")
    part = s3.get_object(Bucket=bucket, Key="r/digits", Range="bytes=2-5")
    assert part["Body"].read() == b"2345" and part["ContentRange"] == "bytes 2-5/10"
    assert part["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert s3.get_object(Bucket=bucket, Key="r/digits", Range="bytes=-3")["Body"].read() == b"789"
    assert s3.get_object(Bucket=bucket, Key="r/digits", Range="bytes=7-")["Body"].read() == b"789"
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=bucket, Key="r/digits", Range="bytes=50-60")
    assert code_of(caught.value) == "InvalidRange"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 416


def test_conditional_reads(s3_front: S3Front, org: Org, bucket: str) -> None:
    s3 = s3_front.client(org.token)
    etag = s3.put_object(Bucket=bucket, Key="c/file", Body=b"conditional")["ETag"]
    assert s3.get_object(Bucket=bucket, Key="c/file", IfMatch=etag)["Body"].read() == b"conditional"
    with pytest.raises(ClientError) as failed:
        s3.get_object(Bucket=bucket, Key="c/file", IfMatch='"0000"')
    assert code_of(failed.value) == "PreconditionFailed"
    with pytest.raises(ClientError) as unchanged:
        s3.get_object(Bucket=bucket, Key="c/file", IfNoneMatch=etag)
    assert unchanged.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    future = datetime.now(UTC) + timedelta(days=1)
    past = datetime.now(UTC) - timedelta(days=1)
    with pytest.raises(ClientError) as not_modified:
        s3.get_object(Bucket=bucket, Key="c/file", IfModifiedSince=future)
    assert not_modified.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    assert s3.get_object(Bucket=bucket, Key="c/file", IfModifiedSince=past)["Body"].read() == b"conditional"
    with pytest.raises(ClientError) as modified:
        s3.get_object(Bucket=bucket, Key="c/file", IfUnmodifiedSince=past)
    assert code_of(modified.value) == "PreconditionFailed"
    with pytest.raises(ClientError) as head:
        s3.head_object(Bucket=bucket, Key="c/file", IfNoneMatch=etag)
    assert head.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304


def test_response_overrides(s3_front: S3Front, org: Org) -> None:
    s3 = s3_front.client(org.token)
    s3.put_object(Bucket=org.bucket, Key="o/x.bin", Body=b"abc")
    got = s3.get_object(
        Bucket=org.bucket,
        Key="o/x.bin",
        ResponseContentType="text/plain",
        ResponseContentDisposition='attachment; filename="y.txt"',
        ResponseCacheControl="no-store",
    )
    assert got["ContentType"] == "text/plain" and got["CacheControl"] == "no-store"
    assert got["ContentDisposition"] == 'attachment; filename="y.txt"'


def test_a_large_object_streams_both_ways(s3_front: S3Front, org: Org, bucket: str) -> None:
    s3 = s3_front.client(org.token)
    body = bytes(range(256)) * (12 * 4096)  # 12 MiB
    s3.put_object(Bucket=bucket, Key="big/blob", Body=body)
    got = s3.get_object(Bucket=bucket, Key="big/blob")["Body"]
    digest = hashlib.sha256()
    for chunk in got.iter_chunks(1 << 20):
        digest.update(chunk)
    assert digest.hexdigest() == hashlib.sha256(body).hexdigest()


def test_missing_keys_and_folders_are_no_such_key(s3_front: S3Front, org: Org, bucket: str) -> None:
    s3 = s3_front.client(org.token)
    s3.put_object(Bucket=bucket, Key="f/inside", Body=b"1")
    for key in ("f/nothing", "f"):
        with pytest.raises(ClientError) as caught:
            s3.get_object(Bucket=bucket, Key=key)
        assert code_of(caught.value) == "NoSuchKey", key
    with pytest.raises(ClientError) as head:
        s3.head_object(Bucket=bucket, Key="f/nothing")
    assert head.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_a_key_that_could_escape_is_invalid_argument(s3_front: S3Front, org: Org) -> None:
    import httpx

    for path in (f"/{org.bucket}/a/%2E%2E/b", f"/{org.bucket}/a//b", f"/{org.bucket}/a%2Fb"):
        # signed as S3 reads a path (each segment decoded, then encoded: %2E is "."), sent as written
        as_signed = s3_front.url + path.replace("%2E", ".")
        response = httpx.get(s3_front.url + path, headers=s3_front.signed(org.token, "GET", as_signed))
        assert response.status_code == 400, (path, response.text)
        assert b"<Code>InvalidArgument</Code>" in response.content


def test_a_wrong_content_md5_writes_nothing(s3_front: S3Front, org: Org, seaweedfs: SeaweedFS) -> None:
    s3 = s3_front.client(org.token)
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=org.bucket, Key="md5/bad", Body=b"payload", ContentMD5="1B2M2Y8AsgTpgAmY7PhCfg==")
    assert code_of(caught.value) == "BadDigest"
    assert "md5/bad" not in seaweedfs.keys_in(org.backend_bucket)


def test_a_put_cut_short_leaves_no_partial_object(s3_front: S3Front, org: Org, seaweedfs: SeaweedFS) -> None:
    host, port = s3_front.url.removeprefix("http://").split(":")
    head = (
        f"PUT /{org.bucket}/cut/short HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: {64 << 20}\r\n"
        + "".join(
            f"{k}: {v}\r\n"
            for k, v in s3_front.signed(org.token, "PUT", f"{s3_front.url}/{org.bucket}/cut/short").items()
        )
        + "\r\n"
    )
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(head.encode())
        for _ in range(8):
            sock.sendall(b"z" * (1 << 20))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        time.sleep(0.5)
        assert "cut/short" not in seaweedfs.keys_in(org.backend_bucket)
        if not seaweedfs.pending_uploads(org.backend_bucket):
            break
    assert seaweedfs.pending_uploads(org.backend_bucket) == []
    with pytest.raises(ClientError):
        s3_front.client(org.token).head_object(Bucket=org.bucket, Key="cut/short")

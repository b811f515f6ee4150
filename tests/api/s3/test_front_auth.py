"""Access keys at the S3 front door: narrowing holds, bad keys and signatures are refused, and no refused
request reaches the backend.

The S3 connection's endpoint is a counting forwarder in front of SeaweedFS, so every request the hub
makes to the backend is seen; a refusal must leave it with nothing to count, and the backend's
objects unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import obstore as obs
import pytest
from botocore.exceptions import ClientError

from tests.fixtures.counting_forwarder import CountingForwarder, counted_seaweedfs  # noqa: F401 - a fixture
from tests.fixtures.s3_clients import S3Account, boto3_client
from tests.fixtures.s3_front import S3Front, s3_connection
from tests.fixtures.seaweedfs import SeaweedFS

INSIDE = b"team data\n"
OUTSIDE = b"not for the team\n"


@dataclass
class Counted:
    """An organization whose S3 connection (bucket `bucket`) reaches SeaweedFS only through `backend`."""

    front: S3Front
    token: str
    label: str
    bucket: str
    backend_bucket: str
    backend: CountingForwarder
    seaweedfs: SeaweedFS

    def key(self, **narrowing: Any) -> S3Account:
        return self.front.key(self.token, **narrowing)

    def objects(self) -> dict[str, bytes]:
        """The backend bucket's objects, read behind the hub's back."""
        store = self.seaweedfs.store(self.backend_bucket)
        return {k: bytes(obs.get(store, k).bytes()) for k in self.seaweedfs.keys_in(self.backend_bucket)}


@pytest.fixture
def counted(s3_front: S3Front, seaweedfs: SeaweedFS, counted_seaweedfs: CountingForwarder) -> Iterator[Counted]:
    token = s3_front.running.token()
    backend = seaweedfs.create_bucket()
    store = seaweedfs.store(backend)
    obs.put(store, "team/a.txt", INSIDE)
    obs.put(store, "other/b.txt", OUTSIDE)
    with s3_front.running.client(token) as api:
        label = s3_connection(api, seaweedfs, bucket=backend, endpoint=counted_seaweedfs.url)
    counted_seaweedfs.take()
    yield Counted(s3_front, token, label, f"{label}.s3", backend, counted_seaweedfs, seaweedfs)


def refused(call: Callable[[], object]) -> str:
    """The S3 error code of a call that must fail."""
    with pytest.raises(ClientError) as caught:
        call()
    return str(caught.value.response["Error"]["Code"])


def untouched(counted: Counted, before: dict[str, bytes]) -> None:
    """Nothing reached the backend since the last look, and its objects are as they were."""
    assert counted.backend.take() == []
    assert counted.objects() == before


def test_a_prefix_narrowed_key_lists_only_its_prefix_and_is_denied_outside_it(counted: Counted) -> None:
    s3 = boto3_client(counted.key(pathPrefix=f"s3+{counted.label}://team/"))
    listed = s3.list_objects_v2(Bucket=counted.bucket)
    assert [o["Key"] for o in listed.get("Contents", [])] == ["team/a.txt"]
    folders = s3.list_objects_v2(Bucket=counted.bucket, Delimiter="/")
    assert [p["Prefix"] for p in folders.get("CommonPrefixes", [])] == ["team/"]
    assert s3.get_object(Bucket=counted.bucket, Key="team/a.txt")["Body"].read() == INSIDE
    s3.put_object(Bucket=counted.bucket, Key="team/new.txt", Body=b"new")
    counted.backend.take()
    before = counted.objects()

    assert refused(lambda: s3.get_object(Bucket=counted.bucket, Key="other/b.txt")) == "AccessDenied"
    assert refused(lambda: s3.head_object(Bucket=counted.bucket, Key="other/b.txt")) in ("AccessDenied", "403")
    assert refused(lambda: s3.put_object(Bucket=counted.bucket, Key="other/c.txt", Body=b"x")) == "AccessDenied"
    assert refused(lambda: s3.delete_object(Bucket=counted.bucket, Key="other/b.txt")) == "AccessDenied"
    assert refused(lambda: s3.list_objects_v2(Bucket=counted.bucket, Prefix="other/")) == "AccessDenied"
    assert (
        refused(
            lambda: s3.copy_object(
                Bucket=counted.bucket, Key="team/copy.txt", CopySource={"Bucket": counted.bucket, "Key": "other/b.txt"}
            )
        )
        == "AccessDenied"
    )
    assert (
        refused(
            lambda: s3.copy_object(
                Bucket=counted.bucket, Key="other/copy.txt", CopySource={"Bucket": counted.bucket, "Key": "team/a.txt"}
            )
        )
        == "AccessDenied"
    )
    untouched(counted, before)


def test_a_read_only_key_is_denied_every_write(counted: Counted, tmp_path: Any) -> None:
    s3 = boto3_client(counted.key(readOnly=True))
    assert s3.get_object(Bucket=counted.bucket, Key="team/a.txt")["Body"].read() == INSIDE
    counted.backend.take()
    before = counted.objects()
    bucket = counted.bucket
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * (6 * 1024 * 1024))
    writes: dict[str, Callable[[], object]] = {
        "PutObject": lambda: s3.put_object(Bucket=bucket, Key="team/new.txt", Body=b"x"),
        "DeleteObject": lambda: s3.delete_object(Bucket=bucket, Key="team/a.txt"),
        "DeleteObjects": lambda: s3.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": "team/a.txt"}, {"Key": "other/b.txt"}]}
        ),
        "CopyObject": lambda: s3.copy_object(
            Bucket=bucket, Key="team/copy.txt", CopySource={"Bucket": bucket, "Key": "team/a.txt"}
        ),
        "CreateMultipartUpload": lambda: s3.create_multipart_upload(Bucket=bucket, Key="team/big.bin"),
        "upload_file": lambda: s3.upload_file(str(big), bucket, "team/big.bin"),
    }
    for name, write in writes.items():
        if name == "DeleteObjects":  # S3 answers 200 with a per-key error for each refused key
            answer = write()
            assert isinstance(answer, dict)
            assert not answer.get("Deleted")
            assert {e["Code"] for e in answer["Errors"]} == {"AccessDenied"}, name
        elif name == "upload_file":
            from boto3.exceptions import S3UploadFailedError

            with pytest.raises(S3UploadFailedError, match="AccessDenied"):
                write()
        else:
            assert refused(write) == "AccessDenied", name
        untouched(counted, before)


def test_a_revoked_key_is_an_unknown_key_at_once(counted: Counted) -> None:
    account = counted.key()
    s3 = boto3_client(account)
    assert s3.get_object(Bucket=counted.bucket, Key="team/a.txt")["Body"].read() == INSIDE  # cached from here on
    with counted.front.running.client(counted.token) as api:
        assert api.delete(f"/v1/access-keys/{account.key_id}").status_code == 204
    counted.backend.take()
    assert refused(lambda: s3.get_object(Bucket=counted.bucket, Key="team/a.txt")) == "InvalidAccessKeyId"
    assert refused(lambda: s3.list_objects_v2(Bucket=counted.bucket)) == "InvalidAccessKeyId"
    assert counted.backend.take() == []


def test_an_expired_key_gets_expired_token(counted: Counted) -> None:
    issued = time.monotonic()
    s3 = boto3_client(counted.key(expiresIn="6s"))  # long enough for the first read on a loaded machine
    assert s3.get_object(Bucket=counted.bucket, Key="team/a.txt")["Body"].read() == INSIDE  # cached from here on
    time.sleep(max(0.0, issued + 6.5 - time.monotonic()))
    counted.backend.take()
    assert refused(lambda: s3.get_object(Bucket=counted.bucket, Key="team/a.txt")) == "ExpiredToken"
    assert counted.backend.take() == []


def test_a_wrong_secret_or_an_unknown_key_is_refused(counted: Counted) -> None:
    account = counted.key()
    before = counted.objects()
    wrong = boto3_client(S3Account(account.endpoint, account.key_id, account.secret[:-1] + "x"))
    assert refused(lambda: wrong.get_object(Bucket=counted.bucket, Key="team/a.txt")) == "SignatureDoesNotMatch"
    assert refused(lambda: wrong.put_object(Bucket=counted.bucket, Key="team/a.txt", Body=b"x")) == (
        "SignatureDoesNotMatch"
    )
    stranger = boto3_client(S3Account(account.endpoint, "HW" + "A" * 18, account.secret))
    assert refused(lambda: stranger.get_object(Bucket=counted.bucket, Key="team/a.txt")) == "InvalidAccessKeyId"
    untouched(counted, before)


def test_an_anonymous_request_is_denied(counted: Counted) -> None:
    answer = httpx.get(f"{counted.front.url}/{counted.bucket}/team/a.txt")
    assert answer.status_code == 403
    assert "<Code>AccessDenied</Code>" in answer.text
    assert counted.backend.take() == []


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


def test_a_presigned_get_works_with_plain_http_and_fails_once_tampered(counted: Counted) -> None:
    account = counted.key()
    s3 = boto3_client(account, signature_version="s3v4")  # boto3 presigns with SigV2 unless told
    url = s3.generate_presigned_url("get_object", Params={"Bucket": counted.bucket, "Key": "team/a.txt"}, ExpiresIn=300)
    got = httpx.get(url)
    assert got.status_code == 200, got.text
    assert got.content == INSIDE
    counted.backend.take()

    tampered = {
        "another key": url.replace("team/a.txt", "other/b.txt"),
        "a longer life": _with_query(url, **{"X-Amz-Expires": "3600"}),
        "another signature": _with_query(url, **{"X-Amz-Signature": "0" * 64}),
        "a response override": _with_query(url, **{"response-content-type": "text/html"}),
    }
    for what, bad in tampered.items():
        answer = httpx.get(bad)
        assert answer.status_code == 403, what
        assert "<Code>SignatureDoesNotMatch</Code>" in answer.text, what
    expired = s3.generate_presigned_url(
        "get_object", Params={"Bucket": counted.bucket, "Key": "team/a.txt"}, ExpiresIn=1
    )
    time.sleep(1.5)
    answer = httpx.get(expired)
    assert answer.status_code == 403
    assert "<Code>AccessDenied</Code>" in answer.text
    assert counted.backend.take() == []


def test_a_sigv2_presigned_url_is_refused_naming_sigv4(counted: Counted) -> None:
    s3 = boto3_client(counted.key())
    url = s3.generate_presigned_url("get_object", Params={"Bucket": counted.bucket, "Key": "team/a.txt"})
    assert "AWSAccessKeyId=" in url  # boto3's default for a presigned URL at a custom endpoint
    answer = httpx.get(url)
    assert answer.status_code == 400
    assert "<Code>InvalidRequest</Code>" in answer.text
    assert "AWS4-HMAC-SHA256" in answer.text
    assert counted.backend.take() == []

"""Multipart uploads: boto3's upload_file and download_file, listing, aborting and bad completions; into an S3
connection, passed straight through to a multipart upload on the backend (SeaweedFS, looked at directly)."""

from __future__ import annotations

import base64
import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from headwater.api.s3 import uploads
from headwater.services import multipart
from tests.api.s3.test_buckets import code_of
from tests.fixtures.loops import run_coroutine
from tests.fixtures.s3_clients import S3Account, boto3_client
from tests.fixtures.s3_front import Org, S3Front, s3_connection
from tests.fixtures.seaweedfs import SeaweedFS

MiB = 1024 * 1024
PARTS = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, max_concurrency=4)


def direct(seaweedfs: SeaweedFS) -> Any:
    """boto3 on SeaweedFS itself, with the writer's keys: to look behind the hub's back."""
    return boto3_client(S3Account(seaweedfs.endpoint, seaweedfs.rw.access_key, seaweedfs.rw.secret_key))


def backend_uploads(seaweedfs: SeaweedFS, bucket: str) -> list[dict[str, Any]]:
    """The multipart uploads in progress on the backend bucket, as SeaweedFS lists them."""
    return list(direct(seaweedfs).list_multipart_uploads(Bucket=bucket).get("Uploads", []))


def staged_files(s3_front: S3Front, upload: str | None = None) -> list[str]:
    """What the hub keeps in its storage for multipart uploads (of `upload`, or of all)."""
    return [s.key for s in s3_front.running.hub.storage.walk(multipart.ROOT) if upload is None or upload in s.key]


def digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(MiB), b""):
            h.update(block)
    return h.hexdigest()


@pytest.mark.parametrize("hosted", [False, True])
def test_upload_file_in_5_mib_parts_and_download_file(
    s3_front: S3Front, org: Org, tmp_path: Path, hosted: bool
) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(21 * MiB + 123))
    bucket = "data" if hosted else org.bucket
    s3 = s3_front.client(org.token)
    s3.upload_file(str(source), bucket, "up/big.bin", Config=PARTS)
    head = s3.head_object(Bucket=bucket, Key="up/big.bin")
    assert head["ContentLength"] == source.stat().st_size
    back = tmp_path / "back.bin"
    s3.download_file(bucket, "up/big.bin", str(back), Config=PARTS)
    assert digest(back) == digest(source)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_parts_are_listed_and_the_final_etag_is_md5_of_md5s(s3_front: S3Front, org: Org) -> None:
    s3 = s3_front.client(org.token)
    upload = s3.create_multipart_upload(Bucket=org.bucket, Key="mp/x")["UploadId"]
    first, second = b"a" * (5 * MiB), b"tail"
    e1 = s3.upload_part(Bucket=org.bucket, Key="mp/x", UploadId=upload, PartNumber=1, Body=first)["ETag"]
    e2 = s3.upload_part(Bucket=org.bucket, Key="mp/x", UploadId=upload, PartNumber=2, Body=second)["ETag"]
    assert e1 == f'"{hashlib.md5(first).hexdigest()}"'
    listed = s3.list_parts(Bucket=org.bucket, Key="mp/x", UploadId=upload)
    assert [(p["PartNumber"], p["Size"]) for p in listed["Parts"]] == [(1, 5 * MiB), (2, 4)]
    uploads = s3.list_multipart_uploads(Bucket=org.bucket)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in uploads] == [("mp/x", upload)]
    done = s3.complete_multipart_upload(
        Bucket=org.bucket,
        Key="mp/x",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]},
    )
    expected = hashlib.md5(hashlib.md5(first).digest() + hashlib.md5(second).digest()).hexdigest()
    assert done["ETag"] == f'"{expected}-2"'
    assert s3.get_object(Bucket=org.bucket, Key="mp/x")["Body"].read() == first + second
    with pytest.raises(ClientError) as gone:
        s3.list_parts(Bucket=org.bucket, Key="mp/x", UploadId=upload)
    assert code_of(gone.value) == "NoSuchUpload"


def test_an_aborted_upload_leaves_nothing(s3_front: S3Front, org: Org, seaweedfs: SeaweedFS) -> None:
    s3 = s3_front.client(org.token)
    upload = s3.create_multipart_upload(Bucket=org.bucket, Key="ab/x")["UploadId"]
    s3.upload_part(Bucket=org.bucket, Key="ab/x", UploadId=upload, PartNumber=1, Body=b"b" * MiB)
    assert [u["Key"] for u in backend_uploads(seaweedfs, org.backend_bucket)] == ["ab/x"]
    s3.abort_multipart_upload(Bucket=org.bucket, Key="ab/x", UploadId=upload)
    assert s3.list_multipart_uploads(Bucket=org.bucket).get("Uploads", []) == []
    assert backend_uploads(seaweedfs, org.backend_bucket) == []
    assert "ab/x" not in seaweedfs.keys_in(org.backend_bucket)
    hub = s3_front.running.hub
    assert [s for s in hub.storage.walk("multipart") if upload in s.key] == []
    with pytest.raises(ClientError) as caught:
        s3.upload_part(Bucket=org.bucket, Key="ab/x", UploadId=upload, PartNumber=2, Body=b"late")
    assert code_of(caught.value) == "NoSuchUpload"


def test_bad_completions_are_refused_and_write_nothing(s3_front: S3Front, org: Org, seaweedfs: SeaweedFS) -> None:
    s3 = s3_front.client(org.token)
    upload = s3.create_multipart_upload(Bucket=org.bucket, Key="bad/x")["UploadId"]
    e1 = s3.upload_part(Bucket=org.bucket, Key="bad/x", UploadId=upload, PartNumber=1, Body=b"small")["ETag"]
    e2 = s3.upload_part(Bucket=org.bucket, Key="bad/x", UploadId=upload, PartNumber=2, Body=b"small")["ETag"]
    cases = {
        "InvalidPart": [{"PartNumber": 1, "ETag": '"0123"'}],
        "InvalidPartOrder": [{"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}],
        "EntityTooSmall": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}],
    }
    for code, parts in cases.items():
        with pytest.raises(ClientError) as caught:
            s3.complete_multipart_upload(
                Bucket=org.bucket, Key="bad/x", UploadId=upload, MultipartUpload={"Parts": parts}
            )
        assert code_of(caught.value) == code
    assert "bad/x" not in seaweedfs.keys_in(org.backend_bucket)
    with pytest.raises(ClientError) as unknown:
        s3.complete_multipart_upload(
            Bucket=org.bucket,
            Key="bad/x",
            UploadId="feedface",
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}]},
        )
    assert code_of(unknown.value) == "NoSuchUpload"
    s3.abort_multipart_upload(Bucket=org.bucket, Key="bad/x", UploadId=upload)


def _two_parts(s3: Any, bucket: str, key: str) -> tuple[str, list[dict[str, Any]], bytes]:
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    first, second = os.urandom(5 * MiB), os.urandom(3 * MiB)
    e1 = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=first)["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=2, Body=second)["ETag"]
    return upload, [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}], first + second


def test_a_long_completion_answers_at_once_and_keeps_the_client_waiting_with_spaces(
    s3_front: S3Front, org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(uploads, "KEEPALIVE_SECONDS", 0.001)
    s3 = s3_front.client(org.token)
    upload, parts, body = _two_parts(s3, org.bucket, "slow/x")
    raw: list[bytes] = []
    s3.meta.events.register(
        "after-call.s3.CompleteMultipartUpload", lambda http_response, **_: raw.append(http_response.content)
    )
    done = s3.complete_multipart_upload(
        Bucket=org.bucket, Key="slow/x", UploadId=upload, MultipartUpload={"Parts": parts}
    )
    assert done["ETag"].endswith('-2"')
    head, _, rest = raw[0].partition(b"?>\n")
    assert head.startswith(b"<?xml") and rest.startswith(b" ") and b"<CompleteMultipartUploadResult" in rest
    assert s3.get_object(Bucket=org.bucket, Key="slow/x")["Body"].read() == body


@pytest.mark.parametrize("hosted", [False, True])
def test_a_completion_failing_after_its_200_is_an_error_to_the_client_and_writes_nothing(
    s3_front: S3Front, org: Org, seaweedfs: SeaweedFS, monkeypatch: pytest.MonkeyPatch, hosted: bool
) -> None:
    s3 = s3_front.client(org.token)
    bucket = "data" if hosted else org.bucket
    upload, parts, _ = _two_parts(s3, bucket, "lost/x")
    hub = s3_front.running.hub
    real = multipart.complete

    async def part_lost_meanwhile(*args: Any) -> Any:
        # between the check of the parts and their joining, the staged parts vanish (hosted data), or the
        # upload on the backend is aborted behind the hub's back (an S3 connection)
        if hosted:
            hub.storage.delete(
                [s.key for s in hub.storage.walk("multipart") if upload in s.key and s.key.endswith(".part")]
            )
        else:
            for pending in backend_uploads(seaweedfs, org.backend_bucket):
                direct(seaweedfs).abort_multipart_upload(
                    Bucket=org.backend_bucket, Key=pending["Key"], UploadId=pending["UploadId"]
                )
        return await real(*args)

    monkeypatch.setattr(multipart, "complete", part_lost_meanwhile)
    with pytest.raises(ClientError):
        s3.complete_multipart_upload(Bucket=bucket, Key="lost/x", UploadId=upload, MultipartUpload={"Parts": parts})
    if hosted:
        assert s3.list_objects_v2(Bucket="data", Prefix="lost/").get("KeyCount") == 0
    else:
        assert "lost/x" not in seaweedfs.keys_in(org.backend_bucket)


def test_upload_file_into_an_s3_connection_goes_straight_to_the_backend(
    s3_front: S3Front, org: Org, seaweedfs: SeaweedFS, tmp_path: Path
) -> None:
    """Nothing of the parts is staged in the hub, and the completion's ETag is the one HeadObject shows."""
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(21 * MiB + 123))
    s3 = s3_front.client(org.token)
    seen: dict[str, Any] = {}

    def begun(parsed: dict[str, Any], **_: Any) -> None:
        seen["upload"] = parsed["UploadId"]

    def before_completing(**_: Any) -> None:
        seen["hub"] = staged_files(s3_front, seen["upload"])
        seen["backend"] = backend_uploads(seaweedfs, org.backend_bucket)

    def completed(parsed: dict[str, Any], **_: Any) -> None:
        seen["etag"] = parsed.get("ETag")

    s3.meta.events.register("after-call.s3.CreateMultipartUpload", begun)
    s3.meta.events.register("before-call.s3.CompleteMultipartUpload", before_completing)
    s3.meta.events.register("after-call.s3.CompleteMultipartUpload", completed)
    s3.upload_file(str(source), org.bucket, "up/big.bin", Config=PARTS)
    assert [name.rsplit("/", 1)[-1] for name in seen["hub"]] == ["meta.json"]
    assert [u["Key"] for u in seen["backend"]] == ["up/big.bin"]
    assert seen["backend"][0]["UploadId"] != seen["upload"]  # the backend's id is never the client's
    head = s3.head_object(Bucket=org.bucket, Key="up/big.bin")
    assert head["ETag"] == seen["etag"]
    assert head["ETag"].endswith('-5"')  # the client's five parts are the object's parts
    assert direct(seaweedfs).head_object(Bucket=org.backend_bucket, Key="up/big.bin")["ETag"] == seen["etag"]
    back = tmp_path / "back.bin"
    s3.download_file(org.bucket, "up/big.bin", str(back), Config=PARTS)
    assert digest(back) == digest(source)
    assert backend_uploads(seaweedfs, org.backend_bucket) == []
    assert staged_files(s3_front, seen["upload"]) == []


def test_a_part_whose_body_fails_its_digest_never_lands_on_the_backend(
    s3_front: S3Front, org: Org, seaweedfs: SeaweedFS
) -> None:
    s3 = s3_front.client(org.token)
    upload = s3.create_multipart_upload(Bucket=org.bucket, Key="md5/x")["UploadId"]
    wrong = base64.b64encode(hashlib.md5(b"something else").digest()).decode()
    with pytest.raises(ClientError) as caught:
        s3.upload_part(Bucket=org.bucket, Key="md5/x", UploadId=upload, PartNumber=1, Body=b"m" * MiB, ContentMD5=wrong)
    assert code_of(caught.value) == "BadDigest"
    assert s3.list_parts(Bucket=org.bucket, Key="md5/x", UploadId=upload).get("Parts", []) == []
    (pending,) = backend_uploads(seaweedfs, org.backend_bucket)
    on_backend = direct(seaweedfs).list_parts(Bucket=org.backend_bucket, Key="md5/x", UploadId=pending["UploadId"])
    assert on_backend.get("Parts", []) == []
    s3.abort_multipart_upload(Bucket=org.bucket, Key="md5/x", UploadId=upload)


def test_a_read_only_key_can_neither_begin_an_upload_nor_add_to_one(
    s3_front: S3Front, org: Org, seaweedfs: SeaweedFS
) -> None:
    s3 = s3_front.client(org.token)
    reader = s3_front.client(s3_front.running.token(org=org.name, user="reader", admin=False, read_only=True))
    with pytest.raises(ClientError) as begun:
        reader.create_multipart_upload(Bucket=org.bucket, Key="ro/x")
    assert code_of(begun.value) == "AccessDenied"
    upload = s3.create_multipart_upload(Bucket=org.bucket, Key="ro/x")["UploadId"]
    for attempt in (
        lambda: reader.upload_part(Bucket=org.bucket, Key="ro/x", UploadId=upload, PartNumber=1, Body=b"r"),
        lambda: reader.abort_multipart_upload(Bucket=org.bucket, Key="ro/x", UploadId=upload),
    ):
        with pytest.raises(ClientError) as refused:
            attempt()
        assert code_of(refused.value) == "AccessDenied"
    assert [u["Key"] for u in backend_uploads(seaweedfs, org.backend_bucket)] == ["ro/x"]
    assert s3.list_parts(Bucket=org.bucket, Key="ro/x", UploadId=upload).get("Parts", []) == []
    s3.abort_multipart_upload(Bucket=org.bucket, Key="ro/x", UploadId=upload)


def test_a_part_copy_lands_as_a_part_on_the_backend(s3_front: S3Front, org: Org, seaweedfs: SeaweedFS) -> None:
    s3 = s3_front.client(org.token)
    first = os.urandom(5 * MiB)
    s3.put_object(Bucket=org.bucket, Key="cp/source", Body=first + b"tail")
    upload = s3.create_multipart_upload(Bucket=org.bucket, Key="cp/x")["UploadId"]
    copied = s3.upload_part_copy(
        Bucket=org.bucket,
        Key="cp/x",
        UploadId=upload,
        PartNumber=1,
        CopySource={"Bucket": org.bucket, "Key": "cp/source"},
        CopySourceRange=f"bytes=0-{5 * MiB - 1}",
    )["CopyPartResult"]["ETag"]
    last = s3.upload_part(Bucket=org.bucket, Key="cp/x", UploadId=upload, PartNumber=2, Body=b"end")["ETag"]
    assert copied == f'"{hashlib.md5(first).hexdigest()}"'
    (pending,) = backend_uploads(seaweedfs, org.backend_bucket)
    on_backend = direct(seaweedfs).list_parts(Bucket=org.backend_bucket, Key="cp/x", UploadId=pending["UploadId"])
    assert [(p["PartNumber"], p["Size"]) for p in on_backend["Parts"]] == [(1, 5 * MiB), (2, 3)]
    s3.complete_multipart_upload(
        Bucket=org.bucket,
        Key="cp/x",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": copied}, {"PartNumber": 2, "ETag": last}]},
    )
    assert s3.get_object(Bucket=org.bucket, Key="cp/x")["Body"].read() == first + b"end"


@pytest.mark.parametrize("where", ["prefix", "bucket-less"])
def test_a_passed_through_upload_lands_where_a_put_of_the_same_key_would(
    s3_front: S3Front, org: Org, seaweedfs: SeaweedFS, where: str
) -> None:
    """The connection's prefix, or (without a bucket) the key's first segment, places the object as `write` does."""
    if where == "prefix":
        label = s3_connection(org.api, seaweedfs, bucket=org.backend_bucket, prefix="under/here")
        key, landed = "a/b.bin", "under/here/a/b.bin"
    else:
        label = s3_connection(org.api, seaweedfs, bucket=None)
        key, landed = f"{org.backend_bucket}/a/b.bin", "a/b.bin"
    s3 = s3_front.client(org.token)
    bucket = f"{label}.s3"
    s3.put_object(Bucket=bucket, Key=key + ".put", Body=b"put")
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    assert [u["Key"] for u in backend_uploads(seaweedfs, org.backend_bucket)] == [landed]
    etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=b"whole")["ETag"]
    s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]}
    )
    assert sorted(seaweedfs.keys_in(org.backend_bucket)) == [landed, landed + ".put"]
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"whole"


def test_the_retention_duty_aborts_an_abandoned_upload_on_the_backend(
    s3_front: S3Front, org: Org, seaweedfs: SeaweedFS
) -> None:
    s3 = s3_front.client(org.token)
    upload = s3.create_multipart_upload(Bucket=org.bucket, Key="old/x")["UploadId"]
    s3.upload_part(Bucket=org.bucket, Key="old/x", UploadId=upload, PartNumber=1, Body=b"o" * MiB)
    hub = s3_front.running.hub
    later = datetime.now(UTC) + multipart.UPLOAD_TTL
    assert run_coroutine(multipart.purge_abandoned(hub.storage, datetime.now(UTC), multipart.backend_aborter(hub))) == 0
    assert [u["Key"] for u in backend_uploads(seaweedfs, org.backend_bucket)] == ["old/x"]
    assert run_coroutine(multipart.purge_abandoned(hub.storage, later, multipart.backend_aborter(hub))) >= 1
    assert backend_uploads(seaweedfs, org.backend_bucket) == []
    assert staged_files(s3_front, upload) == []


def test_neither_the_backend_secret_nor_its_upload_id_reaches_a_client_or_a_log(
    s3_front: S3Front, org: Org, seaweedfs: SeaweedFS
) -> None:
    s3 = s3_front.client(org.token)
    answers: list[bytes] = []
    s3.meta.events.register(
        "after-call.s3.*",
        lambda http_response, **_: answers.append(http_response.content + str(http_response.headers).encode()),
    )
    upload = s3.create_multipart_upload(Bucket=org.bucket, Key="sec/x")["UploadId"]
    etag = s3.upload_part(Bucket=org.bucket, Key="sec/x", UploadId=upload, PartNumber=1, Body=b"s" * MiB)["ETag"]
    s3.list_parts(Bucket=org.bucket, Key="sec/x", UploadId=upload)
    s3.list_multipart_uploads(Bucket=org.bucket)
    for parts in ([{"PartNumber": 1, "ETag": '"0123"'}], [{"PartNumber": 2, "ETag": etag}]):
        with pytest.raises(ClientError):
            s3.complete_multipart_upload(
                Bucket=org.bucket, Key="sec/x", UploadId=upload, MultipartUpload={"Parts": parts}
            )
    (pending,) = backend_uploads(seaweedfs, org.backend_bucket)
    s3.abort_multipart_upload(Bucket=org.bucket, Key="sec/x", UploadId=upload)
    with pytest.raises(ClientError):
        s3.upload_part(Bucket=org.bucket, Key="sec/x", UploadId=upload, PartNumber=1, Body=b"late")
    assert len(answers) >= 7  # each request's answer, failures too
    logs = "\n".join(s3_front.running.logs.lines)
    for seen in (*(a.decode("utf-8", "replace") for a in answers), logs):
        assert seaweedfs.rw.secret_key not in seen
        assert pending["UploadId"] not in seen


def test_a_part_of_unknown_length_is_refused_before_it_reaches_the_backend(
    s3_front: S3Front, org: Org, seaweedfs: SeaweedFS
) -> None:
    s3 = s3_front.client(org.token)
    upload = s3.create_multipart_upload(Bucket=org.bucket, Key="len/x")["UploadId"]
    url = f"{s3_front.url}/{org.bucket}/len/x?partNumber=1&uploadId={upload}"
    headers = s3_front.signed(org.token, "PUT", url, {"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})

    def chunked() -> Any:
        yield b"no length given"

    answer = httpx.put(url, headers=headers, content=chunked())
    assert answer.status_code == 411 and b"MissingContentLength" in answer.content
    (pending,) = backend_uploads(seaweedfs, org.backend_bucket)
    on_backend = direct(seaweedfs).list_parts(Bucket=org.backend_bucket, Key="len/x", UploadId=pending["UploadId"])
    assert on_backend.get("Parts", []) == []
    s3.abort_multipart_upload(Bucket=org.bucket, Key="len/x", UploadId=upload)

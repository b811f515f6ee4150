"""Multipart uploads: boto3's upload_file and download_file, listing, aborting and bad completions."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from headwater.api.s3 import uploads
from headwater.services import multipart
from tests.api.s3.test_buckets import code_of
from tests.fixtures.s3_front import Org, S3Front
from tests.fixtures.seaweedfs import SeaweedFS

MiB = 1024 * 1024
PARTS = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, max_concurrency=4)


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
    s3.abort_multipart_upload(Bucket=org.bucket, Key="ab/x", UploadId=upload)
    assert s3.list_multipart_uploads(Bucket=org.bucket).get("Uploads", []) == []
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


def test_a_completion_failing_after_its_200_is_an_error_to_the_client_and_writes_nothing(
    s3_front: S3Front, org: Org, seaweedfs: SeaweedFS, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3 = s3_front.client(org.token)
    upload, parts, _ = _two_parts(s3, org.bucket, "lost/x")
    hub = s3_front.running.hub
    real = multipart.complete

    async def part_lost_meanwhile(*args: Any) -> Any:
        # a staged part vanishes between the check of the parts and their write
        hub.storage.delete(
            [s.key for s in hub.storage.walk("multipart") if upload in s.key and s.key.endswith(".part")]
        )
        return await real(*args)

    monkeypatch.setattr(multipart, "complete", part_lost_meanwhile)
    with pytest.raises(ClientError):
        s3.complete_multipart_upload(Bucket=org.bucket, Key="lost/x", UploadId=upload, MultipartUpload={"Parts": parts})
    assert "lost/x" not in seaweedfs.keys_in(org.backend_bucket)

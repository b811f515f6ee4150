"""CopyObject within and across connections, UploadPartCopy, and DeleteObjects."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.api.s3.test_buckets import code_of
from tests.fixtures.s3_front import Org, S3Front, s3_connection
from tests.fixtures.seaweedfs import SeaweedFS


def test_copy_within_a_connection(s3_front: S3Front, org: Org) -> None:
    s3 = s3_front.client(org.token)
    s3.put_object(Bucket=org.bucket, Key="c/src", Body=b"copy me")
    result = s3.copy_object(Bucket=org.bucket, Key="c/dst", CopySource={"Bucket": org.bucket, "Key": "c/src"})
    assert result["CopyObjectResult"]["ETag"]
    assert s3.get_object(Bucket=org.bucket, Key="c/dst")["Body"].read() == b"copy me"
    assert s3.get_object(Bucket=org.bucket, Key="c/src")["Body"].read() == b"copy me"


def test_copy_across_connections_and_hosted_data(s3_front: S3Front, org: Org, seaweedfs: SeaweedFS) -> None:
    s3 = s3_front.client(org.token)
    other_backend = seaweedfs.create_bucket()
    bucketless = s3_connection(org.api, seaweedfs, bucket=None)
    s3.put_object(Bucket=org.bucket, Key="x/src.bin", Body=b"across" * 1000)
    s3.copy_object(Bucket="data", Key="coll/copied.bin", CopySource=f"{org.bucket}/x/src.bin")
    assert s3.get_object(Bucket="data", Key="coll/copied.bin")["Body"].read() == b"across" * 1000
    s3.copy_object(
        Bucket=f"{bucketless}.s3",
        Key=f"{other_backend}/from-hosted",
        CopySource={"Bucket": "data", "Key": "coll/copied.bin"},
    )
    assert seaweedfs.keys_in(other_backend) == ["from-hosted"]


def test_copy_of_a_missing_source_is_no_such_key(s3_front: S3Front, org: Org) -> None:
    s3 = s3_front.client(org.token)
    with pytest.raises(ClientError) as caught:
        s3.copy_object(Bucket=org.bucket, Key="c/dst2", CopySource={"Bucket": org.bucket, "Key": "c/none"})
    assert code_of(caught.value) == "NoSuchKey"


def test_upload_part_copy(s3_front: S3Front, org: Org) -> None:
    s3 = s3_front.client(org.token)
    s3.put_object(Bucket=org.bucket, Key="pc/src", Body=b"0123456789")
    upload = s3.create_multipart_upload(Bucket=org.bucket, Key="pc/dst")["UploadId"]
    part = s3.upload_part_copy(
        Bucket=org.bucket,
        Key="pc/dst",
        UploadId=upload,
        PartNumber=1,
        CopySource={"Bucket": org.bucket, "Key": "pc/src"},
        CopySourceRange="bytes=2-5",
    )
    etag = part["CopyPartResult"]["ETag"]
    s3.complete_multipart_upload(
        Bucket=org.bucket, Key="pc/dst", UploadId=upload, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]}
    )
    assert s3.get_object(Bucket=org.bucket, Key="pc/dst")["Body"].read() == b"2345"


def test_delete_objects_reports_each_key(s3_front: S3Front, org: Org, seaweedfs: SeaweedFS) -> None:
    s3 = s3_front.client(org.token)
    for key in ("del/a", "del/b", "del/c"):
        s3.put_object(Bucket=org.bucket, Key=key, Body=b"1")
    result = s3.delete_objects(
        Bucket=org.bucket,
        Delete={"Objects": [{"Key": "del/a"}, {"Key": "del/b"}, {"Key": "del/missing"}, {"Key": "del/../x"}]},
    )
    assert sorted(d["Key"] for d in result["Deleted"]) == ["del/a", "del/b", "del/missing"]
    assert [(e["Key"], e["Code"]) for e in result["Errors"]] == [("del/../x", "InvalidArgument")]
    assert [k for k in seaweedfs.keys_in(org.backend_bucket) if k.startswith("del/")] == ["del/c"]
    quiet = s3.delete_objects(Bucket=org.bucket, Delete={"Objects": [{"Key": "del/c"}], "Quiet": True})
    assert "Deleted" not in quiet and "Errors" not in quiet
    assert [k for k in seaweedfs.keys_in(org.backend_bucket) if k.startswith("del/")] == []


def test_malformed_delete_xml_is_a_client_error(s3_front: S3Front, org: Org) -> None:
    import httpx

    for body in (b"<Delete><Object>", b"<NotDelete/>", b'<!DOCTYPE x [<!ENTITY a "b">]><Delete/>'):
        url = f"{s3_front.url}/{org.bucket}?delete"
        response = httpx.post(url, content=body, headers=s3_front.signed(org.token, "POST", url))
        assert response.status_code == 400, response.text


def test_a_delete_whose_content_md5_does_not_match_is_bad_digest(s3_front: S3Front, org: Org) -> None:
    import httpx

    body = b"<Delete><Object><Key>x</Key></Object></Delete>"
    url = f"{s3_front.url}/{org.bucket}?delete"
    headers = s3_front.signed(org.token, "POST", url, {"Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg=="})
    response = httpx.post(url, content=body, headers=headers)
    assert response.status_code == 400 and b"<Code>BadDigest</Code>" in response.content

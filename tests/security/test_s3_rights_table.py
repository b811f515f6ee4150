"""Every kind of caller × every S3 operation of the front door answers as ONE rights table says.

Callers: an organization's admin, a member, a read-only token, a token narrowed to the connection
(sources), one narrowed to `team/` in it (prefix), another organization's admin, and an anonymous
request. The connection's bucket is `LABEL.s3` on SeaweedFS; `data` is the caller's hosted data (so
another organization's `data` is its own, where our keys do not exist). "ok" is success; otherwise
the S3 error code (HEAD answers carry no body: their code is the status).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.fixtures.s3_front import Org, S3Front, org, s3_front  # noqa: F401 - fixtures
from tests.security.s3_callers import CALLERS, Operation, clients, raise_first_error, row, wrong_answers


@dataclass
class World:
    org: Org
    bucket: str
    clients: dict[str, Any]
    #: A multipart upload to `team/shared`, begun by the admin (on the backend: an S3 connection's are passed through).
    upload: str = ""


def multipart_steps(s3: Any, world: World, who: str) -> None:
    key = f"team/mp-{who}"
    upload = s3.create_multipart_upload(Bucket=world.bucket, Key=key)["UploadId"]
    s3.upload_part(Bucket=world.bucket, Key=key, UploadId=upload, PartNumber=1, Body=b"p")
    s3.list_parts(Bucket=world.bucket, Key=key, UploadId=upload)
    s3.abort_multipart_upload(Bucket=world.bucket, Key=key, UploadId=upload)


def multipart_complete(s3: Any, world: World, who: str) -> None:
    key = f"team/mpc-{who}"
    upload = s3.create_multipart_upload(Bucket=world.bucket, Key=key)["UploadId"]
    etag = s3.upload_part(Bucket=world.bucket, Key=key, UploadId=upload, PartNumber=1, Body=b"p")["ETag"]
    s3.complete_multipart_upload(
        Bucket=world.bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]}
    )


def part_of_admins_upload(s3: Any, world: World, who: str) -> None:
    number = 1 + list(world.clients).index(who)
    s3.upload_part(Bucket=world.bucket, Key="team/shared", UploadId=world.upload, PartNumber=number, Body=b"p")


def multipart_hosted(s3: Any, world: World, who: str) -> None:
    key = f"coll/mp-{who}"
    upload = s3.create_multipart_upload(Bucket="data", Key=key)["UploadId"]
    etag = s3.upload_part(Bucket="data", Key=key, UploadId=upload, PartNumber=1, Body=b"p")["ETag"]
    s3.complete_multipart_upload(
        Bucket="data", Key=key, UploadId=upload, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]}
    )


def delete_objects(s3: Any, world: World, who: str) -> None:
    result = s3.delete_objects(Bucket=world.bucket, Delete={"Objects": [{"Key": f"team/dd-{who}"}]})
    raise_first_error(result, "DeleteObjects")


OPERATIONS: dict[str, Operation[World]] = {
    "ListBuckets": lambda s3, w, who: s3.list_buckets(),
    "HeadBucket": lambda s3, w, who: s3.head_bucket(Bucket=w.bucket),
    "GetBucketLocation": lambda s3, w, who: s3.get_bucket_location(Bucket=w.bucket),
    "ListObjectsV2": lambda s3, w, who: s3.list_objects_v2(Bucket=w.bucket),
    "ListObjects": lambda s3, w, who: s3.list_objects(Bucket=w.bucket),
    "ListMultipartUploads": lambda s3, w, who: s3.list_multipart_uploads(Bucket=w.bucket),
    "HeadObject": lambda s3, w, who: s3.head_object(Bucket=w.bucket, Key="team/r"),
    "GetObject": lambda s3, w, who: s3.get_object(Bucket=w.bucket, Key="team/r")["Body"].read(),
    "GetObject range": lambda s3, w, who: s3.get_object(Bucket=w.bucket, Key="team/r", Range="bytes=0-0"),
    "PutObject": lambda s3, w, who: s3.put_object(Bucket=w.bucket, Key=f"team/w-{who}", Body=b"w"),
    "CopyObject": lambda s3, w, who: s3.copy_object(
        Bucket=w.bucket, Key=f"team/c-{who}", CopySource={"Bucket": w.bucket, "Key": "team/r"}
    ),
    "DeleteObject": lambda s3, w, who: s3.delete_object(Bucket=w.bucket, Key=f"team/d-{who}"),
    "DeleteObjects": delete_objects,
    "Multipart create/part/list/abort": multipart_steps,
    "Multipart complete": multipart_complete,
    "UploadPart to the admin's upload": part_of_admins_upload,
    "ListParts of the admin's upload": lambda s3, w, who: s3.list_parts(
        Bucket=w.bucket, Key="team/shared", UploadId=w.upload
    ),
    "Multipart outside the prefix": lambda s3, w, who: s3.create_multipart_upload(
        Bucket=w.bucket, Key=f"other/mp-{who}"
    ),
    "Multipart hosted": multipart_hosted,
    "GetObject outside the prefix": lambda s3, w, who: s3.get_object(Bucket=w.bucket, Key="other/r"),
    "PutObject outside the prefix": lambda s3, w, who: s3.put_object(Bucket=w.bucket, Key=f"other/w-{who}", Body=b"w"),
    "CopyObject from outside the prefix": lambda s3, w, who: s3.copy_object(
        Bucket=w.bucket, Key=f"team/co-{who}", CopySource={"Bucket": w.bucket, "Key": "other/r"}
    ),
    "CopyObject to outside the prefix": lambda s3, w, who: s3.copy_object(
        Bucket=w.bucket, Key=f"other/ct-{who}", CopySource={"Bucket": w.bucket, "Key": "team/r"}
    ),
    "GetObject hosted": lambda s3, w, who: s3.get_object(Bucket="data", Key="coll/r"),
    "PutObject hosted": lambda s3, w, who: s3.put_object(Bucket="data", Key=f"coll/w-{who}", Body=b"w"),
    "ListObjectsV2 hosted": lambda s3, w, who: s3.list_objects_v2(Bucket="data"),
    "CopyObject hosted": lambda s3, w, who: s3.copy_object(
        Bucket="data", Key=f"coll/c-{who}", CopySource={"Bucket": "data", "Key": "coll/r"}
    ),
}


READ = row()
WRITE = row(read_only="AccessDenied")
HEAD = row(other_org="404", anonymous="403")
TABLE: dict[str, dict[str, str]] = {
    "ListBuckets": row(other_org="ok"),
    "HeadBucket": HEAD,
    "GetBucketLocation": READ,
    "ListObjectsV2": READ,
    "ListObjects": READ,
    "ListMultipartUploads": READ,
    "HeadObject": HEAD,
    "GetObject": READ,
    "GetObject range": READ,
    "PutObject": WRITE,
    "CopyObject": WRITE,
    "DeleteObject": WRITE,
    "DeleteObjects": WRITE,
    "Multipart create/part/list/abort": WRITE,
    "Multipart complete": WRITE,
    "UploadPart to the admin's upload": WRITE,
    "ListParts of the admin's upload": WRITE,
    "Multipart outside the prefix": row(read_only="AccessDenied", prefix="AccessDenied"),
    "Multipart hosted": row(read_only="AccessDenied", sources="AccessDenied", prefix="AccessDenied", other_org="ok"),
    "GetObject outside the prefix": row(prefix="AccessDenied"),
    "PutObject outside the prefix": row(read_only="AccessDenied", prefix="AccessDenied"),
    "CopyObject from outside the prefix": row(read_only="AccessDenied", prefix="AccessDenied"),
    "CopyObject to outside the prefix": row(read_only="AccessDenied", prefix="AccessDenied"),
    "GetObject hosted": row(sources="AccessDenied", prefix="AccessDenied", other_org="NoSuchKey"),
    "PutObject hosted": row(read_only="AccessDenied", sources="AccessDenied", prefix="AccessDenied", other_org="ok"),
    "ListObjectsV2 hosted": row(sources="AccessDenied", prefix="AccessDenied", other_org="ok"),
    "CopyObject hosted": row(
        read_only="AccessDenied", sources="AccessDenied", prefix="AccessDenied", other_org="NoSuchKey"
    ),
}


def test_every_operation_is_in_the_table() -> None:
    assert set(TABLE) == set(OPERATIONS)


@pytest.fixture
def world(s3_front: S3Front, org: Org) -> World:
    callers = clients(s3_front, org, org.source_id(org.label), f"s3+{org.label}://team/")
    admin = callers["admin"]
    bucket = org.bucket
    for key in ("team/r", "other/r"):
        admin.put_object(Bucket=bucket, Key=key, Body=b"read me")
    admin.put_object(Bucket="data", Key="coll/r", Body=b"hosted")
    for who in CALLERS:
        admin.put_object(Bucket=bucket, Key=f"team/d-{who}", Body=b"d")
        admin.put_object(Bucket=bucket, Key=f"team/dd-{who}", Body=b"d")
    upload = admin.create_multipart_upload(Bucket=bucket, Key="team/shared")["UploadId"]
    return World(org, bucket, callers, upload)


def test_the_s3_rights_table(world: World) -> None:
    assert wrong_answers(OPERATIONS, TABLE, world.clients, world) == {}

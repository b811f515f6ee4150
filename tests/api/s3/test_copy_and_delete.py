"""CopyObject within and across connections, UploadPartCopy, and DeleteObjects.

A copy within one connection whose kind copies itself (S3, hosted data) is made by the connection:
its bytes never pass through the hub. The connections of the tests that show it reach SeaweedFS
through a counting forwarder, which sees every request and byte the hub sends there.
"""

from __future__ import annotations

import os
from typing import Any

import obstore as obs
import pytest
from botocore.exceptions import ClientError

from tests.api.s3.test_buckets import code_of
from tests.fixtures.counting_forwarder import CountingForwarder, Seen, counted_seaweedfs  # noqa: F401 - a fixture
from tests.fixtures.s3_front import Org, S3Front, s3_connection
from tests.fixtures.seaweedfs import SeaweedFS

MiB = 1024 * 1024
#: More than the requests of a copy made by the backend carry (headers aside), far less than the objects copied.
FEW_BYTES = 64 * 1024


def counted_connection(org: Org, seaweedfs: SeaweedFS, forwarder: CountingForwarder, bucket: str | None) -> str:
    """A new S3 connection of `org` that reaches SeaweedFS only through `forwarder` (naming `bucket`,
    or bucket-less): its front-door bucket."""
    return f"{s3_connection(org.api, seaweedfs, bucket=bucket, endpoint=forwarder.url)}.s3"


def moved(seen: list[Seen]) -> int:
    """The body bytes that passed between the hub and the backend, both ways."""
    return sum(r.sent + r.answered for r in seen)


def backend_object(seaweedfs: SeaweedFS, bucket: str, key: str) -> bytes:
    return bytes(obs.get(seaweedfs.store(bucket), key).bytes())


def test_a_copy_within_an_s3_connection_is_made_by_the_backend(
    s3_front: S3Front, org: Org, seaweedfs: SeaweedFS, counted_seaweedfs: CountingForwarder
) -> None:
    backend = seaweedfs.create_bucket()
    bucket = counted_connection(org, seaweedfs, counted_seaweedfs, backend)
    data = os.urandom(4 * MiB)
    obs.put(seaweedfs.store(backend), "in/src.bin", data)
    s3 = s3_front.client(org.token)
    counted_seaweedfs.take()
    result = s3.copy_object(Bucket=bucket, Key="out/dst.bin", CopySource={"Bucket": bucket, "Key": "in/src.bin"})
    seen = counted_seaweedfs.take()
    copies = [r for r in seen if r.copy_source is not None]
    assert [(r.method, r.path.rsplit("/", 2)[-2:]) for r in copies] == [("PUT", ["out", "dst.bin"])]
    assert str(copies[0].copy_source).endswith("in/src.bin")
    assert moved(seen) < FEW_BYTES  # 4 MiB copied, none of it through the hub
    assert backend_object(seaweedfs, backend, "out/dst.bin") == data
    assert result["CopyObjectResult"]["ETag"] == s3.head_object(Bucket=bucket, Key="out/dst.bin")["ETag"]
    assert s3.get_object(Bucket=bucket, Key="in/src.bin")["Body"].read() == data


def test_a_copy_across_connections_is_streamed_through_the_hub(
    s3_front: S3Front, org: Org, seaweedfs: SeaweedFS, counted_seaweedfs: CountingForwarder
) -> None:
    first, second = seaweedfs.create_bucket(), seaweedfs.create_bucket()
    source = counted_connection(org, seaweedfs, counted_seaweedfs, first)
    destination = counted_connection(org, seaweedfs, counted_seaweedfs, second)
    data = os.urandom(MiB)
    obs.put(seaweedfs.store(first), "src.bin", data)
    s3 = s3_front.client(org.token)
    counted_seaweedfs.take()
    s3.copy_object(Bucket=destination, Key="dst.bin", CopySource={"Bucket": source, "Key": "src.bin"})
    seen = counted_seaweedfs.take()
    assert all(r.copy_source is None for r in seen)
    assert sum(r.answered for r in seen if r.method == "GET") >= len(data)  # read out of one connection
    assert sum(r.sent for r in seen if r.method in ("PUT", "POST")) >= len(data)  # and written into the other
    assert backend_object(seaweedfs, second, "dst.bin") == data


def test_a_copy_between_the_buckets_of_a_bucketless_connection_or_onto_itself_is_streamed(
    s3_front: S3Front, org: Org, seaweedfs: SeaweedFS, counted_seaweedfs: CountingForwarder
) -> None:
    first, second = seaweedfs.create_bucket(), seaweedfs.create_bucket()
    lake = counted_connection(org, seaweedfs, counted_seaweedfs, None)
    data = os.urandom(MiB)
    obs.put(seaweedfs.store(first), "src.bin", data)
    s3 = s3_front.client(org.token)
    counted_seaweedfs.take()
    s3.copy_object(Bucket=lake, Key=f"{second}/dst.bin", CopySource={"Bucket": lake, "Key": f"{first}/src.bin"})
    across = counted_seaweedfs.take()
    assert all(r.copy_source is None for r in across) and moved(across) >= 2 * len(data)
    assert backend_object(seaweedfs, second, "dst.bin") == data
    s3.copy_object(Bucket=lake, Key=f"{first}/src.bin", CopySource={"Bucket": lake, "Key": f"{first}/src.bin"})
    onto_itself = counted_seaweedfs.take()  # S3 refuses a copy that changes nothing: the hub rewrites the bytes
    assert all(r.copy_source is None for r in onto_itself) and moved(onto_itself) >= 2 * len(data)
    assert backend_object(seaweedfs, first, "src.bin") == data
    s3.copy_object(Bucket=lake, Key=f"{first}/again.bin", CopySource={"Bucket": lake, "Key": f"{first}/src.bin"})
    within = counted_seaweedfs.take()
    assert [r.method for r in within if r.copy_source is not None] == ["PUT"] and moved(within) < FEW_BYTES
    assert backend_object(seaweedfs, first, "again.bin") == data


def test_the_copy_source_conditions_hold_for_a_copy_within_a_connection(s3_front: S3Front, org: Org) -> None:
    s3 = s3_front.client(org.token)
    s3.put_object(Bucket=org.bucket, Key="cond/src", Body=b"version one")
    etag = s3.head_object(Bucket=org.bucket, Key="cond/src")["ETag"]
    refusals: dict[str, Any] = {"CopySourceIfMatch": '"not-its-etag"', "CopySourceIfNoneMatch": etag}
    for name, value in refusals.items():
        with pytest.raises(ClientError) as caught:
            s3.copy_object(
                Bucket=org.bucket, Key="cond/dst", CopySource={"Bucket": org.bucket, "Key": "cond/src"}, **{name: value}
            )
        assert code_of(caught.value) == "PreconditionFailed", name
    with pytest.raises(ClientError) as missing:
        s3.head_object(Bucket=org.bucket, Key="cond/dst")
    assert code_of(missing.value) == "404"
    s3.copy_object(
        Bucket=org.bucket, Key="cond/dst", CopySource={"Bucket": org.bucket, "Key": "cond/src"}, CopySourceIfMatch=etag
    )
    assert s3.get_object(Bucket=org.bucket, Key="cond/dst")["Body"].read() == b"version one"


def test_a_copy_of_a_folder_is_no_such_key(s3_front: S3Front, org: Org) -> None:
    s3 = s3_front.client(org.token)
    s3.put_object(Bucket=org.bucket, Key="tree/leaf", Body=b"1")
    with pytest.raises(ClientError) as caught:
        s3.copy_object(Bucket=org.bucket, Key="tree-copy", CopySource={"Bucket": org.bucket, "Key": "tree"})
    assert code_of(caught.value) == "NoSuchKey"


def test_a_copy_within_hosted_data(s3_front: S3Front, org: Org) -> None:
    s3 = s3_front.client(org.token)
    data = os.urandom(MiB)
    s3.put_object(Bucket="data", Key="coll/src.bin", Body=data)
    s3.copy_object(Bucket="data", Key="other/dst.bin", CopySource={"Bucket": "data", "Key": "coll/src.bin"})
    assert s3.get_object(Bucket="data", Key="other/dst.bin")["Body"].read() == data
    with pytest.raises(ClientError) as caught:  # hosted files live in a collection, copied or put
        s3.copy_object(Bucket="data", Key="top.bin", CopySource={"Bucket": "data", "Key": "coll/src.bin"})
    assert code_of(caught.value) == "InvalidArgument"


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


def test_a_copy_within_a_local_folder_keeps_to_its_restrictions_through_links(
    s3_front: S3Front, org: Org, tmp_path: Any
) -> None:
    root = tmp_path / "share"
    (root / "bucket").mkdir(parents=True)
    (root / "bucket-evil").mkdir()
    (tmp_path / "outside").mkdir()
    (root / "bucket" / "a.txt").write_bytes(b"inside")
    (root / "bucket-evil" / "c.txt").write_bytes(b"evil sibling")
    (tmp_path / "outside" / "secret.txt").write_bytes(b"outside the root")
    (root / "bucket" / "sibling").symlink_to(root / "bucket-evil")
    (root / "bucket" / "escape").symlink_to(tmp_path / "outside")
    label = f"share{os.urandom(3).hex()}"
    made = org.api.post(
        "/v1/sources",
        json={
            "protocol": "local",
            "label": label,
            "access": "read-write",
            "params": {"path": str(root)},
            "pathRestrictions": ["bucket/*"],
        },
    )
    assert made.status_code == 201, made.text
    bucket = f"{label}.local"
    s3 = s3_front.client(org.token)
    s3.copy_object(Bucket=bucket, Key="bucket/copy.txt", CopySource={"Bucket": bucket, "Key": "bucket/a.txt"})
    assert (root / "bucket" / "copy.txt").read_bytes() == b"inside"
    refusals = {
        "from a link out of the restrictions": ("bucket/x.txt", "bucket/sibling/c.txt"),
        "from a link out of the root": ("bucket/y.txt", "bucket/escape/secret.txt"),
        "into a link out of the restrictions": ("bucket/sibling/new.txt", "bucket/a.txt"),
        "into a link out of the root": ("bucket/escape/new.txt", "bucket/a.txt"),
    }
    for case, (key, source) in refusals.items():
        with pytest.raises(ClientError) as caught:
            s3.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": source})
        assert code_of(caught.value) in ("AccessDenied", "NoSuchKey"), case
    assert sorted(p.name for p in (root / "bucket").iterdir()) == ["a.txt", "copy.txt", "escape", "sibling"]
    assert sorted(p.name for p in (root / "bucket-evil").iterdir()) == ["c.txt"]
    assert sorted(p.name for p in (tmp_path / "outside").iterdir()) == ["secret.txt"]

"""Narrowed tokens through the front door: a prefix-narrowed key sees only its prefix, a read-only key never writes.

Refusals are decided by the hub before any backend request: the backend is checked to be unchanged.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.api.s3.test_buckets import code_of
from tests.fixtures.s3_front import Org, S3Front
from tests.fixtures.seaweedfs import SeaweedFS


@pytest.fixture
def filled(s3_front: S3Front, org: Org) -> Org:
    s3 = s3_front.client(org.token)
    for key in ("team/a.txt", "team/sub/b.txt", "other/c.txt", "teamster/d.txt", "root.txt"):
        s3.put_object(Bucket=org.bucket, Key=key, Body=key.encode())
    s3.put_object(Bucket="data", Key="coll/e.txt", Body=b"e")
    return org


def refused(call: object, *args: object, **kwargs: object) -> str:
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)  # type: ignore[operator]
    return code_of(caught.value)


def test_a_prefix_narrowed_key_sees_and_reaches_only_its_prefix(
    s3_front: S3Front, filled: Org, seaweedfs: SeaweedFS
) -> None:
    org = filled
    token = s3_front.running.token(org=org.name, user="bob", admin=False, path_prefix=f"s3+{org.label}://team/")
    s3 = s3_front.client(token)
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [org.bucket]
    everything = [c["Key"] for c in s3.list_objects_v2(Bucket=org.bucket).get("Contents", [])]
    assert everything == ["team/a.txt", "team/sub/b.txt"]
    top = s3.list_objects_v2(Bucket=org.bucket, Delimiter="/")
    assert [p["Prefix"] for p in top.get("CommonPrefixes", [])] == ["team/"] and "Contents" not in top
    assert s3.get_object(Bucket=org.bucket, Key="team/a.txt")["Body"].read() == b"team/a.txt"
    s3.put_object(Bucket=org.bucket, Key="team/new.txt", Body=b"n")
    before = seaweedfs.keys_in(org.backend_bucket)
    assert refused(s3.get_object, Bucket=org.bucket, Key="other/c.txt") == "AccessDenied"
    assert refused(s3.get_object, Bucket=org.bucket, Key="teamster/d.txt") == "AccessDenied"
    assert refused(s3.put_object, Bucket=org.bucket, Key="other/x.txt", Body=b"x") == "AccessDenied"
    assert refused(s3.delete_object, Bucket=org.bucket, Key="root.txt") == "AccessDenied"
    assert refused(s3.create_multipart_upload, Bucket=org.bucket, Key="other/mp") == "AccessDenied"
    assert (
        refused(
            s3.copy_object,
            Bucket=org.bucket,
            Key="team/stolen",
            CopySource={"Bucket": org.bucket, "Key": "other/c.txt"},
        )
        == "AccessDenied"
    )
    assert refused(s3.list_objects_v2, Bucket="data") == "AccessDenied"
    assert seaweedfs.keys_in(org.backend_bucket) == before


def test_a_read_only_key_is_refused_every_write(s3_front: S3Front, filled: Org, seaweedfs: SeaweedFS) -> None:
    org = filled
    token = s3_front.running.token(org=org.name, user="carol", admin=False, read_only=True)
    s3 = s3_front.client(token)
    assert s3.get_object(Bucket=org.bucket, Key="other/c.txt")["Body"].read() == b"other/c.txt"
    assert len(s3.list_objects_v2(Bucket=org.bucket)["Contents"]) == 5
    before = seaweedfs.keys_in(org.backend_bucket)
    for bucket in (org.bucket, "data"):
        assert refused(s3.put_object, Bucket=bucket, Key="coll/w.txt", Body=b"w") == "AccessDenied"
        assert refused(s3.delete_object, Bucket=bucket, Key="coll/e.txt") == "AccessDenied"
        assert refused(s3.create_multipart_upload, Bucket=bucket, Key="coll/mp") == "AccessDenied"
        assert (
            refused(s3.copy_object, Bucket=bucket, Key="coll/cp", CopySource={"Bucket": org.bucket, "Key": "root.txt"})
            == "AccessDenied"
        )
    result = s3.delete_objects(Bucket=org.bucket, Delete={"Objects": [{"Key": "root.txt"}]})
    assert [e["Code"] for e in result["Errors"]] == ["AccessDenied"]
    assert seaweedfs.keys_in(org.backend_bucket) == before
    assert s3_front.client(org.token).get_object(Bucket="data", Key="coll/e.txt")["Body"].read() == b"e"


def test_a_source_narrowed_key_reaches_its_source_and_not_hosted_data(s3_front: S3Front, filled: Org) -> None:
    org = filled
    token = s3_front.running.token(org=org.name, user="dan", admin=False, source_ids=(org.source_id(org.label),))
    s3 = s3_front.client(token)
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [org.bucket]
    assert s3.get_object(Bucket=org.bucket, Key="root.txt")["Body"].read() == b"root.txt"
    assert refused(s3.get_object, Bucket="data", Key="coll/e.txt") == "AccessDenied"


def test_a_read_only_connection_refuses_writes_to_everyone(s3_front: S3Front, org: Org, seaweedfs: SeaweedFS) -> None:
    from tests.fixtures.s3_front import s3_connection

    label = s3_connection(org.api, seaweedfs, bucket=org.backend_bucket, access="read")
    s3 = s3_front.client(org.token)
    assert refused(s3.put_object, Bucket=f"{label}.s3", Key="x", Body=b"x") == "AccessDenied"

"""Buckets are connections: the name mapping, ListBuckets, HeadBucket and GetBucketLocation."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from headwater.api.s3.buckets import bucket_name, resolve, valid_bucket_name
from headwater.api.s3.errors import S3Error
from tests.fixtures.s3_front import Org, S3Front


def code_of(error: ClientError) -> str:
    return str(error.response["Error"]["Code"])


@pytest.mark.parametrize(
    ("protocol", "label", "bucket"),
    [("s3", "lake", "lake.s3"), ("s3", "default", "default.s3"), ("gcp", "a-b", "a-b.gcp"), ("data", None, "data")],
)
def test_a_connection_is_the_bucket_label_dot_protocol(protocol: str, label: str | None, bucket: str) -> None:
    assert bucket_name(protocol, label) == bucket
    resolved = resolve(bucket)
    assert (resolved.protocol, resolved.label) == (protocol, label)


@pytest.mark.parametrize("label", ["under_score", "-lead", "x" * 62, "ab-"])
def test_labels_that_cannot_form_a_bucket_name_have_no_bucket(label: str) -> None:
    assert bucket_name("s3", label) is None


@pytest.mark.parametrize("name", ["a", "UPPER.s3", "a..s3", "192.168.1.1", "nodot", "x.y.s3", "-a.s3"])
def test_names_that_are_no_bucket_are_no_such_bucket(name: str) -> None:
    with pytest.raises(S3Error) as caught:
        resolve(name)
    assert caught.value.code == "NoSuchBucket"
    assert not valid_bucket_name(name) or name in {"nodot", "x.y.s3"}


def test_database_and_synthetic_connections_are_buckets_of_tables() -> None:
    for name in ("warehouse.postgres", "shop.mysql", "gen.synthetic"):
        assert resolve(name).tables
    assert not resolve("lake.s3").tables and not resolve("data").tables


def test_list_buckets_shows_hosted_data_and_the_connections(s3_front: S3Front, org: Org) -> None:
    names = [b["Name"] for b in s3_front.client(org.token).list_buckets()["Buckets"]]
    assert names == sorted(names)
    assert "data" in names and org.bucket in names


def test_head_bucket_and_location(s3_front: S3Front, org: Org) -> None:
    s3 = s3_front.client(org.token)
    assert s3.head_bucket(Bucket=org.bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3.head_bucket(Bucket="data")["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3.get_bucket_location(Bucket=org.bucket).get("LocationConstraint") in (None, "")


def test_a_connection_that_does_not_exist_is_no_such_bucket(s3_front: S3Front, org: Org) -> None:
    s3 = s3_front.client(org.token)
    with pytest.raises(ClientError) as caught:
        s3.list_objects_v2(Bucket="nothere.s3")
    assert code_of(caught.value) == "NoSuchBucket"
    assert caught.value.response["Error"]["Resource"] == "/nothere.s3"
    assert caught.value.response["Error"].get("Message")
    with pytest.raises(ClientError) as head:
        s3.head_bucket(Bucket="nothere.s3")
    assert head.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_another_organizations_connection_is_no_such_bucket(s3_front: S3Front, org: Org) -> None:
    stranger = s3_front.client(s3_front.running.token())
    with pytest.raises(ClientError) as caught:
        stranger.get_object(Bucket=org.bucket, Key="anything")
    assert code_of(caught.value) == "NoSuchBucket"
    assert org.bucket not in [b["Name"] for b in stranger.list_buckets()["Buckets"]]


def test_creating_or_deleting_a_bucket_is_not_implemented(s3_front: S3Front, org: Org) -> None:
    s3 = s3_front.client(org.token)
    with pytest.raises(ClientError) as caught:
        s3.create_bucket(Bucket="new.s3")
    assert code_of(caught.value) == "NotImplemented"
    with pytest.raises(ClientError) as deleted:
        s3.delete_bucket(Bucket=org.bucket)
    assert code_of(deleted.value) == "NotImplemented"


def test_a_request_without_credentials_is_refused(s3_front: S3Front, org: Org) -> None:
    import httpx

    response = httpx.get(f"{s3_front.url}/{org.bucket}?list-type=2")
    assert response.status_code == 403
    assert b"<Code>AccessDenied</Code>" in response.content and b"<RequestId>" in response.content

"""A backend's XML answers are read by a parser that expands no entities and loads nothing external."""

import pytest

from headwater.connectors import s3_parts, s3_service
from headwater.errors import UpstreamError

ENTITIES = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    b"<ListAllMyBucketsResult><Buckets><Bucket><Name>&b;</Name></Bucket></Buckets></ListAllMyBucketsResult>"
)
EXTERNAL = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b"<ListAllMyBucketsResult><Buckets><Bucket><Name>&x;</Name></Bucket></Buckets></ListAllMyBucketsResult>"
)


@pytest.mark.parametrize("body", [ENTITIES, EXTERNAL], ids=["entities", "external"])
def test_a_bucket_list_declaring_entities_is_refused(body: bytes) -> None:
    with pytest.raises(UpstreamError, match="not XML"):
        s3_service.bucket_names(body)


@pytest.mark.parametrize("body", [ENTITIES, EXTERNAL], ids=["entities", "external"])
def test_a_multipart_answer_declaring_entities_is_refused(body: bytes) -> None:
    with pytest.raises(UpstreamError, match="not XML"):
        s3_parts._parse(body.replace(b"ListAllMyBucketsResult", b"ListPartsResult"), "ListPartsResult")


def test_a_plain_bucket_list_is_read() -> None:
    body = b"<ListAllMyBucketsResult><Buckets><Bucket><Name>b</Name></Bucket><Bucket><Name>a</Name></Bucket></Buckets></ListAllMyBucketsResult>"
    assert s3_service.bucket_names(body) == ["a", "b"]

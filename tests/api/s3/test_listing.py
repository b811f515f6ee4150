"""ListObjectsV2 and ListObjects through the front door: pages, delimiters, prefixes, start-after."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import obstore as obs
import pytest

from tests.fixtures.s3_front import Org, S3Front
from tests.fixtures.seaweedfs import SeaweedFS

KEYS = 2500


@pytest.fixture
def many(org: Org, seaweedfs: SeaweedFS) -> list[str]:
    """2,500 keys in two folders and one nested one, written straight to the backend."""
    keys = [f"many/{i:05d}.txt" for i in range(KEYS - 100)] + [f"many/sub/{i:03d}" for i in range(100)]
    store = seaweedfs.store(org.backend_bucket)
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda key: obs.put(store, key, b"k"), keys))
    return sorted(keys)


def test_a_paginated_listing_of_2500_keys_returns_each_once_in_order(
    s3_front: S3Front, org: Org, many: list[str]
) -> None:
    s3 = s3_front.client(org.token)
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=org.bucket, Prefix="many/"))
    keys = [c["Key"] for p in pages for c in p.get("Contents", [])]
    assert keys == many
    assert len(pages) == 3 and pages[0]["KeyCount"] == 1000 and pages[0]["IsTruncated"]
    small = list(s3.get_paginator("list_objects_v2").paginate(Bucket=org.bucket, Prefix="many/sub/", MaxKeys=30))
    assert len(small) == 4 and [c["Key"] for p in small for c in p["Contents"]] == many[-100:]


def test_listing_v1_pages_with_markers(s3_front: S3Front, org: Org, many: list[str]) -> None:
    s3 = s3_front.client(org.token)
    pages = list(s3.get_paginator("list_objects").paginate(Bucket=org.bucket, Prefix="many/", MaxKeys=700))
    assert [c["Key"] for p in pages for c in p["Contents"]] == many
    assert len(pages) == 4


def test_a_delimiter_lists_one_level_with_common_prefixes(s3_front: S3Front, org: Org) -> None:
    s3 = s3_front.client(org.token)
    for key in ("d/a.txt", "d/b/1", "d/b/2", "d/c/x/y", "d/b-side", "top"):
        s3.put_object(Bucket=org.bucket, Key=key, Body=b"1")
    listed = s3.list_objects_v2(Bucket=org.bucket, Prefix="d/", Delimiter="/")
    assert [c["Key"] for c in listed["Contents"]] == ["d/a.txt", "d/b-side"]
    assert [p["Prefix"] for p in listed["CommonPrefixes"]] == ["d/b/", "d/c/"]
    root = s3.list_objects_v2(Bucket=org.bucket, Delimiter="/")
    assert "d/" in [p["Prefix"] for p in root["CommonPrefixes"]]
    assert "top" in [c["Key"] for c in root["Contents"]]
    partial = s3.list_objects_v2(Bucket=org.bucket, Prefix="d/b")
    assert [c["Key"] for c in partial["Contents"]] == ["d/b-side", "d/b/1", "d/b/2"]
    flat = s3.list_objects_v2(Bucket=org.bucket, Prefix="d/")
    assert [c["Key"] for c in flat["Contents"]] == ["d/a.txt", "d/b-side", "d/b/1", "d/b/2", "d/c/x/y"]
    paged = s3.list_objects_v2(Bucket=org.bucket, Prefix="d/", Delimiter="/", MaxKeys=3)
    assert paged["IsTruncated"] and paged["KeyCount"] == 3
    rest = s3.list_objects_v2(
        Bucket=org.bucket, Prefix="d/", Delimiter="/", ContinuationToken=paged["NextContinuationToken"]
    )
    assert [p["Prefix"] for p in rest["CommonPrefixes"]] == ["d/c/"] and "Contents" not in rest


def test_start_after_and_empty_prefixes(s3_front: S3Front, org: Org) -> None:
    s3 = s3_front.client(org.token)
    for key in ("s/1", "s/2", "s/3/x"):
        s3.put_object(Bucket=org.bucket, Key=key, Body=b"1")
    assert [c["Key"] for c in s3.list_objects_v2(Bucket=org.bucket, Prefix="s/", StartAfter="s/1")["Contents"]] == [
        "s/2",
        "s/3/x",
    ]
    nothing = s3.list_objects_v2(Bucket=org.bucket, Prefix="nowhere/")
    assert nothing["KeyCount"] == 0 and "Contents" not in nothing


def test_odd_key_names_round_trip_with_url_encoding(s3_front: S3Front, org: Org) -> None:
    s3 = s3_front.client(org.token)
    odd = "odd/with space & plus+sign ü.txt"
    s3.put_object(Bucket=org.bucket, Key=odd, Body=b"1")
    assert [c["Key"] for c in s3.list_objects_v2(Bucket=org.bucket, Prefix="odd/")["Contents"]] == [odd]
    assert s3.get_object(Bucket=org.bucket, Key=odd)["Body"].read() == b"1"


def test_hosted_data_lists_its_collections(s3_front: S3Front, org: Org) -> None:
    s3 = s3_front.client(org.token)
    s3.put_object(Bucket="data", Key="coll/one", Body=b"1")
    s3.put_object(Bucket="data", Key="coll/deeper/two", Body=b"2")
    assert [c["Key"] for c in s3.list_objects_v2(Bucket="data")["Contents"]] == ["coll/deeper/two", "coll/one"]
    assert [p["Prefix"] for p in s3.list_objects_v2(Bucket="data", Delimiter="/")["CommonPrefixes"]] == ["coll/"]

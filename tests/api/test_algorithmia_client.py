"""The real `algorithmia` client (PyPI 2.0.5), pointed at the hub with a hub token, runs its own operations."""

from __future__ import annotations

from pathlib import Path

import Algorithmia
import pytest
from Algorithmia.errors import DataApiError

from tests.fixtures.hub import RunningHub
from tests.fixtures.seaweedfs import SeaweedFS


@pytest.fixture
def algo(sqlite_hub: RunningHub) -> Algorithmia.client.Client:
    return Algorithmia.client(sqlite_hub.token(), api_address=sqlite_hub.url)


@pytest.fixture
def coll(algo: Algorithmia.client.Client) -> str:
    directory = algo.dir("data://.my/coll")
    directory.create()
    return "data://.my/coll"


def test_put_and_get_text_bytes_json_and_unicode(algo: Algorithmia.client.Client, coll: str) -> None:
    algo.file(f"{coll}/a.txt").put("hello")
    assert algo.file(f"{coll}/a.txt").getString() == "hello"
    algo.file(f"{coll}/u.txt").put("héllo €5 — ünïcode")
    assert algo.file(f"{coll}/u.txt").getString() == "héllo €5 — ünïcode"
    algo.file(f"{coll}/b.bin").put(b"\x00\x01\xff")
    assert algo.file(f"{coll}/b.bin").getBytes() == b"\x00\x01\xff"
    algo.file(f"{coll}/j.json").putJson({"a": 1, "b": [1, 2]})
    assert algo.file(f"{coll}/j.json").getJson() == {"a": 1, "b": [1, 2]}
    algo.file(f"{coll}/n.txt").put("42")
    assert algo.file(f"{coll}/n.txt").getBytes() == b"42"


def test_json_bodies_are_stored_verbatim(algo: Algorithmia.client.Client, coll: str) -> None:
    algo.file(f"{coll}/raw.json").put('{"a":1,   "b":2}')
    assert algo.file(f"{coll}/raw.json").getString() == '{"a":1,   "b":2}'


def test_put_file_and_empty_files(algo: Algorithmia.client.Client, coll: str, tmp_path: Path) -> None:
    full = tmp_path / "f.dat"
    full.write_bytes(b"eleven byte")
    empty = tmp_path / "empty.dat"
    empty.write_bytes(b"")
    algo.file(f"{coll}/f.dat").putFile(str(full))
    algo.file(f"{coll}/empty.dat").putFile(str(empty))
    algo.file(f"{coll}/e.bin").put(b"")
    assert algo.file(f"{coll}/f.dat").getBytes() == b"eleven byte"
    assert algo.file(f"{coll}/empty.dat").getBytes() == b""
    assert algo.file(f"{coll}/e.bin").exists()
    with open(algo.file(f"{coll}/f.dat").getFile(as_path=True), "rb") as fh:
        assert fh.read() == b"eleven byte"


def test_exists_and_delete(algo: Algorithmia.client.Client, coll: str) -> None:
    f = algo.file(f"{coll}/d.txt")
    assert not f.exists()
    f.put("x")
    assert f.exists()
    f.delete()
    assert not f.exists()


def test_getting_a_missing_file_raises_with_the_hubs_message(algo: Algorithmia.client.Client, coll: str) -> None:
    with pytest.raises(DataApiError, match="does not exist"):
        algo.file(f"{coll}/nope").getString()


def test_deleting_a_missing_file_raises(algo: Algorithmia.client.Client, coll: str) -> None:
    with pytest.raises(DataApiError):
        algo.file(f"{coll}/nope").delete()


def test_listing_across_several_pages(algo: Algorithmia.client.Client, sqlite_hub: RunningHub, coll: str) -> None:
    algo.file(f"{coll}/f0000.txt").put("seed")
    # The other files go straight into the hosted folder: 1,203 PUTs would only slow the test down.
    folder = next(sqlite_hub.hub.settings.hosted_dir.glob("*/coll/f0000.txt")).parent
    for i in range(1, 1203):
        (folder / f"f{i:04d}.txt").write_text(str(i))
    algo.dir(f"{coll}/sub").create()
    listing = algo.dir(coll)
    names = [f.getName() for f in listing.files()]
    assert len(names) == 1203 and len(set(names)) == 1203
    assert [d.getName() for d in listing.dirs()] == ["sub"]
    assert len(list(listing.list())) == 1204
    first = next(iter(listing.files()))
    assert first.size == 4 and first.last_modified is not None


def test_directory_create_exists_delete_and_force_delete(algo: Algorithmia.client.Client) -> None:
    d = algo.dir("data://.my/newcoll")
    assert not d.exists()
    d.create()
    assert d.exists()
    algo.file("data://.my/newcoll/x.txt").put("x")
    with pytest.raises(DataApiError, match="not empty"):
        d.delete()
    d.delete(force=True)
    assert not d.exists()


def test_creating_an_existing_directory_fails(algo: Algorithmia.client.Client, coll: str) -> None:
    # The client raises a bare Exception naming the HTTP answer: the status is what tells this apart.
    with pytest.raises(Exception, match=r"Failure: <Response \[409\]>"):
        algo.dir(coll).create()


def test_the_caller_can_name_its_organization_instead_of_dot_my(algo: Algorithmia.client.Client, coll: str) -> None:
    algo.file(f"{coll}/named.txt").put("by name")
    org = algo.username()
    assert algo.file(f"data://{org}/coll/named.txt").getString() == "by name"


def test_a_bad_key_gets_nothing(sqlite_hub: RunningHub) -> None:
    bad = Algorithmia.client("hw_wrong-key-entirely", api_address=sqlite_hub.url)
    assert not bad.file("data://.my/coll/a.txt").exists()
    with pytest.raises(Exception, match=r"Failure: <Response \[401\]>"):
        bad.file("data://.my/coll/a.txt").put("x")


def test_collection_permissions_round_trip(algo: Algorithmia.client.Client) -> None:
    from Algorithmia.acl import AclType, ReadAcl

    public = algo.dir("data://.my/pub")
    public.create(ReadAcl.public)
    assert public.get_permissions().read_acl == AclType.public
    public.update_permissions(ReadAcl.private)
    assert public.get_permissions().read_acl == AclType.private
    plain = algo.dir("data://.my/plain")
    plain.create()
    assert plain.get_permissions().read_acl == AclType.my_algos


# --- the same client against an S3-family connection on a real S3 server -------------------------------


@pytest.fixture
def s3_algo(sqlite_hub: RunningHub, seaweedfs: SeaweedFS) -> tuple[Algorithmia.client.Client, str, SeaweedFS]:
    """An organization with `s3+lake` (read-write) and `s3+view` (read-only) on one bucket."""
    token = sqlite_hub.token()
    bucket = seaweedfs.create_bucket()
    with sqlite_hub.client(token) as api:
        api.post(
            "/v1/secrets",
            json={
                "id": "sw",
                "secretType": "s3",
                "accessKey": seaweedfs.rw.access_key,
                "secretKey": seaweedfs.rw.secret_key,
            },
        ).raise_for_status()
        for label, access in (("lake", "read-write"), ("view", "read")):
            api.post(
                "/v1/sources",
                json={
                    "protocol": "s3",
                    "label": label,
                    "secretId": "sw",
                    "access": access,
                    "params": {"endpoint": seaweedfs.endpoint, "region": seaweedfs.region},
                },
            ).raise_for_status()
    return Algorithmia.client(token, api_address=sqlite_hub.url), bucket, seaweedfs


def test_s3_connection_put_get_of_every_type(
    s3_algo: tuple[Algorithmia.client.Client, str, SeaweedFS], tmp_path: Path
) -> None:
    algo, bucket, _ = s3_algo
    base = f"s3+lake://{bucket}/dir"
    algo.file(f"{base}/t.txt").put("hello")
    algo.file(f"{base}/u.txt").put("héllo €5")
    algo.file(f"{base}/b.bin").put(b"\x00\xff")
    algo.file(f"{base}/j.json").putJson({"a": [1, 2]})
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    algo.file(f"{base}/empty").putFile(str(empty))
    algo.file(f"{base}/x y+ü.txt").put("odd name")
    assert algo.file(f"{base}/t.txt").getString() == "hello"
    assert algo.file(f"{base}/u.txt").getString() == "héllo €5"
    assert algo.file(f"{base}/b.bin").getBytes() == b"\x00\xff"
    assert algo.file(f"{base}/j.json").getJson() == {"a": [1, 2]}
    assert algo.file(f"{base}/empty").getBytes() == b""
    assert algo.file(f"{base}/x y+ü.txt").getString() == "odd name"
    assert algo.file(f"{base}/t.txt").exists() and not algo.file(f"{base}/none").exists()
    algo.file(f"{base}/t.txt").delete()
    assert not algo.file(f"{base}/t.txt").exists()


def test_s3_connection_lists_across_pages_and_manages_directories(
    s3_algo: tuple[Algorithmia.client.Client, str, SeaweedFS],
) -> None:
    import obstore as obs

    algo, bucket, server = s3_algo
    store = server.store(bucket)
    for i in range(1105):
        obs.put(store, f"many/k{i:05d}", b"x")
    listing = algo.dir(f"s3+lake://{bucket}/many")
    names = [f.getName() for f in listing.files()]
    assert len(names) == 1105 and len(set(names)) == 1105
    made = algo.dir(f"s3+lake://{bucket}/made")
    made.create()
    assert made.exists()
    algo.file(f"s3+lake://{bucket}/made/inner.txt").put("x")
    with pytest.raises(DataApiError):
        made.delete()
    made.delete(force=True)
    assert server.keys_in(bucket, "made") == []


def test_s3_read_only_connection_refuses_writes(s3_algo: tuple[Algorithmia.client.Client, str, SeaweedFS]) -> None:
    algo, bucket, server = s3_algo
    algo.file(f"s3+lake://{bucket}/shared.txt").put("readable")
    assert algo.file(f"s3+view://{bucket}/shared.txt").getString() == "readable"
    with pytest.raises(Exception, match="403"):
        algo.file(f"s3+view://{bucket}/new.txt").put("nope")
    with pytest.raises(DataApiError, match="read-only"):
        algo.file(f"s3+view://{bucket}/shared.txt").delete()
    assert server.keys_in(bucket) == ["shared.txt"]

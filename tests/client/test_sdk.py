"""The SDK against a real hub on loopback: hosted data, a `local` source, errors, pagination."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from headwater import errors
from headwater.client import (
    Client,
    ConflictError,
    HubUnreachableError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    UnauthenticatedError,
)
from headwater.client.data import to_address, url_of
from tests.fixtures.hub import RunningHub


@pytest.fixture
def org(sqlite_hub: RunningHub) -> str:
    return f"org-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def client(sqlite_hub: RunningHub, org: str) -> Iterator[Client]:
    with Client(sqlite_hub.url, sqlite_hub.token(org=org)) as c:
        yield c


@pytest.fixture
def local(client: Client, tmp_path: Path) -> str:
    """A read-write `local` source over tmp_path; returns its address root."""
    label = f"lab-{uuid.uuid4().hex[:8]}"
    client.sources.create(protocol="local", label=label, params={"path": str(tmp_path)}, access="read-write")
    return f"local+{label}://"


def test_urls_encode_each_segment() -> None:
    assert url_of(to_address("data://acme/c/f.txt")) == "/v1/data/acme/c/f.txt"
    assert url_of(to_address("s3+lab://b/a+b %#?.txt")) == "/v1/connector/s3+lab/b/a%2Bb%20%25%23%3F.txt"
    assert url_of(to_address("local+x://"), directory=True) == "/v1/connector/local+x"
    assert url_of(to_address("local+x://d"), directory=True) == "/v1/connector/local+x/d/"


def test_hosted_round_trip(client: Client, org: str) -> None:
    f = client.file(f"data://{org}/coll/hello.txt")
    assert not f.exists()
    f.put("héllo €5")
    assert f.exists()
    assert f.get_text() == "héllo €5"
    assert f.get_bytes() == "héllo €5".encode()
    info = f.info()
    assert (info.type, info.size) == ("file", len("héllo €5".encode()))
    assert info.modified is not None and info.etag
    assert client.file("data://.my/coll/hello.txt").get_text() == "héllo €5"
    listing = list(client.dir(f"data://{org}/coll").list())
    assert [(e.name, e.is_dir, e.size) for e in listing] == [("hello.txt", False, info.size)]
    assert listing[0].address == f"data://{org}/coll/hello.txt"
    assert [e.name for e in client.dir(f"data://{org}").dirs()] == ["coll"]
    f.delete()
    assert not f.exists()


def test_put_kinds_and_ranges(client: Client, local: str, tmp_path: Path) -> None:
    big = bytes(range(256)) * 4096 * 3  # 3 MiB, several chunks
    f = client.file(local + "dir/big.bin")
    f.put(io.BytesIO(big))
    assert (tmp_path / "dir" / "big.bin").read_bytes() == big
    with f.get() as download:
        assert download.size == len(big)
        chunks = list(download)
    assert len(chunks) > 1 and b"".join(chunks) == big
    assert b"".join(f.get(start=10, end=20)) == big[10:20]
    f.put(iter([b"a", b"", b"bc"]))
    assert f.get_bytes() == b"abc"
    f.put(b"")
    assert f.get_bytes() == b"" and f.info().size == 0
    source = tmp_path / "src.bin"
    source.write_bytes(big[:1000])
    client.file(local + "copy.bin").put_file(source)
    assert (tmp_path / "copy.bin").read_bytes() == big[:1000]
    with pytest.raises(TypeError):
        f.put(12)  # type: ignore[arg-type]


def test_names_that_need_encoding_survive(client: Client, local: str, tmp_path: Path) -> None:
    for name in ["a+b.txt", "100%.txt", "h#x", "q?x=1", "sp ace ü.txt", "a%20b"]:
        client.file(local + name).put(name)
        assert (tmp_path / name).read_text() == name
        assert client.file(local + name).get_text() == name
    names = {e.name for e in client.dir(local).files()}
    assert {"a+b.txt", "100%.txt", "h#x", "q?x=1", "sp ace ü.txt", "a%20b"} <= names


def test_directories(client: Client, local: str, tmp_path: Path) -> None:
    d = client.dir(local + "new")
    assert not d.exists()
    d.create()
    assert d.exists() and (tmp_path / "new").is_dir()
    with pytest.raises(ConflictError):
        d.create()
    d.create(exist_ok=True)
    d.file("x.txt").put(b"x")
    assert not client.file(local + "new").exists()
    with pytest.raises(ConflictError):
        d.delete()
    assert d.delete(force=True) == 1
    assert not (tmp_path / "new").exists()
    assert [e.name for e in client.dir(local).dirs()] == []


def test_listing_follows_marker(client: Client, local: str, tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(1001):
        (folder / f"f{i:04d}").touch()
    (folder / "sub").mkdir()
    entries = list(client.dir(local + "many").list())
    assert len(entries) == 1002
    assert len({e.name for e in entries}) == 1002
    assert [e.name for e in client.dir(local + "many").dirs()] == ["sub"]


def test_errors_map_to_typed_exceptions(sqlite_hub: RunningHub, client: Client, org: str, local: str) -> None:
    with pytest.raises(NotFoundError) as missing:
        client.file(f"data://{org}/coll/nope").get_bytes()
    assert isinstance(missing.value, FileNotFoundError) and isinstance(missing.value, errors.NotFound)
    assert missing.value.status == 404 and missing.value.code == "not_found"
    with pytest.raises(FileNotFoundError):
        client.file(local + "nope.txt").info()
    with pytest.raises(NotFoundError):
        client.file("data://someone-else/coll/f").get_bytes()
    with pytest.raises(NotFoundError):
        client.sources.get("local+no-such-label")
    client.dir(f"data://{org}/coll").create()
    with pytest.raises(InvalidInputError):
        client.file(f"data://{org}/coll").get_bytes()
    with pytest.raises(InvalidInputError) as bad:
        client.file("data://x/../y")
    assert isinstance(bad.value, ValueError)
    with pytest.raises(ValueError):
        client.secrets.create("bad id!", secret_key="s")
    with pytest.raises(ConflictError):
        client.secrets.create("dup", secret_key="s1")
        client.secrets.create("dup", secret_key="s2")
    with Client(sqlite_hub.url, "hw_not-a-real-token-at-all") as stranger:
        with pytest.raises(UnauthenticatedError) as unauth:
            stranger.me()
        assert unauth.value.status == 401
    with Client(sqlite_hub.url, sqlite_hub.token(org=org, read_only=True)) as reader:
        with pytest.raises(PermissionDeniedError) as denied:
            reader.file(f"data://{org}/coll/f").put(b"x")
        assert isinstance(denied.value, PermissionError)
    with Client("http://127.0.0.1:9", "t") as nowhere:
        with pytest.raises(HubUnreachableError) as down:
            nowhere.me()
        assert isinstance(down.value, ConnectionError)


def test_management_helpers(client: Client, org: str, local: str) -> None:
    me = client.me()
    assert me["organization"] == org and me["admin"] is True
    secret = client.secrets.create("aws-1", secret_type="aws", access_key="AKIA1", secret_key="very-secret")
    assert secret["valueKeys"] == ["secretKey"] and "very-secret" not in str(secret)
    assert [s["id"] for s in client.secrets.list()] == ["aws-1"]
    assert client.secrets.update("aws-1", name="renamed")["name"] == "renamed"
    assert client.secrets.get("aws-1")["accessKey"] == "AKIA1"
    client.secrets.delete("aws-1")
    assert client.secrets.list() == []

    label = local.split("+")[1].removesuffix("://")
    source = client.sources.get(local)
    assert source["label"] == label and client.sources.get(source["id"])["id"] == source["id"]
    tested = client.sources.test(f"local+{label}")
    assert tested["state"]["healthy"] is True
    assert client.sources.update(source["id"], description="lab files")["description"] == "lab files"

    system = client.systems.create("Lab", description="the lab")
    linked = client.systems.link(system["id"], source["id"])
    assert [c["id"] for c in linked["links"]["children"]] == [source["id"]]
    assert client.systems.unlink(system["id"], source["id"])["links"]["children"] == []
    assert [s["id"] for s in client.systems.list()] == [system["id"]]
    client.systems.delete(system["id"])
    assert client.systems.list() == []

    issued = client.tokens.create(read_only=True, name="job")
    assert issued["token"] and issued["readOnly"] is True
    with Client(client.url, issued["token"]) as narrowed:
        assert narrowed.me()["readOnly"] is True
    client.tokens.revoke(issued["id"])
    assert issued["id"] not in {t["id"] for t in client.tokens.list()}
    client.sources.delete(source["id"])
    assert client.sources.list() == []
    assert any(k["kind"] == "local" for k in client.connectors())

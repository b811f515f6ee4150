"""`HeadwaterFileSystem` against a real hub: registration, configuration, listings, ranges,
streamed writes, transactions, the errors fsspec users expect, and the token's rights unchanged."""

from __future__ import annotations

import errno
import hashlib
import importlib.metadata
import os
import pickle
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path
from unittest.mock import patch

import fsspec
import fsspec.config
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headwater.client import Client
from headwater.client import fsspec as fsspec_module
from headwater.client.fsspec import HeadwaterFileSystem, SequentialReadahead
from tests.client.fsspec_backends import Root, filesystem, hosted_root, s3_root, s3_source  # noqa: F401 (fixtures)
from tests.fixtures.hub import RunningHub
from tests.fixtures.seaweedfs import SeaweedFS


@pytest.fixture(params=["hosted", "s3"])
def root(request: pytest.FixtureRequest) -> Iterator[Root]:
    """A fresh folder on hosted data, then on an `s3` connection on SeaweedFS."""
    parent: Root = request.getfixturevalue(f"{request.param}_root")
    folder = Root(parent.fs, parent.path(f"f-{uuid.uuid4().hex[:8]}"), parent.url, parent.token)
    yield folder
    if folder.fs.exists(folder.base):
        folder.fs.rm(folder.base, recursive=True)


def _blob(size: int, seed: int = 0) -> bytes:
    """Incompressible bytes, made quickly."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest() * 64
        counter += 1
    return bytes(out[:size])


# -- registration and configuration


def test_the_entry_point_registers_the_protocol() -> None:
    specs = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="fsspec.specs")}
    assert specs["headwater"] == "headwater.client.fsspec.HeadwaterFileSystem"
    assert fsspec.get_filesystem_class("headwater") is HeadwaterFileSystem


def test_url_and_token_from_arguments_environment_or_fsspec_config(
    hosted_root: Root, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = hosted_root.path("config.txt")
    hosted_root.fs.pipe(path, b"configured")
    # storage options, with `fsspec.open`
    with fsspec.open("headwater://" + path, "rb", url=hosted_root.url, token=hosted_root.token) as f:
        assert f.read() == b"configured"
    # pandas' route: fsspec.core.url_to_fs(url, **storage_options) keeps `url` for itself
    fs, stripped = fsspec.core.url_to_fs("headwater://" + path, **hosted_root.options)
    assert stripped == path and fs.cat_file(stripped) == b"configured"
    # HEADWATER_URL and HEADWATER_TOKEN
    monkeypatch.setenv("HEADWATER_URL", hosted_root.url)
    monkeypatch.setenv("HEADWATER_TOKEN", hosted_root.token)
    assert fsspec.filesystem("headwater", skip_instance_cache=True).cat_file(path) == b"configured"
    # fsspec's own configuration (FSSPEC_HEADWATER_URL / _TOKEN, or its config files)
    monkeypatch.delenv("HEADWATER_URL")
    monkeypatch.delenv("HEADWATER_TOKEN")
    monkeypatch.setitem(fsspec.config.conf, "headwater", {"url": hosted_root.url, "token": hosted_root.token})
    assert fsspec.filesystem("headwater", skip_instance_cache=True).cat_file(path) == b"configured"


def test_paths_and_addresses() -> None:
    strip = HeadwaterFileSystem._strip_protocol
    assert strip("headwater://s3+lake/bucket/key.csv") == "s3+lake/bucket/key.csv"
    assert strip("headwater://data/acme/coll/") == "data/acme/coll"
    assert strip("s3+lake://bucket/key.csv") == "s3+lake/bucket/key.csv"
    assert strip("data://acme/coll/f") == "data/acme/coll/f"
    assert strip(["headwater://data/a", "data/b"]) == ["data/a", "data/b"]
    fs = HeadwaterFileSystem(url="http://127.0.0.1:9", token="x", skip_instance_cache=True)
    assert str(fs._address("s3+lake/bucket/key")) == "s3+lake://bucket/key"
    assert str(fs._address("s3/bucket/key")) == "s3+default://bucket/key"
    assert str(fs._address("data/acme/c/f")) == "data://acme/c/f"
    assert fs.unstrip_protocol("data/acme/c") == "headwater://data/acme/c"
    # Protocols are case-insensitive (the one address parser lowercases them); labels are not.
    assert strip("headwater://S3+lake/bucket/key.csv") == strip("S3+lake://bucket/key.csv") == "s3+lake/bucket/key.csv"
    assert str(fs._address("S3+lake/x")) == "s3+lake://x"
    for bad in ("data/acme/../other/x", "s3+Lake/x", "data+x/y"):
        with pytest.raises(ValueError):
            fs._address(bad)


def test_the_root_lists_the_connections(s3_root: Root) -> None:
    names = s3_root.fs.ls("", detail=False)
    assert "data" in names and s3_root.base in names
    assert s3_root.fs.info("")["type"] == "directory"


def test_a_filesystem_survives_pickling(hosted_root: Root) -> None:
    path = hosted_root.path("pickled.txt")
    hosted_root.fs.pipe(path, b"across processes")
    clone = pickle.loads(pickle.dumps(hosted_root.fs))
    assert clone.cat_file(path) == b"across processes"


# -- listings and metadata


def test_listing_info_find_and_glob(root: Root) -> None:
    fs, base = root.fs, root.base
    fs.makedirs(f"{base}/sub/empty")
    fs.pipe({f"{base}/a.csv": b"x,y\n", f"{base}/sub/b.csv": b"1,2\n3,4\n", f"{base}/sub/c.json": b"{}"})
    listing = sorted(fs.ls(base), key=lambda e: e["name"])
    assert [(e["name"], e["type"], e["size"]) for e in listing] == [
        (f"{base}/a.csv", "file", 4),
        (f"{base}/sub", "directory", 0),
    ]
    assert sorted(fs.ls(base, detail=False)) == [f"{base}/a.csv", f"{base}/sub"]
    assert sorted(fs.ls(f"headwater://{base}/", detail=False)) == [f"{base}/a.csv", f"{base}/sub"]
    info = fs.info(f"{base}/sub/b.csv", refresh=True)
    assert (info["type"], info["size"]) == ("file", 8) and info["etag"] and info["mtime"].tzinfo is not None
    assert fs.info(f"{base}/sub")["type"] == "directory"
    assert fs.ls(f"{base}/a.csv") == [fs.info(f"{base}/a.csv")]  # a file lists as itself
    assert fs.find(base) == [f"{base}/a.csv", f"{base}/sub/b.csv", f"{base}/sub/c.json"]
    assert f"{base}/sub/empty" in fs.find(base, withdirs=True)
    assert fs.glob(f"{base}/**/*.csv") == [f"{base}/a.csv", f"{base}/sub/b.csv"]
    assert fs.du(base) == 4 + 8 + 2
    assert fs.isdir(f"{base}/sub/empty") and fs.ls(f"{base}/sub/empty") == []
    assert fs.modified(f"{base}/a.csv") == fs.info(f"{base}/a.csv", refresh=True)["mtime"]
    with pytest.raises(NotImplementedError):
        fs.created(f"{base}/a.csv")


def test_names_that_need_encoding(root: Root) -> None:
    names = ["a+b.txt", "100%.txt", "h#x", "q?x=1", "sp ace ü.txt"]
    for name in names:
        root.fs.pipe(f"{root.base}/{name}", name.encode())
    assert sorted(p.rsplit("/", 1)[1] for p in root.fs.ls(root.base, detail=False)) == sorted(names)
    for name in names:
        assert root.fs.cat_file(f"{root.base}/{name}") == name.encode()


def test_the_listings_cache_sees_own_writes_at_once_and_others_after_a_refresh(
    root: Root, sqlite_hub: RunningHub
) -> None:
    fs = HeadwaterFileSystem(url=root.url, token=root.token, listings_expiry_time=60, skip_instance_cache=True)
    other = filesystem(sqlite_hub, root.token)
    fs.pipe(f"{root.base}/one", b"1")
    assert fs.ls(root.base, detail=False) == [f"{root.base}/one"]
    other.pipe(f"{root.base}/two", b"2")
    assert fs.ls(root.base, detail=False) == [f"{root.base}/one"]  # cached (5 s by default; 60 s here)
    assert sorted(fs.ls(root.base, detail=False, refresh=True)) == [f"{root.base}/one", f"{root.base}/two"]
    fs.rm(f"{root.base}/one")
    assert fs.ls(root.base, detail=False) == [f"{root.base}/two"]
    uncached = HeadwaterFileSystem(url=root.url, token=root.token, use_listings_cache=False, skip_instance_cache=True)
    short = HeadwaterFileSystem(url=root.url, token=root.token, listings_expiry_time=0.2, skip_instance_cache=True)
    assert short.ls(root.base, detail=False) == [f"{root.base}/two"]
    other.pipe(f"{root.base}/three", b"3")
    assert len(uncached.ls(root.base)) == 2
    time.sleep(0.3)
    assert len(short.ls(root.base)) == 2


# -- reading


def _cache_over(data: bytes, calls: list[tuple[str, int]], blocksize: int = 4 * 1024 * 1024) -> SequentialReadahead:
    """The read cache over `data`, its ranged fetches and streamed GETs noted in `calls` (a closed
    stream notes `("closed", where it had got to)`)."""

    def fetch(start: int, end: int) -> bytes:
        calls.append(("range", start))
        return data[start:end]

    def stream(start: int) -> Iterator[bytes]:
        calls.append(("stream", start))
        at = start
        try:
            while at < len(data):  # pieces that never line up with the reads
                yield data[at : at + 300_001]
                at += 300_001
        finally:
            calls.append(("closed", at))

    return SequentialReadahead(blocksize, fetch, len(data), stream=stream)


def test_a_file_read_front_to_back_comes_from_one_streamed_get_once_the_readahead_is_at_its_ceiling() -> None:
    data = _blob(64 * 1024 * 1024 + 5)
    calls: list[tuple[str, int]] = []
    cache = _cache_over(data, calls)
    read = [cache._fetch(at, at + 1024 * 1024) for at in range(0, len(data), 1024 * 1024)]
    assert b"".join(read) == data
    cache.close()
    kinds = [kind for kind, _ in calls]
    assert kinds.count("stream") == 1 and kinds[-2:] == ["stream", "closed"]
    assert kinds.count("range") <= 10  # the doubling read-ahead, 64 KiB to 16 MiB, before it


def test_a_jump_ends_the_streamed_get_and_reads_on_by_range() -> None:
    data = _blob(40 * 1024 * 1024)
    calls: list[tuple[str, int]] = []
    cache = _cache_over(data, calls)
    for at in range(0, 30 * 1024 * 1024, 1024 * 1024):
        assert cache._fetch(at, at + 1024 * 1024) == data[at : at + 1024 * 1024]
    assert [kind for kind, _ in calls].count("stream") == 1
    assert cache._fetch(5, 50) == data[5:50]
    assert calls[-2][0] == "closed" and calls[-1] == ("range", 5)
    cache.close()
    assert [kind for kind, _ in calls].count("closed") == 1


@settings(max_examples=300, deadline=None)
@given(
    reads=st.lists(
        st.tuples(st.booleans(), st.integers(0, 2_600_000), st.integers(0, 400_000)), min_size=1, max_size=60
    )
)
def test_the_read_cache_returns_exactly_the_bytes_asked_for_whatever_the_jumps(
    reads: list[tuple[bool, int, int]],
) -> None:
    """Sequential runs (a low ceiling makes them stream after two misses) mixed with jumps anywhere."""
    data = _blob(2_500_000)
    calls: list[tuple[str, int]] = []
    with patch.object(fsspec_module, "SEQUENTIAL_READAHEAD", 128 * 1024):
        cache = _cache_over(data, calls, blocksize=64 * 1024)
        position = 0
        for jump, where, length in reads:
            start = where if jump else position
            assert cache._fetch(start, start + length) == data[start : start + length]
            position = min(start + length, len(data))
        cache.close()
    assert [kind for kind, _ in calls].count("stream") == [kind for kind, _ in calls].count("closed")


def test_a_long_sequential_read_with_jumps_reads_the_right_bytes_through_the_hub(root: Root) -> None:
    data = _blob(48 * 1024 * 1024 + 11)
    path = f"{root.base}/long.bin"
    root.fs.pipe(path, data)
    with root.fs.open(path, "rb") as f:
        got = [f.read(3 * 1024 * 1024) for _ in range(12)]  # far enough to be streaming
        assert b"".join(got) == data[: 36 * 1024 * 1024]
        f.seek(1000)
        assert f.read(10) == data[1000:1010]
        f.seek(40 * 1024 * 1024)
        assert f.read() == data[40 * 1024 * 1024 :]


def test_random_access_through_ranges(root: Root) -> None:
    data = _blob(3 * 1024 * 1024 + 17)
    path = f"{root.base}/blob.bin"
    root.fs.pipe(path, data)
    fs = root.fs
    assert fs.cat_file(path) == data
    assert fs.cat_file(path, start=10, end=20) == data[10:20]
    assert fs.cat_file(path, start=-5) == data[-5:]
    assert fs.cat_file(path, start=100, end=-100) == data[100:-100]
    assert fs.cat_file(path, start=len(data) + 5) == b""
    assert fs.cat_file(path, start=20, end=10) == b""
    assert fs.head(path, 7) == data[:7] and fs.tail(path, 7) == data[-7:]
    with fs.open(path, "rb", block_size=1024) as f:
        assert f.size == len(data)
        f.seek(2 * 1024 * 1024)
        assert f.read(100) == data[2 * 1024 * 1024 : 2 * 1024 * 1024 + 100]
        f.seek(-10, os.SEEK_END)
        assert f.read() == data[-10:]
        f.seek(5)
        assert f.read(3) == data[5:8]
    fs.touch(f"{root.base}/empty")
    assert fs.cat_file(f"{root.base}/empty") == b""
    with fs.open(f"{root.base}/empty", "rb") as f:
        assert f.read() == b""
    with fs.open(path, "r", encoding="latin-1") as text:
        assert text.read(4) == data[:4].decode("latin-1")


# -- writing


def test_writes_stream_with_bounded_memory(hosted_root: Root) -> None:
    """48 MiB written in 1 MiB pieces never holds more than the buffer and the spool's memory part.

    Hosted data only: the bound is the client's, whichever connection receives the bytes.
    """
    path = hosted_root.path(f"big-{uuid.uuid4().hex[:6]}.bin")
    piece = _blob(1024 * 1024, seed=7)
    digest = hashlib.sha256()
    tracemalloc.start()
    try:
        with hosted_root.fs.open(path, "wb") as f:
            for _ in range(48):
                f.write(piece)
                digest.update(piece)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 24 * 1024 * 1024, peak
    assert hosted_root.fs.size(path) == 48 * len(piece)
    read = hashlib.sha256()
    with hosted_root.fs.open(path, "rb") as f:
        while chunk := f.read(8 * 1024 * 1024):
            read.update(chunk)
    assert read.hexdigest() == digest.hexdigest()
    hosted_root.fs.rm(path)


def test_transactions_commit_together_or_not_at_all(root: Root) -> None:
    fs = root.fs
    with fs.transaction:
        with fs.open(f"{root.base}/t1", "wb") as f:
            f.write(b"one")
        with fs.open(f"{root.base}/t2", "wb") as f:
            f.write(b"two")
        assert not fs.exists(f"{root.base}/t1")
    assert fs.cat_file(f"{root.base}/t1") == b"one" and fs.cat_file(f"{root.base}/t2") == b"two"
    with pytest.raises(RuntimeError), fs.transaction:
        with fs.open(f"{root.base}/t3", "wb") as f:
            f.write(b"three")
        raise RuntimeError("abandon")
    assert not fs.exists(f"{root.base}/t3")


def test_append_exclusive_create_and_pipe(root: Root) -> None:
    fs, path = root.fs, f"{root.base}/log.txt"
    with fs.open(path, "ab") as f:
        f.write(b"abc")
    with fs.open(path, "ab") as f:
        assert f.tell() == 3
        f.write(b"def")
    assert fs.cat_file(path) == b"abcdef"
    with pytest.raises(FileExistsError):
        fs.open(path, "xb")
    with pytest.raises(FileExistsError):
        fs.pipe_file(path, b"x", mode="create")
    with fs.open(f"{root.base}/fresh", "xb") as f:
        f.write(b"new")
    assert fs.cat_file(f"{root.base}/fresh") == b"new"
    fs.write_text(f"{root.base}/t.txt", "héllo")
    assert fs.read_text(f"{root.base}/t.txt") == "héllo"


def test_copy_move_put_get_and_remove(root: Root, tmp_path: Path) -> None:
    fs, base = root.fs, root.base
    data = _blob(2 * 1024 * 1024 + 3, seed=1)
    fs.pipe(f"{base}/src/a.bin", data)
    fs.pipe(f"{base}/src/deep/b.bin", b"b")
    fs.cp_file(f"{base}/src/a.bin", f"{base}/copy/a.bin")
    assert fs.cat_file(f"{base}/copy/a.bin") == data
    fs.copy(f"{base}/src", f"{base}/tree", recursive=True)
    assert fs.find(f"{base}/tree") == [f"{base}/tree/a.bin", f"{base}/tree/deep/b.bin"]
    fs.mv(f"{base}/tree/deep/b.bin", f"{base}/moved.bin")
    assert fs.cat_file(f"{base}/moved.bin") == b"b" and not fs.exists(f"{base}/tree/deep/b.bin")
    # put and get stream whole files and recreate trees
    local = tmp_path / "up"
    (local / "inner").mkdir(parents=True)
    (local / "x.bin").write_bytes(data)
    (local / "inner" / "y.txt").write_text("y")
    fs.put(str(local), f"{base}/up", recursive=True)
    assert fs.find(f"{base}/up") == [f"{base}/up/inner/y.txt", f"{base}/up/x.bin"]
    fs.get(f"{base}/up", str(tmp_path / "down"), recursive=True)
    assert (tmp_path / "down" / "x.bin").read_bytes() == data
    assert (tmp_path / "down" / "inner" / "y.txt").read_text() == "y"
    # removing: a non-empty directory needs recursive; a recursive delete is one request
    with pytest.raises(OSError) as refused:
        fs.rmdir(f"{base}/src")
    assert refused.value.errno == errno.ENOTEMPTY
    with pytest.raises(OSError) as refused:
        fs.rm(f"{base}/src")
    assert refused.value.errno == errno.ENOTEMPTY
    fs.rm(f"{base}/src", recursive=True)
    assert not fs.exists(f"{base}/src")
    fs.mkdir(f"{base}/hollow")
    fs.rmdir(f"{base}/hollow")
    assert not fs.exists(f"{base}/hollow")
    fs.rm([f"{base}/copy/a.bin", f"{base}/moved.bin"])
    assert not fs.exists(f"{base}/moved.bin")
    with pytest.raises(FileNotFoundError):
        fs.rm(f"{base}/never-was")


# -- errors


def test_the_errors_fsspec_users_expect(root: Root) -> None:
    fs, base = root.fs, root.base
    fs.pipe(f"{base}/file", b"f")
    fs.mkdir(f"{base}/dir")
    fs.pipe(f"{base}/dir/inner", b"i")
    for call in (
        lambda: fs.info(f"{base}/missing"),
        lambda: fs.cat_file(f"{base}/missing"),
        lambda: fs.open(f"{base}/missing", "rb"),
        lambda: fs.ls(f"{base}/missing"),
        lambda: fs.get_file(f"{base}/missing", os.devnull),
    ):
        with pytest.raises(FileNotFoundError):
            call()
    for call in (
        lambda: fs.open(f"{base}/dir", "rb"),
        lambda: fs.cat_file(f"{base}/dir"),
        lambda: fs.pipe_file(f"{base}/dir", b"x"),
        lambda: fs.rm_file(f"{base}/dir"),
    ):
        with pytest.raises(IsADirectoryError):
            call()
    for call in (
        lambda: fs.mkdir(f"{base}/file/child"),
        lambda: fs.rmdir(f"{base}/file"),
    ):
        with pytest.raises(NotADirectoryError):
            call()
    if base.startswith("data/"):
        with pytest.raises(NotADirectoryError):
            fs.pipe_file(f"{base}/file/child", b"x")
    else:  # an object store keeps `file` and `file/child` side by side, as s3fs does
        fs.pipe_file(f"{base}/file/child", b"x")
        assert fs.cat_file(f"{base}/file") == b"f"
        fs.rm_file(f"{base}/file/child")
    for call in (
        lambda: fs.mkdir(f"{base}/dir"),
        lambda: fs.mkdir(f"{base}/file"),
        lambda: fs.makedirs(f"{base}/dir"),
        lambda: fs.makedirs(f"{base}/file", exist_ok=True),
    ):
        with pytest.raises(FileExistsError):
            call()
    fs.makedirs(f"{base}/dir", exist_ok=True)
    with pytest.raises(FileNotFoundError):
        fs.mkdir(f"{base}/no/such/parent", create_parents=False)
    with pytest.raises(ValueError):
        fs.cat_file(f"{base}/../escape")
    assert fs.cat_file(f"{base}/file") == b"f"  # nothing above changed the data


def test_a_token_the_hub_refuses_is_a_permission_error(hosted_root: Root) -> None:
    fs = HeadwaterFileSystem(url=hosted_root.url, token="hw_not-a-token", skip_instance_cache=True)
    with pytest.raises(PermissionError):
        fs.ls(hosted_root.base)


# -- rights: exactly the Data API's


def test_a_read_only_token_reads_and_cannot_write(hosted_root: Root) -> None:
    path = hosted_root.path("rights/kept.txt")
    hosted_root.fs.pipe(path, b"kept")
    with Client(hosted_root.url, hosted_root.token) as hub:
        narrowed = hub.tokens.create(read_only=True)["token"]
    fs = HeadwaterFileSystem(url=hosted_root.url, token=narrowed, skip_instance_cache=True)
    assert fs.cat_file(path) == b"kept" and fs.ls(hosted_root.path("rights"), detail=False) == [path]
    for call in (
        lambda: fs.pipe(path, b"changed"),
        lambda: fs.pipe(hosted_root.path("rights/new.txt"), b"new"),
        lambda: fs.mkdir(hosted_root.path("rights/sub")),
        lambda: fs.rm(path),
        lambda: fs.rm(hosted_root.path("rights"), recursive=True),
        lambda: fs.cp_file(path, hosted_root.path("rights/copy.txt")),
    ):
        with pytest.raises(PermissionError):
            call()
    assert hosted_root.fs.cat_file(path) == b"kept"
    assert hosted_root.fs.ls(hosted_root.path("rights"), detail=False, refresh=True) == [path]


def test_a_path_narrowed_token_stays_inside_its_prefix(hosted_root: Root) -> None:
    inside, outside = hosted_root.path("scoped/in/a.txt"), hosted_root.path("scoped/out/b.txt")
    hosted_root.fs.pipe({inside: b"in", outside: b"out"})
    org_path = hosted_root.path("scoped/in").removeprefix("data/")
    with Client(hosted_root.url, hosted_root.token) as hub:
        narrowed = hub.tokens.create(path_prefix=f"data://{org_path}/")["token"]
    fs = HeadwaterFileSystem(url=hosted_root.url, token=narrowed, skip_instance_cache=True)
    assert fs.cat_file(inside) == b"in"
    with pytest.raises(PermissionError):
        fs.cat_file(outside)
    assert fs.find(hosted_root.path("scoped/in")) == [inside]


def test_another_organizations_data_does_not_exist(hosted_root: Root, sqlite_hub: RunningHub) -> None:
    hosted_root.fs.pipe(hosted_root.path("secret.txt"), b"ours")
    stranger = filesystem(sqlite_hub, sqlite_hub.token())
    with pytest.raises(FileNotFoundError):
        stranger.cat_file(hosted_root.path("secret.txt"))
    with pytest.raises(FileNotFoundError):
        stranger.ls(hosted_root.base)
    with pytest.raises(FileNotFoundError):
        stranger.pipe(hosted_root.path("planted.txt"), b"theirs")
    assert not hosted_root.fs.exists(hosted_root.path("planted.txt"))


def test_a_connection_without_a_bucket_takes_it_from_the_path(sqlite_hub: RunningHub, seaweedfs: SeaweedFS) -> None:
    bucket = seaweedfs.create_bucket()
    token = sqlite_hub.token()
    connection = s3_source(sqlite_hub, token, seaweedfs, None)
    uri = f"headwater://{connection}/{bucket}/team/key.csv"
    with fsspec.open(uri, "w", url=sqlite_hub.url, token=token) as f:
        f.write("x,y\n1,2\n")
    # fsspec.open made the parent first (auto_mkdir): the s3 kind's folder marker, hidden by the hub
    assert seaweedfs.keys_in(bucket) == ["team/.headwater-folder", "team/key.csv"]
    fs = filesystem(sqlite_hub, token)
    assert fs.isdir(connection) and fs.isdir(f"{connection}/{bucket}")
    assert fs.ls(f"{connection}/{bucket}", detail=False) == [f"{connection}/{bucket}/team"]
    assert fs.ls(f"{connection}/{bucket}/team", detail=False) == [f"{connection}/{bucket}/team/key.csv"]
    fs.mkdir(f"{connection}/{bucket}/made")
    assert fs.isdir(f"{connection}/{bucket}/made")
    with fsspec.open(uri, "r", url=sqlite_hub.url, token=token) as f:
        assert f.read() == "x,y\n1,2\n"


def test_a_read_only_connection_refuses_writes(sqlite_hub: RunningHub, seaweedfs: SeaweedFS) -> None:
    bucket = seaweedfs.create_bucket()
    token = sqlite_hub.token()
    writable = s3_source(sqlite_hub, token, seaweedfs, bucket)
    readable = s3_source(sqlite_hub, token, seaweedfs, bucket, access="read")
    fs = filesystem(sqlite_hub, token)
    fs.pipe(f"{writable}/shared/a.txt", b"a")
    assert fs.cat_file(f"{readable}/shared/a.txt") == b"a"
    for call in (
        lambda: fs.pipe(f"{readable}/shared/b.txt", b"b"),
        lambda: fs.mkdir(f"{readable}/new"),
        lambda: fs.rm(f"{readable}/shared", recursive=True),
    ):
        with pytest.raises(PermissionError):
            call()
    assert seaweedfs.keys_in(bucket) == ["shared/a.txt"]

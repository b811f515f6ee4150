"""The S3 family against a real SeaweedFS: data operations, confinement, presets, and the hub end to end."""

from __future__ import annotations

import base64
import hashlib
import http.server
import os
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import obstore as obs
import pytest

from headwater.connectors import catalogue, guarded_proxy
from headwater.connectors import s3 as s3_module
from headwater.connectors.base import Connector, Credentials, decode_marker
from headwater.connectors.kind import BuildContext
from headwater.connectors.s3 import FOLDER_MARKER, Location, Timeouts, location_of, make_store
from headwater.connectors.s3_profiles import PROFILES, MiB
from headwater.errors import (
    Conflict,
    EndpointRefused,
    HeadwaterError,
    InvalidInput,
    InvalidPart,
    NoSuchUpload,
    NotFound,
    PayloadTooLarge,
    UpstreamError,
    UpstreamPermissionDenied,
)
from tests.connectors.contract import chunks_of, read_all
from tests.fixtures.hub import RunningHub
from tests.fixtures.seaweedfs import Keys, SeaweedFS

pytestmark = pytest.mark.anyio


def build(
    server: SeaweedFS,
    bucket: str | None,
    keys: Keys | None = None,
    *,
    kind: str = "s3",
    allow_private: bool = True,
    chunk_size: int = 256 * 1024,
    **params: Any,
) -> Connector:
    """A connector built the way the hub builds one: params validated by the kind's schema."""
    spec = catalogue.get(kind)
    values: dict[str, Any] = {"endpoint": server.endpoint, "region": server.region, **params}
    if bucket is not None:
        values["bucket"] = bucket
    model = spec.params.model_validate(values)
    creds = Credentials(keys.access_key, {"secretKey": keys.secret_key}) if keys else None
    return spec.build(
        model, creds, BuildContext(Path("/nonexistent"), allow_private_endpoints=allow_private, chunk_size=chunk_size)
    )


@pytest.fixture
def bucket(seaweedfs: SeaweedFS) -> str:
    return seaweedfs.create_bucket()


@pytest.fixture
async def conn(seaweedfs: SeaweedFS, bucket: str) -> AsyncIterator[Connector]:
    connector = build(seaweedfs, bucket, seaweedfs.rw)
    try:
        yield connector
    finally:
        await connector.close()


async def pieces(data: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


# ---------------------------------------------------------------------------------------------
# Reads and writes


async def test_stat_and_ranged_reads(conn: Connector) -> None:
    data = os.urandom(10_000)
    entry = await conn.write("dir/sub/data.bin", chunks_of(data, 1000))
    assert entry.size == len(data) and entry.etag and entry.modified is not None
    assert (await conn.stat("dir")).is_dir and (await conn.stat("dir/sub")).is_dir
    assert await read_all(conn, "dir/sub/data.bin", 100, 200) == data[100:200]
    assert await read_all(conn, "dir/sub/data.bin", 9_990, None) == data[9_990:]
    assert await read_all(conn, "dir/sub/data.bin", None, 10) == data[:10]
    assert await read_all(conn, "dir/sub/data.bin", 5, 5) == b""
    with pytest.raises(InvalidInput):
        await read_all(conn, "dir/sub")  # a directory
    with pytest.raises(NotFound):
        await read_all(conn, "dir/none.bin")


async def test_multi_mib_upload_goes_through_multipart_and_reads_stream(seaweedfs: SeaweedFS, bucket: str) -> None:
    conn = build(seaweedfs, bucket, seaweedfs.rw, chunk_size=1 * MiB)
    data = os.urandom(12 * MiB + 123)
    entry = await conn.write("big/blob.bin", pieces(data, 256 * 1024))
    assert entry.size == len(data)
    assert entry.etag is not None and entry.etag.strip('"').endswith("-2")  # two 8 MiB parts: a multipart upload
    digest = hashlib.sha256()
    sizes: list[int] = []
    async for chunk in conn.read("big/blob.bin"):
        digest.update(chunk)
        sizes.append(len(chunk))
    assert digest.digest() == hashlib.sha256(data).digest()
    assert len(sizes) > 4 and max(sizes) <= 2 * MiB  # streamed in bounded chunks, never the whole object
    assert seaweedfs.pending_uploads(bucket) == []


async def test_an_upload_failing_mid_stream_is_aborted(seaweedfs: SeaweedFS, bucket: str, conn: Connector) -> None:
    async def dies_after_two_parts() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield os.urandom(MiB)  # 20 MiB: the multipart upload is under way
        raise RuntimeError("client went away")

    with pytest.raises(RuntimeError, match="client went away"):
        await conn.write("partial.bin", dies_after_two_parts())
    with pytest.raises(NotFound):
        await conn.stat("partial.bin")
    assert seaweedfs.keys_in(bucket) == []
    assert seaweedfs.uploads_settled(bucket) == []  # aborted, not left behind


async def test_a_cancelled_upload_is_aborted(seaweedfs: SeaweedFS, bucket: str, conn: Connector) -> None:
    async def stalls() -> AsyncIterator[bytes]:
        for _ in range(12):
            yield os.urandom(MiB)
        await anyio.sleep(30)
        yield b"never"

    with anyio.move_on_after(1) as scope:
        await conn.write("cancelled.bin", stalls())
    assert scope.cancelled_caught
    assert seaweedfs.keys_in(bucket) == []
    assert seaweedfs.pending_uploads(bucket) == []


async def test_upload_size_beyond_the_provider_limit_is_refused(conn: Connector) -> None:
    with pytest.raises(PayloadTooLarge):
        await conn.write("huge.bin", chunks_of(b"x"), size_hint=PROFILES["s3"].max_object_size + 1)


def test_part_size_grows_with_the_announced_size() -> None:
    profile = PROFILES["s3"]
    assert profile.part_size(None) == profile.default_part_size
    assert profile.part_size(10 * MiB) == profile.default_part_size
    big = 200 * 1024 * MiB  # 200 GiB needs parts above 8 MiB to stay within 10,000 parts
    assert profile.part_size(big) * profile.max_parts >= big
    assert PROFILES["storj"].part_size(None) == 64 * MiB


# ---------------------------------------------------------------------------------------------
# Listing, directories, deletes


async def test_listing_pages_are_bounded_and_cover_everything(conn: Connector, monkeypatch: pytest.MonkeyPatch) -> None:
    # A tiny listing request size makes the big folder span several requests, so skipping it restarts the listing.
    monkeypatch.setattr(s3_module, "LIST_CHUNK", 2)
    for i in range(7):
        await conn.write(f"many/file{i}.txt", chunks_of(b"x"))
    for name in ("a-dir", "big", "z-dir"):
        await conn.write(f"many/{name}/inner.txt", chunks_of(b"y"))
    for i in range(6):
        await conn.write(f"many/big/more{i}.txt", chunks_of(b"z"))
    await conn.write("many-sibling.txt", chunks_of(b"not inside"))
    seen: list[tuple[str, bool]] = []
    marker = None
    pages = 0
    while True:
        page = await conn.list("many", marker, 3)
        pages += 1
        assert len(page.folders) + len(page.files) <= 3
        assert [f.name for f in page.files] == sorted(f.name for f in page.files)
        seen += [(f.name, True) for f in page.folders] + [(f.name, False) for f in page.files]
        marker = page.marker
        if marker is None:
            break
        assert "many" not in marker and decode_marker(marker)  # opaque, but ours
    assert pages >= 4
    assert sorted(seen) == sorted(
        [(f"file{i}.txt", False) for i in range(7)] + [(n, True) for n in ("a-dir", "big", "z-dir")]
    )
    with pytest.raises(InvalidInput):
        await conn.list("many", "%%% not a marker %%%", 3)


async def test_directories_follow_one_rule(seaweedfs: SeaweedFS, bucket: str, conn: Connector) -> None:
    await conn.mkdir("made")
    assert seaweedfs.keys_in(bucket) == [f"made/{FOLDER_MARKER}"]
    assert (await conn.stat("made")).is_dir
    assert (await conn.list("made")).files == []  # the marker is never listed
    with pytest.raises(Conflict):
        await conn.mkdir("made")
    await conn.write("made/f.txt", chunks_of(b"1"))
    with pytest.raises(Conflict):
        await conn.mkdir("made/f.txt")  # a file
    with pytest.raises(Conflict):
        await conn.mkdir("made/f.txt/below")  # below a file
    with pytest.raises(Conflict):
        await conn.rmdir("made")
    with pytest.raises(InvalidInput):
        await conn.rmdir("made/f.txt")
    with pytest.raises(InvalidInput):
        await conn.write(f"made/{FOLDER_MARKER}", chunks_of(b"x"))
    with pytest.raises(Conflict):
        await conn.write("made", chunks_of(b"a file over a directory"))
    assert await conn.rmdir("made", recursive=True) == 1  # the marker is not counted
    assert seaweedfs.keys_in(bucket) == []
    with pytest.raises(NotFound):
        await conn.rmdir("made")
    # A directory only written into exists while it holds something.
    await conn.write("implicit/x.txt", chunks_of(b"x"))
    await conn.delete("implicit/x.txt")
    with pytest.raises(NotFound):
        await conn.stat("implicit")


async def test_delete(conn: Connector) -> None:
    await conn.write("d/one.txt", chunks_of(b"1"))
    await conn.write("d/two.txt", chunks_of(b"2"))
    await conn.delete("d/one.txt")
    with pytest.raises(NotFound):
        await conn.stat("d/one.txt")
    with pytest.raises(NotFound):
        await conn.delete("d/one.txt")
    with pytest.raises(InvalidInput):
        await conn.delete("d")
    assert [f.name for f in (await conn.list("d")).files] == ["two.txt"]


async def test_a_prefix_is_the_root_and_nothing_escapes_it(seaweedfs: SeaweedFS, bucket: str) -> None:
    whole = build(seaweedfs, bucket, seaweedfs.rw)
    await whole.write("tenant-b/secret.txt", chunks_of(b"not yours"))
    await whole.write("tenant-a-sibling.txt", chunks_of(b"not yours either"))
    rooted = build(seaweedfs, bucket, seaweedfs.rw, prefix="/tenant-a/")
    await rooted.write("mine.txt", chunks_of(b"mine"))
    assert seaweedfs.keys_in(bucket, "tenant-a") == ["tenant-a/mine.txt"]
    page = await rooted.list("")
    assert [f.name for f in page.files] == ["mine.txt"] and page.folders == []
    for escape in ("../tenant-b/secret.txt", "./mine.txt", "a//b", "x\\..\\y"):
        with pytest.raises(InvalidInput):
            await rooted.stat(escape)
    with pytest.raises(NotFound):
        await rooted.stat("tenant-b/secret.txt")
    with pytest.raises(InvalidInput):
        await rooted.rmdir("", recursive=True)
    with pytest.raises(ValueError):
        catalogue.get("s3").params.model_validate({"endpoint": seaweedfs.endpoint, "prefix": "a/../b"})


async def test_without_a_bucket_the_first_segment_names_it(seaweedfs: SeaweedFS, bucket: str) -> None:
    conn = build(seaweedfs, None, seaweedfs.rw)
    await conn.write(f"{bucket}/k/v.txt", chunks_of(b"value"))
    assert seaweedfs.keys_in(bucket) == ["k/v.txt"]
    assert await read_all(conn, f"{bucket}/k/v.txt") == b"value"
    assert (await conn.stat(bucket)).is_dir
    assert [f.name for f in (await conn.list(bucket)).folders] == ["k"]
    assert bucket in [f.name for f in (await conn.list("")).folders]  # the root lists the buckets
    assert (await conn.stat("")).is_dir
    with pytest.raises(NotFound):
        await conn.stat(f"hw-missing-{uuid.uuid4().hex[:8]}/k")
    with pytest.raises(InvalidInput):
        await conn.write(bucket, chunks_of(b"x"))
    await conn.mkdir(f"{bucket}/made")  # the bucket is its parent: a root, never a file
    assert (await conn.stat(f"{bucket}/made")).is_dir
    await conn.check()


async def test_a_copy_one_copyobject_cannot_make_is_left_to_the_caller(
    seaweedfs: SeaweedFS, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Across buckets, onto itself and above S3's one-request limit a copy is streamed by the caller."""
    conn = build(seaweedfs, None, seaweedfs.rw)
    other = seaweedfs.create_bucket()
    await conn.write(f"{bucket}/src.bin", chunks_of(b"0123456789"))
    assert await conn.copy(f"{bucket}/src.bin", f"{other}/dst.bin") is None
    assert await conn.copy(f"{bucket}/src.bin", f"{bucket}/src.bin") is None
    monkeypatch.setattr(s3_module, "MAX_COPY", 9)
    assert await conn.copy(f"{bucket}/src.bin", f"{bucket}/big.bin") is None
    assert seaweedfs.keys_in(other) == [] and seaweedfs.keys_in(bucket) == ["src.bin"]
    monkeypatch.setattr(s3_module, "MAX_COPY", 10)
    copied = await conn.copy(f"{bucket}/src.bin", f"{bucket}/dst.bin")
    assert copied is not None and copied.size == 10 and await read_all(conn, f"{bucket}/dst.bin") == b"0123456789"
    with pytest.raises(InvalidInput):
        await conn.copy(f"{bucket}/src.bin", bucket)


# ---------------------------------------------------------------------------------------------
# Multipart uploads on the backend itself (the S3 front door's, passed through)


def pending_uploads(seaweedfs: SeaweedFS, bucket: str) -> list[str]:
    return [path.rsplit("/", 1)[-1] for path in seaweedfs.pending_uploads(bucket)]


async def test_parts_go_to_a_backend_upload_and_complete_there(
    seaweedfs: SeaweedFS, bucket: str, conn: Connector
) -> None:
    assert conn.capabilities.parts
    upload = await conn.begin_parts("mp/x.bin")
    assert (upload.bucket, upload.key) == (bucket, "mp/x.bin")
    assert pending_uploads(seaweedfs, bucket) == [upload.upload_id]
    first, second = os.urandom(5 * MiB), b"the last part"
    taken = [
        await conn.put_part("mp/x.bin", upload, 1, pieces(first, 64 * 1024), len(first)),
        await conn.put_part("mp/x.bin", upload, 2, chunks_of(second), len(second)),
    ]
    assert [p.etag for p in taken] == [hashlib.md5(first).hexdigest(), hashlib.md5(second).hexdigest()]
    listed = await conn.list_parts("mp/x.bin", upload)
    assert [(p.number, p.etag, p.size) for p in listed] == [(1, taken[0].etag, len(first)), (2, taken[1].etag, 13)]
    assert seaweedfs.keys_in(bucket) == []  # nothing is visible before the completion
    entry = await conn.complete_parts("mp/x.bin", upload, [(p.number, p.etag) for p in taken])
    joined = hashlib.md5(hashlib.md5(first).digest() + hashlib.md5(second).digest()).hexdigest()
    assert (entry.etag or "").strip('"') == f"{joined}-2"
    assert obs.head(seaweedfs.store(bucket), "mp/x.bin")["e_tag"] == entry.etag
    assert await read_all(conn, "mp/x.bin") == first + second
    assert pending_uploads(seaweedfs, bucket) == []


async def test_the_backends_refusals_of_parts_are_the_hubs_multipart_errors(
    seaweedfs: SeaweedFS, bucket: str, conn: Connector
) -> None:
    upload = await conn.begin_parts("bad/x")
    part = await conn.put_part("bad/x", upload, 1, chunks_of(b"only"), 4)
    with pytest.raises(InvalidPart):
        await conn.complete_parts("bad/x", upload, [(1, "0" * 32)])
    with pytest.raises(NoSuchUpload):  # the key a path resolves to must be the upload's
        await conn.put_part("bad/y", upload, 2, chunks_of(b"x"), 1)
    with pytest.raises(InvalidInput):
        await conn.begin_parts("")
    await conn.abort_parts("bad/x", upload)
    assert pending_uploads(seaweedfs, bucket) == []
    for late in (
        conn.put_part("bad/x", upload, 2, chunks_of(b"late"), 4),
        conn.complete_parts("bad/x", upload, [(1, part.etag)]),
    ):
        with pytest.raises(NoSuchUpload):
            await late
    assert seaweedfs.keys_in(bucket) == []


async def test_parts_follow_the_prefix_and_the_bucket_less_first_segment(seaweedfs: SeaweedFS, bucket: str) -> None:
    for conn, path, key in (
        (build(seaweedfs, bucket, seaweedfs.rw, prefix="root/sub"), "a/b", "root/sub/a/b"),
        (build(seaweedfs, None, seaweedfs.rw), f"{bucket}/a/b", "a/b"),
    ):
        try:
            upload = await conn.begin_parts(path)
            assert (upload.bucket, upload.key) == (bucket, key)
            part = await conn.put_part(path, upload, 1, chunks_of(b"here"), 4)
            await conn.complete_parts(path, upload, [(1, part.etag)])
            assert key in seaweedfs.keys_in(bucket)
        finally:
            await conn.close()


def test_a_redirect_of_a_multipart_request_is_never_followed(seaweedfs: SeaweedFS) -> None:
    """The backend's multipart requests go through the guarded proxy and follow no redirect: a 307 to another
    host fails the request, and that host is never asked."""
    asked: list[str] = []

    class Elsewhere(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    class Redirecting(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # an empty listing: the key is no folder
            body = b'<?xml version="1.0"?><ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(307)
            self.send_header("Location", f"http://127.0.0.2:{elsewhere.server_address[1]}{self.path}")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    elsewhere = http.server.ThreadingHTTPServer(("127.0.0.2", 0), Elsewhere)
    redirecting = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    for server in (elsewhere, redirecting):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        location = Location(
            PROFILES["s3"], f"http://127.0.0.1:{redirecting.server_address[1]}", "us-east-1", "b", "", None
        )
        conn = s3_module.S3Connector(location, Credentials("k", {"secretKey": "s"}), allow_private_endpoints=True)

        async def begin() -> None:
            try:
                await conn.begin_parts("x")
            finally:
                await conn.close()

        with pytest.raises(HeadwaterError):
            anyio.run(begin)
        assert asked == []
    finally:
        for server in (elsewhere, redirecting):
            server.shutdown()
            server.server_close()


# ---------------------------------------------------------------------------------------------
# Presets and profiles


def test_presets_are_registered_with_optional_credentials() -> None:
    for name in ("s3", "aws", "gcp", "storj"):
        kind = catalogue.get(name)
        assert kind.credentials == "optional" and kind.capabilities.output
        assert "bucket" in kind.schema()["properties"]
    assert "endpoint" in catalogue.get("s3").schema()["required"]
    assert "required" not in catalogue.get("aws").schema()


def test_presets_resolve_endpoints_regions_and_addressing() -> None:
    aws = location_of(
        PROFILES["aws"], catalogue.get("aws").params.model_validate({"region": "eu-west-3", "bucket": "logs"})
    )
    assert aws.endpoint == "https://s3.eu-west-3.amazonaws.com"
    assert aws.bucket_endpoint("logs") == ("https://logs.s3.eu-west-3.amazonaws.com", False)
    assert aws.bucket_endpoint("with.dots") == ("https://s3.eu-west-3.amazonaws.com", True)
    gcp = location_of(PROFILES["gcp"], catalogue.get("gcp").params.model_validate({"bucket": "b-1"}))
    assert (gcp.endpoint, gcp.region) == ("https://storage.googleapis.com", "auto")
    storj = location_of(PROFILES["storj"], catalogue.get("storj").params.model_validate({}))
    assert (storj.endpoint, storj.region) == ("https://gateway.storjshare.io", "global")
    for kind, params in (
        ("storj", {"region": "us-east-1"}),
        ("gcp", {"region": "europe-west1"}),
        ("s3", {"endpoint": "https://user:pw@example.com"}),
        ("s3", {"endpoint": "ftp://example.com"}),
        ("s3", {"endpoint": "https://example.com/path?x=1"}),
        ("s3", {"endpoint": "https://example.com", "bucket": "no/slash"}),
        ("s3", {"endpoint": "https://example.com", "unknown": 1}),
    ):
        with pytest.raises(ValueError):
            catalogue.get(kind).params.model_validate(params)


async def test_aws_preset_quirks_work_against_a_real_server(seaweedfs: SeaweedFS, bucket: str) -> None:
    """The aws profile (sha256 checksums) and gcp profile (no bulk delete), pointed at SeaweedFS."""
    for kind in ("aws", "gcp"):
        region = seaweedfs.region if kind == "aws" else "auto"
        conn = build(seaweedfs, bucket, seaweedfs.rw, kind=kind, region=region, pathStyle=True)
        await conn.write(f"{kind}/a.txt", chunks_of(b"preset"))
        await conn.write(f"{kind}/b.txt", chunks_of(b"preset"))
        assert await read_all(conn, f"{kind}/a.txt") == b"preset"
        assert await conn.rmdir(kind, recursive=True) == 2
        await conn.check(write=True)
    assert seaweedfs.keys_in(bucket) == []


# ---------------------------------------------------------------------------------------------
# No ambient credentials, endpoint safety


@pytest.fixture
def hub_identity_in_env(seaweedfs: SeaweedFS, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The hub process holds valid cloud keys of its own, as it might on a cloud VM."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", seaweedfs.rw.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", seaweedfs.rw.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", seaweedfs.region)
    yield


async def test_a_source_without_a_secret_never_uses_the_hubs_credentials(
    seaweedfs: SeaweedFS, bucket: str, hub_identity_in_env: None
) -> None:
    await build(seaweedfs, bucket, seaweedfs.rw).write("private.txt", chunks_of(b"private"))
    anonymous = build(seaweedfs, bucket, None)
    with pytest.raises(UpstreamPermissionDenied):
        await read_all(anonymous, "private.txt")
    with pytest.raises(UpstreamPermissionDenied):
        await anonymous.list("")
    with pytest.raises(UpstreamPermissionDenied):
        await anonymous.check()


async def test_the_environment_cannot_redirect_or_re_sign_a_connection(
    seaweedfs: SeaweedFS, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SESSION_TOKEN", "hub-session-token")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "hub-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "hub-secret")
    monkeypatch.setenv("AWS_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_PROXY_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_VIRTUAL_HOSTED_STYLE_REQUEST", "true")
    conn = build(seaweedfs, bucket, seaweedfs.rw)
    await conn.write("env.txt", chunks_of(b"explicit config only"))
    assert await read_all(conn, "env.txt") == b"explicit config only"


@pytest.fixture
def header_recorder() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A loopback HTTP server that accepts every PUT and records its headers."""
    seen: list[dict[str, str]] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            seen.append({k.lower(): v for k, v in self.headers.items()})
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("ETag", '"recorded"')
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


async def test_only_the_sources_own_settings_reach_an_endpoint(
    header_recorder: tuple[str, list[dict[str, str]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, seen = header_recorder
    monkeypatch.setenv("AWS_SESSION_TOKEN", "hub-session-token")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "hub-key")
    monkeypatch.setenv("AWS_REQUEST_PAYER", "true")
    location = Location(PROFILES["s3"], url, "us-east-1", "bucket", "", None)
    store = make_store(
        location,
        "bucket",
        Credentials("user-key", {"secretKey": "user-secret"}),
        Timeouts(),
        probe=False,
        route=guarded_proxy.route(allow_private=True, connect_timeout=5),
    )
    await obs.put_async(store, "k", b"data")
    assert seen[0]["authorization"].startswith("AWS4-HMAC-SHA256 Credential=user-key/")
    assert not any("encryption" in name or "security-token" in name or "payer" in name for name in seen[0])
    assert not any("hub-" in value for value in seen[0].values())


async def test_the_hubs_encryption_keys_are_refused_not_forwarded(
    header_recorder: tuple[str, list[dict[str, str]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """obstore would send the hub's SSE-C key or KMS key id to any endpoint: such an environment is refused."""
    url, seen = header_recorder
    monkeypatch.setenv("AWS_SERVER_SIDE_ENCRYPTION", "sse-c")
    monkeypatch.setenv("AWS_SSE_CUSTOMER_KEY_BASE64", base64.b64encode(os.urandom(32)).decode())
    location = Location(PROFILES["s3"], url, "us-east-1", "bucket", "", None)
    with pytest.raises(UpstreamError, match="AWS_SERVER_SIDE_ENCRYPTION"):
        make_store(
            location,
            "bucket",
            Credentials("user-key", {"secretKey": "user-secret"}),
            Timeouts(),
            probe=False,
            route=guarded_proxy.route(allow_private=True, connect_timeout=5),
        )
    assert seen == []


def test_private_and_metadata_endpoints_are_refused(seaweedfs: SeaweedFS, bucket: str) -> None:
    with pytest.raises(EndpointRefused):
        build(seaweedfs, bucket, seaweedfs.rw, allow_private=False)
    for endpoint in ("http://169.254.169.254", "http://[fd00:ec2::254]", "http://100.100.100.200"):
        with pytest.raises(EndpointRefused):
            build(seaweedfs, bucket, seaweedfs.rw, endpoint=endpoint)


def test_without_a_bucket_the_endpoint_is_checked_too(seaweedfs: SeaweedFS) -> None:
    with pytest.raises(EndpointRefused):
        build(seaweedfs, None, seaweedfs.rw, endpoint="http://169.254.169.254")
    with pytest.raises(EndpointRefused):
        build(seaweedfs, None, seaweedfs.rw, allow_private=False)


# ---------------------------------------------------------------------------------------------
# End to end through the hub


def _create_source(api: httpx.Client, **body: Any) -> dict[str, Any]:
    response = api.post("/v1/sources", json={"protocol": "s3", "access": "read-write", **body})
    assert response.status_code == 201, response.text
    return response.json()


def _test_source(api: httpx.Client, source_id: str) -> dict[str, Any]:
    response = api.post(f"/v1/sources/{source_id}/test")
    assert response.status_code == 200, response.text
    return response.json()


def test_through_the_hub(seaweedfs: SeaweedFS, sqlite_hub: RunningHub, monkeypatch: pytest.MonkeyPatch) -> None:
    bucket = seaweedfs.create_bucket()
    wrong_secret = "wrong-" + uuid.uuid4().hex
    with sqlite_hub.client(sqlite_hub.token()) as api:
        for secret_id, secret_key in (("s3-good", seaweedfs.rw.secret_key), ("s3-bad", wrong_secret)):
            response = api.post(
                "/v1/secrets",
                json={
                    "id": secret_id,
                    "secretType": "s3",
                    "accessKey": seaweedfs.rw.access_key,
                    "secretKey": secret_key,
                },
            )
            assert response.status_code == 201, response.text

        params = {"endpoint": seaweedfs.endpoint, "region": seaweedfs.region, "bucket": bucket}
        good = _create_source(api, label="lake", params=params, secretId="s3-good")
        assert good["state"]["code"] == "002"
        tested = _test_source(api, good["id"])
        assert tested["state"]["code"] == "100" and tested["state"]["healthy"], tested["state"]

        data = os.urandom(300_000)
        response = api.put("/v1/connector/s3+lake/in/data.bin", content=data)
        assert response.status_code == 200, response.text
        assert api.get("/v1/connector/s3+lake/in/data.bin").content == data
        ranged = api.get("/v1/connector/s3+lake/in/data.bin", headers={"Range": "bytes=10-19"})
        assert ranged.status_code == 206 and ranged.content == data[10:20]
        listing = api.get("/v1/connector/s3+lake/in/").json()
        assert [f["filename"] for f in listing["files"]] == ["data.bin"]
        assert api.get("/v1/connector/s3+lake/in/missing.bin").status_code == 404
        assert seaweedfs.keys_in(bucket) == ["in/data.bin"]

        # Algorithmia style: no bucket in the source, the first path segment names it.
        loose = _create_source(
            api,
            label="buckets",
            params={"endpoint": seaweedfs.endpoint, "region": seaweedfs.region},
            secretId="s3-good",
        )
        assert _test_source(api, loose["id"])["state"]["code"] == "100"
        assert api.put(f"/v1/connector/s3+buckets/{bucket}/b/key.txt", content=b"by bucket").status_code == 200
        assert api.get(f"/v1/connector/s3+buckets/{bucket}/b/key.txt").content == b"by bucket"
        assert api.delete(f"/v1/connector/s3+buckets/{bucket}/b/key.txt").status_code == 200

        bad = _create_source(api, label="badkeys", params=params, secretId="s3-bad")
        state = _test_source(api, bad["id"])["state"]
        assert state["code"] == "301" and not state["healthy"]
        assert "credentials" in state["reason"] and "SignatureDoesNotMatch" in state["reason"]
        after = api.get(f"/v1/sources/{bad['id']}").json()
        assert (after["params"], after["secretId"], after["access"]) == (params, "s3-bad", "read-write")
        failed_read = api.get("/v1/connector/s3+badkeys/in/data.bin")
        assert failed_read.status_code == 502 and failed_read.json()["error"]["code"].startswith("upstream_")

        monkeypatch.setenv("AWS_ACCESS_KEY_ID", seaweedfs.rw.access_key)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", seaweedfs.rw.secret_key)
        anonymous = _create_source(api, label="anon", params=params, access="read")
        state = _test_source(api, anonymous["id"])["state"]
        assert state["code"] == "302" and not state["healthy"]
        assert api.get("/v1/connector/s3+anon/in/data.bin").status_code == 502

        metadata = _create_source(api, label="meta", params={**params, "endpoint": "http://169.254.169.254"})
        assert _test_source(api, metadata["id"])["state"]["code"] == "308"

    for secret in (seaweedfs.rw.secret_key, wrong_secret):
        assert not any(secret in entry for entry in sqlite_hub.transcript)
        assert not any(secret in line for line in sqlite_hub.logs.lines)


def test_a_client_that_disconnects_mid_upload_leaves_nothing_in_the_bucket(
    seaweedfs: SeaweedFS, sqlite_hub: RunningHub
) -> None:
    import socket
    import time

    bucket = seaweedfs.create_bucket()
    token = sqlite_hub.token()
    with sqlite_hub.client(token) as api:
        api.post(
            "/v1/secrets",
            json={
                "id": "cut",
                "secretType": "s3",
                "accessKey": seaweedfs.rw.access_key,
                "secretKey": seaweedfs.rw.secret_key,
            },
        ).raise_for_status()
        _create_source(
            api,
            label="cut",
            secretId="cut",
            params={"endpoint": seaweedfs.endpoint, "region": seaweedfs.region, "bucket": bucket},
        )
    host, port = sqlite_hub.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            b"PUT /v1/connector/s3+cut/cut.bin HTTP/1.1\r\nHost: hub\r\nAuthorization: "
            + token.encode()
            + b"\r\nContent-Length: 33554432\r\n\r\n"
            + os.urandom(12 * 1024 * 1024)
        )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (seaweedfs.keys_in(bucket) or seaweedfs.pending_uploads(bucket)):
        time.sleep(0.2)
    assert seaweedfs.keys_in(bucket) == [] and seaweedfs.pending_uploads(bucket) == []

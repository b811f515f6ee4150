"""Over a thousand hostile paths through the Data API and the SDK: every one refused or confined,
none reaching a backend outside the connection's root and restrictions (checked on disk afterwards)."""

from __future__ import annotations

import hashlib
import http.client
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from headwater.client import Client
from tests.fixtures.hub import RunningHub
from tests.fixtures.store_files import is_store_file
from tests.security.corpus import hostile_paths

MARK = b"hostile-write-marker"


@dataclass
class Arena:
    hub: RunningHub
    token: str
    other_org: str
    base: Path
    root: Path
    other_hosted: Path
    own_hosted: Path


def snapshot(folder: Path) -> dict[str, str]:
    """A digest of every file below `folder`; the hub's own store files are listed unread (see `store_files`)."""
    found: dict[str, str] = {}
    for dirpath, _, files in os.walk(folder):
        for name in files:
            path = Path(dirpath) / name
            if is_store_file(path):
                found[str(path)] = "the hub's store"
                continue
            try:
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                continue
    return found


@pytest.fixture(scope="module")
def arena(sqlite_hub: RunningHub, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Arena]:
    base = tmp_path_factory.mktemp("hostile")
    root = base / "share"
    (root / "bucket").mkdir(parents=True)
    (root / "bucket-evil").mkdir()
    (root / "bucket" / "ok.txt").write_text("fine")
    (root / "bucket-evil" / "x.txt").write_text("evil sibling")
    (base / "outside").mkdir()
    (base / "outside" / "canary.txt").write_text("outside the root")
    other_org = f"victim-{uuid.uuid4().hex[:6]}"
    other = sqlite_hub.token(org=other_org)
    with sqlite_hub.client(other) as victim:
        victim.put("/v1/data/.my/coll/f", content=b"victim data").raise_for_status()
    org = f"attacker-{uuid.uuid4().hex[:6]}"
    token = sqlite_hub.token(org=org)
    with sqlite_hub.client(token) as api:
        api.post(
            "/v1/sources",
            json={
                "protocol": "local",
                "label": "hostile",
                "params": {"path": str(root)},
                "access": "read-write",
                "pathRestrictions": ["bucket/*"],
            },
        ).raise_for_status()
        api.put("/v1/data/.my/coll/own.txt", content=b"own").raise_for_status()
    hosted = sqlite_hub.hub.settings.hosted_dir
    own_hosted = next(p.parent.parent for p in hosted.glob("*/coll/own.txt"))
    other_hosted = next(p.parent.parent for p in hosted.glob("*/coll/f") if p.read_bytes() == b"victim data")
    yield Arena(sqlite_hub, token, other_org, base, root, other_hosted, own_hosted)


def send(hostport: str, token: str, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(hostport, timeout=15)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        conn.putheader("Authorization", token)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        if body is not None:
            conn.send(body)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def confined(arena: Arena, before: dict[str, str]) -> None:
    """Nothing changed on disk except files inside the allowed folder of the root and own hosted data."""
    after = snapshot(arena.base) | snapshot(arena.hub.hub.settings.data_dir)

    def hub_state(path: str) -> bool:
        return Path(path).name.startswith("headwater.db")

    for path, digest in before.items():
        allowed_to_change = path.startswith((str(arena.root / "bucket") + "/", str(arena.own_hosted) + "/"))
        if not allowed_to_change and not hub_state(path):
            assert after.get(path) == digest, f"{path} was changed or removed"
    for path in set(after) - set(before):
        inside = path.startswith((str(arena.root / "bucket") + "/", str(arena.own_hosted) + "/"))
        assert inside or hub_state(path) or path.endswith(".key"), (
            f"{path} appeared outside the connection's root and restrictions"
        )


def test_the_corpus_holds_over_a_thousand_paths(arena: Arena) -> None:
    assert len(hostile_paths("hostile", arena.other_org)) >= 1000


def test_hostile_paths_through_the_data_api(arena: Arena) -> None:
    hostport = arena.hub.url.removeprefix("http://")
    before = snapshot(arena.base) | snapshot(arena.hub.hub.settings.data_dir)
    statuses: dict[int, int] = {}
    for index, path in enumerate(hostile_paths("hostile", arena.other_org)):
        # Every path is read; every fourth is also written and deleted (the rest repeat those shapes).
        attempts = (("GET", None), ("PUT", MARK), ("DELETE", None)) if index % 4 == 0 else (("GET", None),)
        for method, body in attempts:
            status, content = send(hostport, arena.token, method, path, body)
            statuses[status] = statuses.get(status, 0) + 1
            assert status < 500, (method, path, status, content[:200])
            assert (
                b"outside the root" not in content and b"evil sibling" not in content and b"victim data" not in content
            ), (method, path)
    confined(arena, before)
    assert (arena.base / "outside" / "canary.txt").read_text() == "outside the root"
    assert (arena.other_hosted / "coll" / "f").read_bytes() == b"victim data"
    assert set(statuses) <= {200, 400, 403, 404, 405, 409}, statuses


def test_hostile_addresses_through_the_sdk(arena: Arena) -> None:
    before = snapshot(arena.base) | snapshot(arena.hub.hub.settings.data_dir)
    client = Client(arena.hub.url, arena.token)
    tried = 0
    for path in hostile_paths("hostile", arena.other_org)[::8]:
        address = path.replace("/v1/connector/local+hostile/", "local+hostile://").replace(
            "/v1/data/local+hostile://", "local+hostile://"
        )
        address = (
            address.replace("/v1/data/local+hostile:/", "local+hostile:/")
            .replace("/v1/data/", "data://")
            .replace("/v1/connector/data/", "data://")
        )
        tried += 1
        for attempt in (lambda f: f.get_bytes(), lambda f: f.put(MARK), lambda f: f.delete()):
            try:
                result = attempt(client.file(address))
            except Exception as exc:  # refused: by the SDK's own parser or by the hub
                assert "Traceback" not in str(exc)
                continue
            if isinstance(result, bytes):
                assert (
                    b"outside the root" not in result and b"evil sibling" not in result and b"victim data" not in result
                )
    client.close()
    assert tried >= 400
    confined(arena, before)


def test_hostile_paths_through_the_fsspec_layer(arena: Arena) -> None:
    from headwater.client.fsspec import HeadwaterFileSystem

    before = snapshot(arena.base) | snapshot(arena.hub.hub.settings.data_dir)
    fs = HeadwaterFileSystem(url=arena.hub.url, token=arena.token, skip_instance_cache=True, use_listings_cache=False)
    tried = 0
    for path in hostile_paths("hostile", arena.other_org)[1::8]:
        target = path.replace("/v1/connector/", "headwater://").replace(
            "/v1/data/local+hostile://", "headwater://local+hostile/"
        )
        target = target.replace("/v1/data/local+hostile:/", "headwater://local+hostile/").replace(
            "/v1/data/", "headwater://data/"
        )
        tried += 1
        for attempt in (fs.cat_file, lambda p: fs.pipe_file(p, MARK), fs.rm, fs.ls):
            try:
                result = attempt(target)
            except Exception as exc:  # refused: by the address parser, or by the hub
                assert not isinstance(exc, (AssertionError, KeyboardInterrupt))
                continue
            shown = result if isinstance(result, bytes) else repr(result).encode()
            assert b"outside the root" not in shown and b"evil sibling" not in shown and b"victim data" not in shown
    assert tried >= 400
    confined(arena, before)

"""Property: whatever path a caller sends, the Data API serves nothing outside the connection's root
and restrictions. Paths are sent raw (no client-side normalisation) to a real hub."""

from __future__ import annotations

import http.client
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fixtures.hub import RunningHub

ALLOWED = {b"inside-a", b"inside-b"}
FORBIDDEN = {b"evil-sibling", b"outside-root"}
SEGMENTS = [
    "bucket",
    "bucket-evil",
    "sub",
    "a.txt",
    "b.txt",
    "c.txt",
    "..",
    ".",
    "",
    "%2e%2e",
    "%2E%2E",
    "%2F",
    "%5C",
    "outside",
    "secret.txt",
    "share",
    "\\",
    "..%2F",
    "%00",
    "%C0%AE%C0%AE",
    "\uff0e\uff0e",
    "%EF%BC%8E%EF%BC%8E",
]


@pytest.fixture(scope="module")
def confined(sqlite_hub: RunningHub, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    base = tmp_path_factory.mktemp("confine")
    root = base / "share"
    (root / "bucket" / "sub").mkdir(parents=True)
    (root / "bucket-evil").mkdir()
    (base / "outside").mkdir()
    (root / "bucket" / "a.txt").write_bytes(b"inside-a")
    (root / "bucket" / "sub" / "b.txt").write_bytes(b"inside-b")
    (root / "bucket-evil" / "c.txt").write_bytes(b"evil-sibling")
    (base / "outside" / "secret.txt").write_bytes(b"outside-root")
    (root / "bucket" / "escape").symlink_to(base / "outside")
    token = sqlite_hub.token(org=f"confine-{uuid.uuid4().hex[:6]}")
    with sqlite_hub.client(token) as api:
        api.post(
            "/v1/sources",
            json={
                "protocol": "local",
                "label": "share",
                "params": {"path": str(root)},
                "pathRestrictions": ["bucket/*"],
            },
        ).raise_for_status()
    yield sqlite_hub.url.removeprefix("http://"), token


def raw_get(hostport: str, token: str, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(hostport, timeout=10)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        conn.putheader("Authorization", token)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    segments=st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=6),
    form=st.sampled_from(["/v1/connector/local+share/", "/v1/data/local+share://", "/v1/data/local+share:/"]),
)
def test_no_path_reaches_outside_the_root_or_restrictions(
    confined: tuple[str, str], segments: list[str], form: str
) -> None:
    hostport, token = confined
    path = form + "/".join(s.encode("utf-8").decode("latin-1") if not s.isascii() else s for s in segments)
    try:
        path.encode("ascii")
    except UnicodeEncodeError:
        from urllib.parse import quote

        path = quote(path, safe="/:+%")
    status, body = raw_get(hostport, token, path)
    assert status < 500, (path, status, body)
    for forbidden in FORBIDDEN:
        assert forbidden not in body, (path, status)
    if status == 200 and not body.startswith(b"{"):
        assert body in ALLOWED, (path, body)


def test_the_symlink_out_of_the_root_is_not_followed(confined: tuple[str, str]) -> None:
    hostport, token = confined
    status, body = raw_get(hostport, token, "/v1/connector/local+share/bucket/escape/secret.txt")
    assert status == 404 and b"outside-root" not in body


def test_the_fixture_really_serves_allowed_files(confined: tuple[str, str]) -> None:
    hostport, token = confined
    assert raw_get(hostport, token, "/v1/connector/local+share/bucket/sub/b.txt") == (200, b"inside-b")
    assert raw_get(hostport, token, "/v1/connector/local+share/bucket-evil/c.txt")[0] == 403

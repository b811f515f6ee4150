"""Every malformed request gets a 4xx whose message names what was wrong, and never a 500."""

from __future__ import annotations

import httpx
import pytest

from tests.fixtures.hub import RunningHub

NOT_A_UUID = "not-a-uuid"
# A well-formed id no resource has; fixed, so that every test process collects the same test ids.
MISSING = "5f0c1f5e-6b1d-4c2a-9e8f-0d6a4b7c3e21"

# (method, path, body as JSON or raw bytes, expected status, a word the message must contain)
CASES: list[tuple[str, str, object, int, str]] = [
    ("POST", "/v1/secrets", b"{not json", 400, "JSON"),
    ("POST", "/v1/secrets", b"[1, 2]", 400, "body"),
    ("POST", "/v1/secrets", {}, 400, "id"),
    ("POST", "/v1/secrets", {"id": "a", "secretType": "s3", "secretKey": "x", "colour": "red"}, 400, "colour"),
    ("POST", "/v1/secrets", {"id": "a", "secretType": "mainframe", "secretKey": "x"}, 400, "secretType"),
    ("POST", "/v1/secrets", {"id": "a", "secretType": "s3"}, 400, "secretKey"),
    ("POST", "/v1/secrets", {"id": "has space", "secretType": "s3", "secretKey": "x"}, 400, "secret id"),
    ("POST", "/v1/secrets", {"id": "a", "secretType": "s3", "secretKey": 5}, 400, "secretKey"),
    (
        "POST",
        "/v1/secrets",
        {"id": "a", "secretType": "s3", "secretKey": "x", "expiresAt": "next tuesday"},
        400,
        "expiresAt",
    ),
    ("POST", "/v1/secrets", {"id": "a", "secretType": "generic", "values": {"bad key!": "x"}}, 400, "bad key!"),
    ("POST", "/v1/secrets", {"id": "a", "secretType": "generic", "values": {"K": 1}}, 400, "values.K"),
    ("POST", "/v1/secrets", {"id": "x" * 200, "secretType": "s3", "secretKey": "x"}, 400, "id"),
    ("PATCH", "/v1/secrets/nope", {"name": "x"}, 404, "nope"),
    ("PATCH", "/v1/secrets/nope", {"name": 7}, 400, "name"),
    ("DELETE", "/v1/secrets/nope", None, 404, "nope"),
    ("POST", "/v1/sources", {}, 400, "protocol"),
    ("POST", "/v1/sources", {"protocol": "local"}, 400, "label"),
    ("POST", "/v1/sources", {"protocol": "ftp", "label": "a"}, 400, "ftp"),
    ("POST", "/v1/sources", {"protocol": "local", "label": "Bad Label"}, 400, "label"),
    ("POST", "/v1/sources", {"protocol": "local", "label": "x" * 64}, 400, "label"),
    ("POST", "/v1/sources", {"protocol": "local", "label": "a", "access": "write"}, 400, "access"),
    ("POST", "/v1/sources", {"protocol": "local", "label": "a", "params": []}, 400, "params"),
    ("POST", "/v1/sources", {"protocol": "local", "label": "a", "params": {"path": 5}}, 400, "params.path"),
    (
        "POST",
        "/v1/sources",
        {"protocol": "local", "label": "a", "pathRestrictions": "bucket/*"},
        400,
        "pathRestrictions",
    ),
    ("POST", "/v1/sources", {"protocol": "local", "label": "a", "pathRestrictions": ["a/*/b"]}, 400, "'*'"),
    ("POST", "/v1/sources", {"protocol": "local", "label": "a", "pathRestrictions": ["../*"]}, 400, "'..'"),
    ("POST", "/v1/sources", {"protocol": "local", "label": "a", "secretId": "ghost"}, 404, "ghost"),
    (
        "POST",
        "/v1/sources",
        {"protocol": "local", "label": "a", "params": {"credentials": {"secretKey": "plain"}}},
        400,
        "envKey",
    ),
    ("GET", f"/v1/sources/{NOT_A_UUID}", None, 404, NOT_A_UUID),
    ("GET", f"/v1/sources/{MISSING}", None, 404, MISSING),
    ("PATCH", f"/v1/sources/{MISSING}", {"nope": 1}, 400, "nope"),
    ("POST", f"/v1/sources/{MISSING}/test", None, 404, MISSING),
    ("POST", "/v1/systems", {}, 400, "name"),
    ("POST", "/v1/systems", {"name": ""}, 400, "name"),
    ("PUT", f"/v1/systems/{MISSING}/sources/{MISSING}", None, 404, "data system"),
    ("DELETE", f"/v1/systems/{NOT_A_UUID}", None, 404, NOT_A_UUID),
    ("GET", "/v1/connectors/ftp", None, 400, "ftp"),
    ("POST", "/v1/tokens", {"pathPrefix": "s3+lab://../x"}, 400, ".."),
    ("POST", "/v1/tokens", {"readOnly": "maybe"}, 400, "readOnly"),
    ("GET", "/v1/data/.my/coll/..%2Fetc", None, 400, "encoded separator"),
    ("GET", "/v1/data/.my/coll/a%00b", None, 400, "NUL"),
    ("GET", "/v1/data/.my/coll/%2E%2E/%2E%2E/etc/passwd", None, 400, "'..'"),
    ("GET", "/v1/data/.my/coll/%C3%28", None, 400, "UTF-8"),
    ("GET", "/v1/data/.my/coll/a%5Cb", None, 400, "separator"),
    ("PUT", "/v1/data/.my/top-level-file", b"x", 400, "collection"),
    ("POST", "/v1/data/.my", b"{bad", 400, "JSON"),
    ("POST", "/v1/data/.my", {"nom": "x"}, 400, "name"),
    ("POST", "/v1/data/.my", {"name": "../x"}, 400, "'..'"),
    ("GET", "/v1/connector/9bad+label/x", None, 400, "protocol"),
    ("GET", "/v1/connector/S3+nowhere/x", None, 404, "s3+nowhere"),  # protocols are case-insensitive
    ("GET", "/v1/connector/s3+Bad%20Label/x", None, 400, "label"),
    ("GET", "/v1/connector/s3+nowhere/x", None, 404, "s3+nowhere"),
    ("GET", "/v1/nothing-here", None, 404, "/v1/nothing-here"),
    ("DELETE", "/v1/connectors", None, 405, "DELETE"),
]


@pytest.mark.parametrize("method, path, body, status, word", CASES, ids=[f"{c[0]} {c[1][:40]} {c[4]}" for c in CASES])
def test_malformed_request_gets_a_clear_4xx(
    api: httpx.Client, method: str, path: str, body: object, status: int, word: str
) -> None:
    if isinstance(body, bytes):
        response = api.request(method, path, content=body, headers={"Content-Type": "application/json"})
    elif body is None:
        response = api.request(method, path)
    else:
        response = api.request(method, path, json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] and word in error["message"], error


def test_the_table_is_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30


def test_oversized_json_bodies_are_refused_with_413(api: httpx.Client) -> None:
    huge = {"id": "big", "secretType": "generic", "values": {"K": "x" * (2 * 1024 * 1024)}}
    response = api.post("/v1/secrets", json=huge)
    assert response.status_code == 413 and "larger than" in response.json()["error"]["message"]


def test_oversized_chunked_bodies_are_refused_with_413(api: httpx.Client) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(40):
            yield b" " * 65536

    response = api.post("/v1/secrets", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413


def test_head_errors_carry_the_message_in_a_header(api: httpx.Client) -> None:
    response = api.head("/v1/data/.my/coll/missing.txt")
    assert response.status_code == 404 and "does not exist" in response.headers["X-Error-Message"]


def test_literal_dot_segments_sent_raw_are_refused(hub_server: RunningHub, org_token: str) -> None:
    import http.client

    conn = http.client.HTTPConnection(hub_server.url.removeprefix("http://"), timeout=10)
    conn.request("GET", "/v1/data/.my/coll/../../etc/passwd", headers={"Authorization": org_token})
    response = conn.getresponse()
    assert response.status == 400 and b"'..'" in response.read()


def test_oversized_json_bodies_of_streaming_routes_are_refused_with_413_too(api: httpx.Client) -> None:
    huge = {"name": "x" * (2 * 1024 * 1024)}
    response = api.post("/v1/data/.my/reports", json=huge)
    assert response.status_code == 413 and "larger than" in response.json()["error"]["message"]

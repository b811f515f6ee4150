"""The portal's page, its assets, the session cookie and the CSRF check, through HTTP."""

from __future__ import annotations

from importlib import resources

import httpx
import pytest

from headwater.api.portal import csrf
from tests.fixtures.hub import RunningHub


def cookie_header(response: httpx.Response, name: str) -> str:
    found = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    assert found, f"no {name} cookie in {response.headers.get_list('set-cookie')}"
    return found[-1]


@pytest.fixture
def browser_like(sqlite_hub: RunningHub) -> httpx.Client:
    """A client that, like a browser, keeps cookies and sends no Authorization header."""
    client = httpx.Client(base_url=sqlite_hub.url, timeout=30)
    page = client.get("/")
    assert page.status_code == 200
    return client


def sign_in(client: httpx.Client, token: str) -> httpx.Response:
    return client.post("/v1/session", json={"token": token}, headers={"X-CSRF-Token": client.cookies[csrf.COOKIE]})


def test_the_page_and_its_assets_are_served(sqlite_hub: RunningHub) -> None:
    page = httpx.get(f"{sqlite_hub.url}/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert '<script src="/portal/static/app.js"' in page.text
    set_csrf = cookie_header(page, csrf.COOKIE)
    assert "HttpOnly" not in set_csrf and "SameSite=strict" in set_csrf
    for asset, kind in (("app.js", "javascript"), ("app.css", "text/css")):
        response = httpx.get(f"{sqlite_hub.url}/portal/static/{asset}")
        assert response.status_code == 200 and kind in response.headers["content-type"]
    # The assets are package data: they install with the package, nothing is fetched at run time.
    static = resources.files("headwater.api.portal") / "static"
    assert {p.name for p in static.iterdir()} >= {"index.html", "app.js", "app.css"}
    for text in (page.text, (static / "app.js").read_text(), (static / "app.css").read_text()):
        assert "http://" not in text and "https://" not in text


def test_sign_in_sets_an_httponly_strict_cookie_and_sign_out_clears_it(
    sqlite_hub: RunningHub, browser_like: httpx.Client
) -> None:
    token = sqlite_hub.token(user="carol")
    response = sign_in(browser_like, token)
    assert response.status_code == 200, response.text
    assert response.json()["user"] == "carol"
    session = cookie_header(response, "headwater_session")
    assert "HttpOnly" in session and "SameSite=strict" in session and "Path=/" in session
    assert token not in response.text
    assert browser_like.cookies[csrf.COOKIE] == csrf.bound_token(token)
    assert browser_like.get("/v1/me").json()["user"] == "carol"

    out = browser_like.delete("/v1/session", headers={"X-CSRF-Token": browser_like.cookies[csrf.COOKIE]})
    assert out.status_code == 204
    assert "headwater_session" not in browser_like.cookies
    assert browser_like.get("/v1/me").status_code == 401


def test_a_wrong_token_is_refused_with_the_apis_message(browser_like: httpx.Client) -> None:
    response = sign_in(browser_like, "hw_not-a-real-token-at-all")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    assert "headwater_session" not in browser_like.cookies


def test_sign_in_needs_the_csrf_token(sqlite_hub: RunningHub, browser_like: httpx.Client) -> None:
    token = sqlite_hub.token()
    refused = browser_like.post("/v1/session", json={"token": token})
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["error"]["message"]
    assert (
        browser_like.post("/v1/session", json={"token": token}, headers={"X-CSRF-Token": "forged"}).status_code == 403
    )


def test_cookie_authenticated_writes_need_the_matching_csrf_header(
    sqlite_hub: RunningHub, browser_like: httpx.Client
) -> None:
    token = sqlite_hub.token()
    assert sign_in(browser_like, token).status_code == 200
    good = browser_like.cookies[csrf.COOKIE]
    body = {"id": "k1", "secretType": "s3", "accessKey": "AK", "secretKey": "sk-value"}

    assert browser_like.get("/v1/secrets").status_code == 200  # reads need no CSRF token
    for headers in ({}, {"X-CSRF-Token": "forged"}, {"X-CSRF-Token": ""}):
        refused = browser_like.post("/v1/secrets", json=body, headers=headers)
        assert refused.status_code == 403, headers
        assert refused.json()["error"]["code"] == "permission_denied"
    assert browser_like.put("/v1/connector/s3+none/x", content=b"x").status_code == 403
    assert browser_like.get("/v1/secrets").json()["secrets"] == []

    # A cookie planted by a neighbour, echoed in the header, is not the session's token.
    planted = httpx.Client(base_url=sqlite_hub.url, cookies={"headwater_session": token, csrf.COOKIE: "planted"})
    assert planted.post("/v1/secrets", json=body, headers={"X-CSRF-Token": "planted"}).status_code == 403

    created = browser_like.post("/v1/secrets", json=body, headers={"X-CSRF-Token": good})
    assert created.status_code == 201, created.text
    assert browser_like.delete("/v1/secrets/k1", headers={"X-CSRF-Token": good}).status_code == 204


def test_api_clients_with_an_authorization_header_need_no_csrf_token(sqlite_hub: RunningHub) -> None:
    with sqlite_hub.client(sqlite_hub.token()) as api:
        response = api.post("/v1/secrets", json={"id": "k2", "secretType": "s3", "accessKey": "AK", "secretKey": "v"})
        assert response.status_code == 201, response.text


def test_sign_ins_are_audited(sqlite_hub: RunningHub, browser_like: httpx.Client) -> None:
    org = "portal-audit"
    token = sqlite_hub.token(org=org, user="dora")
    assert sign_in(browser_like, token).status_code == 200
    with sqlite_hub.client(token) as api:
        events = api.get("/v1/audit", params={"operation": "session.sign_in"}).json()["events"]
    assert [e["user"] for e in events] == ["dora"]

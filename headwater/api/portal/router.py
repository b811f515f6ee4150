"""The portal's routes: the page at `/`, its assets, and signing in and out.

Signing in trades a token for the `headwater_session` cookie (HttpOnly, SameSite=Strict),
which the API's auth dependency already accepts; from then on the page's script calls the
same JSON API as every other client, with the CSRF header on each state-changing request.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import Field

from headwater.api.deps import SESSION_COOKIE, HubDep
from headwater.api.portal import csrf
from headwater.api.schemas import ApiModel
from headwater.errors import Unauthenticated
from headwater.services import tokens
from headwater.services.audit import Pending

STATIC = Path(__file__).parent / "static"
ASSETS_PATH = "/portal/static"

#: The page loads only its own script and styles, and may not be framed.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

router = APIRouter(tags=["portal"])


class SignIn(ApiModel):
    token: str = Field(min_length=1, max_length=4096)


class SessionOut(ApiModel):
    organization: str
    user: str
    admin: bool


def set_cookie(request: Request, response: Response, name: str, value: str, *, http_only: bool) -> None:
    response.set_cookie(
        name, value, path="/", httponly=http_only, samesite="strict", secure=request.url.scheme == "https"
    )


@router.get("/", include_in_schema=False)
def page(request: Request) -> Response:
    """The portal itself; hands a fresh browser its CSRF cookie."""
    response = FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)
    if not request.cookies.get(csrf.COOKIE):
        set_cookie(request, response, csrf.COOKIE, csrf.new_token(), http_only=False)
    return response


@router.post("/v1/session", response_model=SessionOut, include_in_schema=False)
def sign_in(body: SignIn, request: Request, response: Response, hub: HubDep) -> SessionOut:
    """Sign the browser in: the token becomes an HttpOnly session cookie (a browser-only route)."""
    csrf.verify(request)  # no login CSRF: a foreign page cannot sign the browser in as someone else
    pending: Pending | None = getattr(request.state, "audit", None)
    try:
        caller = tokens.sign_in(hub, body.token)
    except Unauthenticated:
        if pending is not None:
            pending.token_hmac = hub.audit.digest(body.token)
        raise
    if pending is not None:
        pending.caller, pending.operation = caller, "session.sign_in"
        hub.audit.begin_blocking(pending)
    set_cookie(request, response, SESSION_COOKIE, body.token, http_only=True)
    set_cookie(request, response, csrf.COOKIE, csrf.bound_token(body.token), http_only=False)
    return SessionOut(organization=caller.org_name, user=caller.user_name, admin=caller.admin)


@router.delete("/v1/session", status_code=204, include_in_schema=False)
def sign_out(request: Request) -> Response:
    """Sign the browser out: clear the session cookie."""
    csrf.verify(request, request.cookies.get(SESSION_COOKIE))
    response = Response(status_code=204)
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )
    set_cookie(request, response, csrf.COOKIE, csrf.new_token(), http_only=False)
    return response


def assets() -> StaticFiles:
    return StaticFiles(directory=STATIC)

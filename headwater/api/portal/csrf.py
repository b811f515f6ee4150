"""Double-submit CSRF protection for cookie-authenticated requests.

The browser holds two cookies: the session (`headwater_session`, HttpOnly, SameSite=Strict)
and a readable CSRF token (`headwater_csrf`). The portal's script copies the CSRF cookie
into an `X-CSRF-Token` header; a page on another site can neither read the cookie nor set
the header, so a forged request fails. Once signed in, the CSRF token is bound to the
session (an HMAC keyed by the session token), so a cookie planted by a neighbouring site
cannot stand in for it either.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request

from headwater.errors import PermissionDenied

COOKIE = "headwater_csrf"
HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def new_token() -> str:
    """A fresh token for a browser that is not signed in yet."""
    return secrets.token_urlsafe(32)


def bound_token(session_token: str) -> str:
    """The CSRF token of a signed-in session: derived from it, and revealing nothing about it."""
    return hmac.new(session_token.encode(), b"headwater-csrf-v1", hashlib.sha256).hexdigest()


def verify(request: Request, session_token: str | None = None) -> None:
    """Refuse a state-changing request whose submitted token does not match its CSRF cookie
    (and, for a session, the token bound to that session)."""
    if request.method in SAFE_METHODS:
        return
    cookie = request.cookies.get(COOKIE, "")
    given = request.headers.get(HEADER, "")
    ok = bool(cookie) and hmac.compare_digest(given.encode(), cookie.encode())
    if ok and session_token is not None:
        ok = hmac.compare_digest(given.encode(), bound_token(session_token).encode())
    if not ok:
        raise PermissionDenied(f"CSRF check failed: send the {COOKIE} cookie's value in the {HEADER} header")

"""Request dependencies: the hub and the authenticated caller (no store session: services own their transactions)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

from fastapi import Depends, Request

from headwater.api.portal import csrf
from headwater.errors import PermissionDenied, Unauthenticated
from headwater.services.audit import Pending
from headwater.services.context import Caller
from headwater.services.hub import Hub

SCHEMES = ("bearer", "simple", "token")
SESSION_COOKIE = "headwater_session"


def get_hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def presented_token(request: Request) -> str | None:
    """The token in `Authorization` (`Bearer`, `Simple` or bare, as the seed products' clients send)."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, rest = header.strip().partition(" ")
        if rest and scheme.lower() in SCHEMES:
            return rest.strip()
        return header.strip()
    return request.cookies.get(SESSION_COOKIE)


def authenticate(request: Request) -> Caller:
    """Resolve the caller and name it on the request's audit event (begun by `get_caller`).

    Blocking: a cached caller costs one read of its organization's change stamps on a plain
    connection (`services.caller_cache`), an unknown one a short session of its own, so
    streaming routes hold no store session.
    """
    pending: Pending | None = getattr(request.state, "audit", None)
    value = presented_token(request)
    if not value:
        raise Unauthenticated("no token: send 'Authorization: Bearer <token>'")
    try:
        caller, current = get_hub(request).callers.authenticate(get_hub(request).store, value)
    except Unauthenticated:
        if pending is not None:
            pending.token_hmac = get_hub(request).audit.digest(value)
        raise
    org = request.headers.get("x-org")
    if org is not None and org != caller.org_name:
        raise PermissionDenied(f"this token does not belong to organization {org!r}")
    request.state.caller = caller
    request.state.stamps = current  # the organization's change stamps, for the caches the request uses
    if pending is not None:
        route = request.scope.get("route")
        pending.caller = caller
        pending.route = getattr(route, "path", None) or pending.route
        pending.operation = pending.operation or getattr(route, "name", "") or request.method.lower()
    if not request.headers.get("authorization"):  # the browser's session cookie: double-submit CSRF check
        csrf.verify(request, value)
    return caller


#: Threads that authenticate requests: a plain executor hand-off costs less than a general
#: worker-thread call, and each call holds a store connection only while it runs.
AUTH_THREADS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="headwater-auth")


async def get_caller(request: Request) -> Caller:
    """The authenticated caller, once its audit event is durable: no event, no operation."""
    pending: Pending | None = getattr(request.state, "audit", None)
    if pending is not None:
        caller = await _cached_caller(request, pending)
        if caller is not None:
            return caller
    caller = await asyncio.get_running_loop().run_in_executor(AUTH_THREADS, authenticate, request)
    if pending is not None:
        await get_hub(request).audit.begin(pending)
    return caller


async def _cached_caller(request: Request, pending: Pending) -> Caller | None:
    """A cached caller confirmed in its begun event's own transaction, or None to authenticate afresh.

    The cache entry is trusted only if its organization's `auth` stamp, read by the audit writer in
    the transaction that writes this request's event, is still the one it was cached under: a
    revocation committed by any process before that transaction is honoured, and no event is
    written for a stale entry. Costs no thread hand-off and no store round trip of its own. Only
    for a token in `Authorization` (a session cookie takes the full path, with its CSRF check) and
    an `X-Org` that names the caller's organization (a mismatch is refused by the full path).
    """
    value = presented_token(request)
    if not value or not request.headers.get("authorization"):
        return None
    hub = get_hub(request)
    found = hub.callers.lookup(value)
    if found is None:
        return None
    caller, auth = found
    org = request.headers.get("x-org")
    if org is not None and org != caller.org_name:
        return None
    route = request.scope.get("route")
    pending.caller = caller
    pending.route = getattr(route, "path", None) or pending.route
    pending.operation = pending.operation or getattr(route, "name", "") or request.method.lower()
    current = await hub.audit.begin_checked(pending, caller.org_id, auth)
    if current is None:
        pending.caller = None  # the entry is stale: nothing was written, the full path decides
        return None
    hub.callers.hits += 1
    request.state.caller = caller
    request.state.stamps = current
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]
HubDep = Annotated[Hub, Depends(get_hub)]

"""Who an S3 request comes from, and its body as verified: the seam between the front door and SigV4.

The front door asks an `Authenticator` for the caller and the decoded body of each request. The
production one (`default_authenticator`) reads the request's SigV4 signature (header or presigned
query), resolves its access key to the caller the key acts as, verifies the signature with the key's
secret and hands out the body decoded and verified as it streams. Its failures are `SigV4Error`,
`AccessKeyUnknown` and `AccessKeyExpired`, which `errors.s3_error` turns into S3's codes
(`SignatureDoesNotMatch`, `InvalidAccessKeyId`, `ExpiredToken`, ...).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from starlette.requests import Request

from headwater.api.s3 import sigv4
from headwater.api.s3.errors import S3Error
from headwater.services import access_keys
from headwater.services.context import Caller
from headwater.services.data import Stamps
from headwater.services.hub import Hub


@dataclass(frozen=True)
class Authenticated:
    """The caller an S3 request acts as, and its body (decoded and verified as it streams).

    `stamps`: the organization's change stamps when the authenticator read them (the caches use them).
    """

    caller: Caller
    body: Callable[[], AsyncIterator[bytes]]
    stamps: Stamps | None = None
    #: Set when `caller` came from a cache without reading the store: the organization's `auth` stamp it
    #: was cached under, which the front door confirms in the begun audit event's transaction, and the
    #: way to authenticate afresh from the store when that stamp has moved on.
    unconfirmed: int | None = None
    afresh: Callable[[], Awaitable[Authenticated]] | None = None


class Authenticator(Protocol):
    async def authenticate(self, request: Request) -> Authenticated: ...


class SigV4Keys:
    """SigV4 by a live access key: the signature checked with the key's secret, the body as it streams."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    async def authenticate(self, request: Request) -> Authenticated:
        """A key found in the process's cache is verified with no store read and returned unconfirmed (the
        front door confirms its stamp with the audit event); any other is resolved from the store."""
        method, raw_path, raw_query, headers = sigv4.request_parts(request.scope)
        signed = sigv4.parse_signed(method, raw_path, raw_query, headers)
        if signed is None:
            raise S3Error("AccessDenied", "anonymous requests are not allowed: sign them with a hub access key", 403)

        async def afresh() -> Authenticated:
            caller, secret, current = await access_keys.resolve_stamped(self.hub, signed.access_key_id)
            sigv4.verify(signed, method, raw_path, raw_query, headers, secret, datetime.now(UTC))
            return Authenticated(caller, lambda: sigv4.payload(signed, headers, secret, request.stream()), current)

        cached = access_keys.lookup(self.hub, signed.access_key_id)
        if cached is None:
            return await afresh()
        caller, secret, auth = cached
        sigv4.verify(signed, method, raw_path, raw_query, headers, secret, datetime.now(UTC))
        return Authenticated(
            caller,
            lambda: sigv4.payload(signed, headers, secret, request.stream()),
            unconfirmed=auth,
            afresh=afresh,
        )


def presented_key_id(request: Request) -> str | None:
    """The access key id a request is signed with, when its signature can be read at all: what the audit
    trail records (as a keyed digest, as it does for a refused token) of a request that failed to authenticate."""
    try:
        signed = sigv4.parse_signed(*sigv4.request_parts(request.scope))
    except sigv4.SigV4Error:
        return None
    return None if signed is None else signed.access_key_id


def default_authenticator(hub: Hub) -> Authenticator:
    """The production authenticator: SigV4 over the hub's access keys."""
    return SigV4Keys(hub)

"""Who an S3 request comes from, and its body as verified: the seam between the front door and SigV4.

The front door asks an `Authenticator` for the caller and the decoded body of each request. The
production one (`default_authenticator`) will verify SigV4 against an access key; until access keys
exist it refuses every request with `NotImplemented`. Tests inject one of their own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol

from starlette.requests import Request

from headwater.api.s3.errors import S3Error
from headwater.services.context import Caller
from headwater.services.hub import Hub
from headwater.store.stamps import Stamps


@dataclass(frozen=True)
class Authenticated:
    """The caller an S3 request acts as, and its body (decoded and verified as it streams).

    `stamps`: the organization's change stamps when the authenticator read them (the caches use them).
    """

    caller: Caller
    body: Callable[[], AsyncIterator[bytes]]
    stamps: Stamps | None = None


class Authenticator(Protocol):
    async def authenticate(self, request: Request) -> Authenticated: ...


class Unavailable:
    """Refuses every request: the S3 front door needs access keys, which this hub does not have yet."""

    async def authenticate(self, request: Request) -> Authenticated:
        raise S3Error("NotImplemented", "the S3 front door needs access keys (not yet available)", 501)


def default_authenticator(hub: Hub) -> Authenticator:
    """The production authenticator (SigV4 over access keys, once they exist)."""
    return Unavailable()

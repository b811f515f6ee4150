"""One S3 request as the operations see it: the caller, the bucket and key, and how to open a target."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.requests import Request

from headwater.addresses import decode_path, normalise_path
from headwater.api.s3.auth import Authenticated
from headwater.api.s3.buckets import Bucket
from headwater.api.s3.errors import s3_error
from headwater.errors import HeadwaterError
from headwater.services import data as service
from headwater.services.audit import Pending
from headwater.services.context import Caller
from headwater.services.hub import Hub


@dataclass
class S3Request:
    hub: Hub
    request: Request
    auth: Authenticated
    bucket: Bucket
    key: str  # the key as the client sent it, decoded once
    params: Mapping[str, str]
    pending: Pending | None

    @property
    def caller(self) -> Caller:
        return self.auth.caller

    def header(self, name: str) -> str | None:
        return self.request.headers.get(name)

    def note(self, operation: str, target: service.Target | None = None) -> None:
        """Tell the request's audit event what it does and touches (as the Data API does)."""
        if self.pending is None:
            return
        self.pending.operation = operation
        if target is not None:
            self.pending.source_id = target.source_id
            self.pending.connection = target.address.connection
            self.pending.path = target.path

    async def event(self, operation: str, target: service.Target) -> Pending | None:
        """Begin an audit event of its own for one more thing this request touches (a copy's source, each
        key of a DeleteObjects), under the request's id; `finish_event` completes it."""
        if self.pending is None:
            return None
        extra = Pending(
            request_id=self.pending.request_id,
            method=self.pending.method,
            route=self.pending.route,
            client=self.pending.client,
            started=time.perf_counter(),
            operation=operation,
            caller=self.caller,
            source_id=target.source_id,
            connection=target.address.connection,
            path=target.path,
        )
        await self.hub.audit.begin(extra)
        return extra

    async def finish_event(self, extra: Pending | None, status: int, reason: str | None = None) -> None:
        if extra is not None:
            duration = (time.perf_counter() - extra.started) * 1000
            await self.hub.audit.finish(extra, status, reason, 0, 0, duration)


def key_path(key: str) -> tuple[str, bool]:
    """A key as a normalised path inside the connection, and whether it names a directory (ends in `/`)."""
    return normalise_path(key)


def raw_key(raw: str) -> str:
    """A key from the raw request path, decoded exactly once (encoded separators and NUL refused)."""
    return decode_path(raw)


async def open_target(s3: S3Request, bucket: Bucket, key: str, operation: str) -> service.Target:
    """The target of `key` in `bucket` for the caller; a connection it cannot see is `NoSuchBucket`."""
    path, is_dir = key_path(key)
    address = bucket.address(s3.caller, path, is_dir)
    if s3.pending is not None and not s3.pending.operation:
        s3.pending.operation = operation
        s3.pending.connection = address.connection
        s3.pending.path = path
    try:
        target = await service.open_target(s3.hub, s3.caller, address, s3.auth.stamps)
    except HeadwaterError as exc:
        raise s3_error(exc, missing="NoSuchBucket") from None
    if bucket.tables:  # tables are served as exports, never loaded into
        target = service.as_exports(target)
    return target

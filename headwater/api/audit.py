"""ASGI middleware that brackets every API request with its audit event.

The event itself is begun by the auth dependency (`deps.authenticate`), once the
caller is known and before the operation runs; this middleware supplies the
request id, client address and byte counts, and completes the event before the
client can hold the whole response (awaiting the audit writer's batch on the event
loop, no thread): before the headers of a response without a body (HEAD, 204, 304,
an empty body), before the message carrying the last declared byte, else before the
final message. So an event is in `GET /v1/audit` as soon as its response has ended.
Requests that never authenticate are appended here.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from headwater.services.audit import AuditLog, Pending

AUDITED_PREFIXES = ("/v1/", "/api/")


def bodiless(method: str, status: int, length: int | None) -> bool:
    """Whether a response is complete for the client with its headers: HEAD, 1xx, 204, 304, or a declared empty body."""
    return method == "HEAD" or status < 200 or status in (204, 304) or length == 0


class AuditMiddleware:
    """`prefixes`: the request paths audited (the S3 front door audits every path)."""

    def __init__(self, app: ASGIApp, prefixes: tuple[str, ...] = AUDITED_PREFIXES) -> None:
        self.app = app
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        pending = Pending(
            request_id=str(uuid.uuid4()),
            method=scope["method"],
            route=scope["path"],
            client=client[0] if client else None,
            started=time.perf_counter(),
        )
        scope.setdefault("state", {})["audit"] = pending
        counts: dict[str, int] = {"in": 0, "out": 0, "status": 500}
        reason: list[str] = []
        finished = False

        async def finish() -> None:
            nonlocal finished
            if finished:
                return
            finished = True
            route: Any = scope.get("route")
            if route is not None and getattr(route, "path", None):
                pending.route = route.path
            app = scope.get("app")
            audit: AuditLog | None = getattr(getattr(getattr(app, "state", None), "hub", None), "audit", None)
            if audit is not None:
                duration = (time.perf_counter() - pending.started) * 1000
                status, why = pending.late_failure or (counts["status"], reason[0] if reason else None)
                # `finish` shields its wait: a cancelled request's completion stays queued and is written.
                await audit.finish(pending, status, why, counts["in"], counts["out"], duration)

        async def counting_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                counts["in"] += len(message.get("body", b""))
            return message

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                counts["status"] = message["status"]
                headers = list(message.get("headers", []))
                for name, value in headers:
                    lowered = name.lower()
                    if lowered == b"x-error-message":
                        reason.append(value.decode("latin-1"))
                    elif lowered == b"content-length" and value.strip().isdigit():
                        counts["length"] = int(value)
                headers.append((b"x-request-id", pending.request_id.encode()))
                message = {**message, "headers": headers}
                if bodiless(scope["method"], counts["status"], counts.get("length")):
                    await finish()  # the client holds the whole response once the headers arrive
            elif message["type"] == "http.response.body":
                counts["out"] += len(message.get("body", b""))
                length = counts.get("length")
                if not message.get("more_body", False) or (length is not None and counts["out"] >= length):
                    # Complete the event before the message that completes the response goes out: with
                    # a known length that is the one carrying the last byte, not the empty one after it.
                    await finish()
            await send(message)

        try:
            await self.app(scope, counting_receive, counting_send)
        finally:
            await finish()

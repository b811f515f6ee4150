"""A refusal sent before a client that asked `Expect: 100-continue` was told to continue closes the connection.

boto3, the AWS CLI and other S3 clients send `Expect: 100-continue` with uploads and, given a final
answer (a refusal) instead of `100 Continue`, never send the body and reuse the connection. uvicorn
keeps such a connection open and reads the client's next request as the body it was promised,
so the next request fails as garbage. Closing the connection after such an answer is what HTTP/1.1
allows (RFC 9110, 10.1.1) and what keeps the next request intact.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def closing_unless_continued(app: ASGIApp) -> ASGIApp:
    """`app`, adding `Connection: close` to an answer begun before it read the body a client held back."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not any(
            name == b"expect" and value.lower() == b"100-continue" for name, value in scope["headers"]
        ):
            await app(scope, receive, send)
            return
        read = False

        async def receiving() -> Message:
            nonlocal read
            read = True
            return await receive()

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start" and not read:
                message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await send(message)

        await app(scope, receiving, sending)

    return guarded

"""One worker serving two ports: the hub's API on its port, the S3 front door on the S3 port.

uvicorn listens on both sockets and hands every connection to this one ASGI app, which routes by the
local port the connection arrived on. The hub itself belongs to the API app (its lifespan opens and
closes it); the S3 app is given it on its first request.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from headwater.api.s3.app import S3App
from headwater.api.s3.auth import Authenticator


class TwoPorts:
    def __init__(self, main: ASGIApp, s3_port: int, authenticator: Authenticator | None = None) -> None:
        self.main = main
        self.s3_port = s3_port
        self.s3 = S3App(None, authenticator)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        server = scope.get("server")
        if scope["type"] == "http" and server is not None and server[1] == self.s3_port:
            if self.s3.state.hub is None:
                self.s3.state.hub = getattr(getattr(self.main, "state", None), "hub", None)
            await self.s3(scope, receive, send)
            return
        await self.main(scope, receive, send)


def with_s3(main: ASGIApp, s3_port: int | None) -> ASGIApp:
    """`main`, or `main` and the S3 front door by port when `s3_port` is set."""
    return main if s3_port is None else TwoPorts(main, s3_port)

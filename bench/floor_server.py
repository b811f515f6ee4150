"""The least a Python server in front of obstore can cost a GET: the floor the hub is measured against.

A bare ASGI app on the hub's own server stack (uvicorn with uvloop and httptools, one process) that
answers `GET /<key>` with the object streamed by obstore from one kept S3Store, in the hub's 1 MiB
pieces: no authentication, no rights, no audit, no proxy, no error handling beyond a 404. With `--static` it answers every GET with
4 KiB from memory and touches no backend: the cost of the server stack alone.

`small_gets.py --floor` starts both beside the hub and prints each one's rate and CPU per request (and
`sdk.py --floor` adds curl through the streaming one for large GETs), so
the hub's own cost is read as hub minus floor, and the floor against direct obstore says what any
Python server of this shape could reach on this machine. The backend's keys come in the environment
(`FLOOR_ACCESS_KEY`, `FLOOR_SECRET_KEY`), never on the command line.

`--guarded` sends the floor's backend connections through the hub's guarded proxy, to price that hop.

    python bench/floor_server.py --port P [--static | --endpoint URL --bucket NAME [--guarded]]
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import obstore as obs
import uvicorn
from obstore.store import S3Store

Scope = dict[str, Any]
STATIC = b"x" * 4096
CHUNK = 1024 * 1024  # the hub's own read size (`HEADWATER_CHUNK_SIZE`)


def backend_app(store: S3Store) -> Any:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        try:
            result = await obs.get_async(store, scope["path"].lstrip("/"))
        except FileNotFoundError:
            await send({"type": "http.response.start", "status": 404, "headers": [(b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        size = str(result.meta["size"]).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", size)]})
        async for chunk in result.stream(min_chunk_size=CHUNK):
            await send({"type": "http.response.body", "body": bytes(chunk), "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    return app


async def static_app(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"4096")]})
    await send({"type": "http.response.body", "body": STATIC})


def proxied(guarded: bool) -> dict[str, Any]:
    """obstore's client options for the way out: direct, or through the hub's guarded proxy."""
    if not guarded:
        return {}
    from headwater.connectors import guarded_proxy

    route = guarded_proxy.route(allow_private=True, connect_timeout=10.0)
    return {"proxy_url": route.url, "pool_idle_timeout": f"{guarded_proxy.POOL_IDLE_SECONDS}s"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--static", action="store_true")
    parser.add_argument("--endpoint")
    parser.add_argument("--bucket")
    parser.add_argument(
        "--guarded", action="store_true", help="connect through the hub's guarded proxy, as the hub's S3 stores do"
    )
    args = parser.parse_args()
    if args.static:
        app: Any = static_app
    else:
        store = S3Store(
            args.bucket,
            config={
                "endpoint": args.endpoint,
                "region": "us-east-1",
                "virtual_hosted_style_request": False,
                "access_key_id": os.environ["FLOOR_ACCESS_KEY"],
                "secret_access_key": os.environ["FLOOR_SECRET_KEY"],
            },
            client_options={"allow_http": True, "pool_max_idle_per_host": "64", **proxied(args.guarded)},
        )
        app = backend_app(store)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()

"""`GET /v1/links/{token}`: download a file through a signed, expiring link. No token needed.

The link itself is the credential (`headwater.links`): a forged or altered one is
403 `link_invalid`, an expired one 410 `link_expired`, and a file already purged
404. Single byte ranges are served as 206. This router's lifespan also runs the
hub's retention duty (expired bucket files, abandoned uploads, old audit events) on the
replica that holds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response, StreamingResponse

from headwater.api import ranges
from headwater.api.content_safety import file_headers
from headwater.api.deps import HubDep
from headwater.api.routers.data import http_date
from headwater.api.schemas import ErrorOut
from headwater.services import links as service


@contextlib.asynccontextmanager
async def purging(app: FastAPI) -> AsyncIterator[None]:
    task = asyncio.create_task(service.purge_forever(app.state.hub))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        with contextlib.suppress(Exception):  # the store may be gone; the lease then lapses by itself
            service.stop_purging(app.state.hub)


router = APIRouter(prefix="/v1/links", tags=["links"], lifespan=purging)
FILE = {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}
LINK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The file", **FILE},
    206: {"description": "The requested byte range of the file", **FILE},
    403: {"model": ErrorOut, "description": "The link is not one this hub issued, or was altered"},
    404: {"model": ErrorOut, "description": "The file behind the link no longer exists"},
    410: {"model": ErrorOut, "description": "The link has expired"},
    416: {"model": ErrorOut, "description": "The range is outside the file"},
}


async def download(token: str, request: Request, hub: HubDep) -> Response:
    found = await service.open_link(hub, token)
    link, entry, connector = found.link, found.entry, found.connector
    name = link.path.rsplit("/", 1)[-1]
    size = entry.size or 0
    headers: dict[str, Any] = {
        "Content-Type": mimetypes.guess_type(name)[0] or "application/octet-stream",
        "Content-Length": str(size),
        "Accept-Ranges": "bytes",
        "Cache-Control": "private, no-store",
        "Expires": http_date(link.expires_at),
    }
    headers.update(file_headers(name, headers["Content-Type"], always_attachment=True))
    if entry.etag:
        headers["ETag"] = entry.etag
    if entry.modified:
        headers["Last-Modified"] = http_date(entry.modified)
    range_header = request.headers.get("range")
    span = ranges.parse_range(range_header, size) if range_header else None
    status = ranges.partial(headers, span, size)
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers)
    start, end = span if span is not None else (None, None)
    return StreamingResponse(connector.read(link.path, start, end), status_code=status, headers=headers)


for _method in ("GET", "HEAD"):
    router.add_api_route(
        "/{token}",
        download,
        methods=[_method],
        summary="Download a file through a signed link (no token needed)",
        operation_id=f"link_{_method.lower()}",
        response_class=Response,
        responses=LINK_RESPONSES,
    )

"""The Data API: one handler for every address form, hosted or connector, as Algorithmia's clients speak it.

Routes: `/v1/connector/{protocol}+{label}/{path}`, `/v1/connector/data/{org}/{path}`,
`/v1/data/{org}/{path}` (`.my` is the caller's organization) and
`/v1/data/{protocol}+{label}://{path}` (also with one slash). The path is taken
from the raw request path and decoded exactly once by `headwater.addresses`.
"""

from __future__ import annotations

import functools
import json
import mimetypes
from collections.abc import AsyncIterator
from datetime import datetime
from email.utils import format_datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from headwater.addresses import (
    HOSTED,
    Address,
    decode_path,
    normalise_path,
    normalise_segment,
    parse_connection,
    split_scheme,
)
from headwater.api import ranges
from headwater.api.content_safety import file_headers
from headwater.api.deps import CallerDep, HubDep
from headwater.api.limits import json_object
from headwater.api.schemas import ERROR_RESPONSES
from headwater.connectors.base import Entry, Listing, Opened
from headwater.connectors.prefetch import first_chunk, resumed
from headwater.errors import InvalidInput, NotFound, RangeNotSatisfiable
from headwater.services import data as service
from headwater.services import links as links_service
from headwater.services.hub import Hub
from headwater.services.links import SignedLink

router = APIRouter(tags=["data"], responses=ERROR_RESPONSES)

METHODS = ["GET", "HEAD", "PUT", "POST", "DELETE", "PATCH"]


def address_of(request: Request) -> Address:
    """Parse the address from the raw request path, decoding it exactly once."""
    raw_bytes: bytes = request.scope.get("raw_path") or request.scope["path"].encode()
    raw = raw_bytes.decode("latin-1").split("?", 1)[0]
    raw = "/" + raw.lstrip("/")
    if raw.startswith("/v1/connector/"):
        rest = raw[len("/v1/connector/") :]
        connection, separator, path = rest.partition("/")
        protocol, label = parse_connection(decode_path(connection))
        # `/v1/connector/x+y/` is the root directory; `/v1/connector/x+y` is whatever the root is.
        root_dir = bool(separator)
    elif raw.startswith("/v1/data"):
        rest = raw[len("/v1/data") :].lstrip("/")
        split = split_scheme(rest)
        if split is None:
            protocol, label, path = HOSTED, None, rest
        else:
            scheme, raw_label, path = split
            protocol, label = parse_connection(decode_path(scheme if raw_label is None else f"{scheme}+{raw_label}"))
        root_dir = True
    else:  # pragma: no cover - the router only mounts the two prefixes
        raise NotFound("no such data route")
    normalised, is_dir = normalise_path(decode_path(path))
    if not normalised:
        is_dir = is_dir or root_dir
    return Address(protocol, label, normalised, is_dir)


def http_date(moment: datetime | None) -> str | None:
    return _http_date(moment) if moment else None


@functools.lru_cache(maxsize=4096)
def _http_date(moment: datetime) -> str:
    """Formatted once per distinct time: many small files share few modification times."""
    return format_datetime(moment, usegmt=True)


def listing_time(moment: datetime | None) -> str:
    """`YYYY-MM-DDTHH:MM:SS.mmmZ`, the only form Algorithmia's client parses: the wall time as given,
    without its offset (so the cache is keyed by the wall time: equal instants in two zones differ)."""
    if moment is None:
        return "1970-01-01T00:00:00.000Z"
    return _listing_time(moment.replace(tzinfo=None))


@functools.lru_cache(maxsize=4096)
def _listing_time(wall: datetime) -> str:
    """Formatted once per distinct wall time: formatting cost a listing a fifth of its hub time, and
    the files of a folder share few modification times."""
    return wall.isoformat(timespec="milliseconds")[:23] + "Z"


def content_type(name: str, entry: Entry) -> str:
    guessed = entry.content_type or guessed_type(name) or "application/octet-stream"
    return guessed if "charset=" in guessed else f"{guessed}; charset=utf-8"


def guessed_type(name: str) -> str | None:
    """`mimetypes.guess_type(name)[0]`, which only looks at the file name's suffixes: guessed once per suffix."""
    base = name.rsplit("/", 1)[-1].lstrip(".")
    dot = base.find(".")
    return None if dot < 0 else _type_of_suffixes(base[dot:])


@functools.lru_cache(maxsize=1024)
def _type_of_suffixes(suffixes: str) -> str | None:
    return mimetypes.guess_type("file" + suffixes)[0]


def entry_headers(target: service.Target, entry: Entry) -> dict[str, str]:
    headers = {"X-Data-Type": "directory" if entry.is_dir else "file"}
    if not entry.is_dir:
        headers["Accept-Ranges"] = "bytes"
        headers["Content-Type"] = content_type(target.path, entry)
        headers.update(file_headers(target.path.rsplit("/", 1)[-1], headers["Content-Type"]))
        if entry.size is not None:
            headers["Content-Length"] = str(entry.size)
        if entry.etag:
            headers["ETag"] = entry.etag
    modified = http_date(entry.modified)
    if modified:
        headers["Last-Modified"] = modified
    return headers


async def file_response(target: service.Target, opened: Opened, first: bytes) -> Response:
    """The file's bytes (`first` already read from them, so early errors were still statuses), with its headers.

    When `first` is the whole declared body (a small file), the read is released at once and the
    bytes go out as one message; otherwise they are streamed. The headers are the same either way.
    """
    entry = opened.entry
    headers = entry_headers(target, entry)
    status = ranges.partial(headers, opened.span, entry.size)

    async def release() -> None:
        try:
            await opened.aclose()  # a client that left stops the backend read at once
        finally:
            await target.close()

    declared = headers.get("Content-Length")
    if declared is not None and len(first) == int(declared):
        await release()
        return Response(first, status_code=status, headers=headers)
    return StreamingResponse(resumed(first, opened.chunks, release), status_code=status, headers=headers)


async def streamed_listing(hub: Hub, target: service.Target, pieces: AsyncIterator[Listing]) -> StreamingResponse:
    """A listing sent as the backend yields it: files as they come, then the folders and the marker.

    The first piece is pulled before the response starts, so a refusal or a missing directory is
    still a proper status. A failure later cuts the response short (the client sees a broken body,
    never a listing that looks complete).
    """
    try:
        first: Listing | None = await pieces.__anext__()
    except StopAsyncIteration:
        first = None
    except BaseException:
        await pieces.aclose()  # type: ignore[attr-defined]
        raise

    async def body() -> AsyncIterator[bytes]:
        folders: list[Entry] = []
        marker: str | None = None
        started = False
        try:
            piece = first
            while piece is not None:
                folders += piece.folders
                marker = piece.marker
                if piece.files:
                    text = json.dumps(
                        [file_json(f, links_service.link_to(hub, f)) for f in piece.files], ensure_ascii=False
                    )[1:-1]
                    yield ((b"," if started else b'{"files":[') + text.encode())
                    started = True
                try:
                    piece = await pieces.__anext__()
                except StopAsyncIteration:
                    piece = None
            folders.sort(key=lambda e: e.name)
            tail = {"folders": [{"name": f.name} for f in folders], **({"marker": marker} if marker else {})}
            rest = json.dumps(tail, ensure_ascii=False)[1:]
            yield (b"]," if started else b'{"files":[],') + rest.encode()
        finally:
            try:
                await pieces.aclose()  # type: ignore[attr-defined]
            finally:
                await target.close()

    return StreamingResponse(body(), headers={"X-Data-Type": "directory", "Content-Type": "application/json"})


#: Entry details a listing may show beside the Algorithmia fields (the signed links of temporary buckets).
def file_json(entry: Entry, link: SignedLink | None) -> dict[str, Any]:
    """A file of a listing as Algorithmia's clients read it, with its signed link if the hub keeps it."""
    shown: dict[str, Any] = {
        "filename": entry.name,
        "size": entry.size or 0,
        "last_modified": listing_time(entry.modified),
    }
    if link is not None:
        shown.update(tempUrl=link.url, expiresAt=link.expires)
    return shown


def audit(request: Request, target: service.Target | None, operation: str, address: Address | None = None) -> None:
    """Tell the request's audit event what it touches."""
    pending = getattr(request.state, "audit", None)
    if pending is None:
        return
    pending.operation = operation
    if target is not None:
        pending.source_id = target.source_id
        pending.connection = target.address.connection
        pending.path = target.path
    elif address is not None:
        pending.connection = address.connection
        pending.path = address.path


OPERATIONS = {
    "HEAD": "data.stat",
    "GET": "data.read",
    "PUT": "data.write",
    "POST": "data.mkdir",
    "DELETE": "data.delete",
    "PATCH": "data.acl",
}


async def handle(request: Request, caller: CallerDep, hub: HubDep) -> Response:
    address = address_of(request)
    audit(request, None, OPERATIONS.get(request.method, "data"), address)
    target = await service.open_target(hub, caller, address, getattr(request.state, "stamps", None))
    audit(request, target, OPERATIONS.get(request.method, "data"))
    streaming = False
    try:
        method = request.method
        if method == "HEAD":
            entry = await service.stat(target)
            return Response(status_code=200, headers=entry_headers(target, entry))
        if method == "GET" and request.query_params.get("acl", "").lower() == "true":
            audit(request, target, "data.acl")
            return JSONResponse({"acl": {"read": await service.get_acl(hub, caller, target)}})
        if method == "PATCH":
            body = await json_object(request, hub.settings.max_json_body)
            if "acl" not in body:
                raise InvalidInput("body.acl: field required")
            await service.set_acl(hub, caller, target, body["acl"])
            return Response(status_code=200)
        if method == "GET":
            if not address.is_dir:
                header = request.headers.get("range")
                span = ranges.parse_span(header) if header else None
                try:
                    opened = await service.open_file(target, span, dict(request.query_params))
                except RangeNotSatisfiable as exc:
                    raise ranges.outside(header or "", exc.size) from None
                if opened is not None:
                    first = await first_chunk(opened.chunks, opened.aclose)
                    streaming = True
                    return await file_response(target, opened, first)
            audit(request, target, "data.list")
            limit = service.page_size(request.query_params.get("limit"))
            pieces = service.list_pieces(target, request.query_params.get("marker"), limit)
            response = await streamed_listing(hub, target, pieces)
            streaming = True
            return response
        if method == "PUT":
            length = request.headers.get("content-length")
            size_hint = int(length) if length and length.isdigit() else None
            await service.write(target, request.stream(), size_hint)
            return JSONResponse({"result": target.uri()})
        if method == "POST":
            body = await json_object(request, hub.settings.max_json_body)
            name = body.get("name")
            if not isinstance(name, str) or not name:
                raise InvalidInput("body.name: a directory name is required")
            child = target.child(normalise_segment(name))
            await service.create_directory(hub, caller, child, body.get("acl"))
            return JSONResponse({"result": child.uri()})
        if method == "DELETE":
            force = request.query_params.get("force", "").lower() in {"true", "1", "yes"}
            entry = await service.stat(target)
            if entry.is_dir:
                deleted = await service.rmdir(target, recursive=force)
            else:
                await service.delete_file(target)
                deleted = 1
            return JSONResponse({"result": {"deleted": deleted}})
        raise InvalidInput(f"method {method} is not supported on this address")
    finally:
        if not streaming:
            await target.close()


for prefix in (
    "/v1/connector/{connection}",
    "/v1/connector/{connection}/{path:path}",
    "/v1/data",
    "/v1/data/{path:path}",
):
    for method in METHODS:
        router.add_api_route(
            prefix,
            handle,
            methods=[method],
            include_in_schema=prefix.endswith("{path:path}"),
            summary=f"Data API {method}",
            name=f"data.{method.lower()}",
            operation_id=f"data_{method.lower()}_{'connector' if 'connector' in prefix else 'data'}",
        )

"""The bucket and object operations of the S3 front door, each a translation to the data service.

Reads stream from the connector to the client and writes from the client to the connector's atomic
write; nothing is buffered whole. Conditional headers are decided on the entry the backend returns
with the read itself (one backend request).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from functools import partial
from urllib.parse import unquote

from starlette.responses import Response, StreamingResponse

from headwater.api import ranges
from headwater.api.routers.data import guessed_type
from headwater.api.s3 import listing, xml
from headwater.api.s3.buckets import Bucket, resolve
from headwater.api.s3.context import S3Request, open_target
from headwater.api.s3.errors import S3Error, s3_error
from headwater.connectors.base import Entry, Opened, Span
from headwater.connectors.prefetch import first_chunk, resumed
from headwater.errors import HeadwaterError, InvalidInput, NotFound, RangeNotSatisfiable
from headwater.services import data as service
from headwater.services import table_exports

XML = "application/xml"
#: `response-*` query parameters of GetObject and the headers they set.
OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}


def xml_response(body: bytes, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type=XML)


def http_date(moment: datetime | None) -> str | None:
    return format_datetime(moment, usegmt=True) if moment is not None else None


def object_headers(key: str, entry: Entry) -> dict[str, str]:
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Type": entry.content_type or guessed_type(key) or "application/octet-stream",
        "ETag": listing.quoted_etag(entry.etag),
        "X-Content-Type-Options": "nosniff",
    }
    if entry.size is not None:
        headers["Content-Length"] = str(entry.size)
    modified = http_date(entry.modified)
    if modified:
        headers["Last-Modified"] = modified
    return headers


# -- conditions -------------------------------------------------------------------------------


def _etags(header: str) -> list[str]:
    return [tag.strip().removeprefix("W/").strip('"') for tag in header.split(",") if tag.strip()]


def _date(header: str | None) -> datetime | None:
    if not header:
        return None
    try:
        return parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None  # an unreadable date is ignored, as HTTP says


def _modified_after(entry: Entry, moment: datetime) -> bool:
    return entry.modified is not None and entry.modified.replace(microsecond=0) > moment


def precondition(s3: S3Request, entry: Entry) -> int | None:
    """412 or 304 when the request's conditional headers refuse the entry, else None (RFC 7232's order)."""
    etag = (entry.etag or "").strip('"')
    if_match = s3.header("if-match")
    if if_match is not None:
        tags = _etags(if_match)
        if "*" not in tags and etag not in tags:
            return 412
    else:
        since = _date(s3.header("if-unmodified-since"))
        if since is not None and _modified_after(entry, since):
            return 412
    if_none = s3.header("if-none-match")
    if if_none is not None:
        tags = _etags(if_none)
        if "*" in tags or etag in tags:
            return 304
    else:
        since = _date(s3.header("if-modified-since"))
        if since is not None and not _modified_after(entry, since):
            return 304
    return None


def refused(status: int, entry: Entry, key: str) -> Response:
    if status == 412:
        raise S3Error("PreconditionFailed", "at least one of the preconditions you specified did not hold", 412)
    headers = {k: v for k, v in object_headers(key, entry).items() if k in ("ETag", "Last-Modified")}
    return Response(status_code=304, headers=headers)


# -- buckets ----------------------------------------------------------------------------------


async def head_bucket(s3: S3Request) -> Response:
    target = await open_target(s3, s3.bucket, "", "data.stat")
    try:
        s3.note("data.stat", target)
        service.may_list(target)
    finally:
        await target.close()
    return Response(status_code=200, headers={"x-amz-bucket-region": "us-east-1"})


async def bucket_location(s3: S3Request) -> Response:
    target = await open_target(s3, s3.bucket, "", "data.stat")
    await target.close()
    return xml_response(xml.document("LocationConstraint", []))


async def list_objects(s3: S3Request) -> Response:
    target = await open_target(s3, s3.bucket, "", "data.list")
    try:
        s3.note("data.list", target)
        if s3.pending is not None:
            s3.pending.path = s3.params.get("prefix", "")
        sizer = (
            partial(table_exports.sized, table_exports.Stager.of(s3.hub), s3.caller.org_id, target)
            if s3.bucket.tables
            else None
        )
        if s3.params.get("list-type") == "2":
            body = await listing.list_v2(target, s3.bucket.name, s3.params, s3.caller, sizer)
        else:
            body = await listing.list_v1(target, s3.bucket.name, s3.params, s3.caller, sizer)
    finally:
        await target.close()
    return xml_response(body)


# -- objects ----------------------------------------------------------------------------------


def _no_directory(s3: S3Request, entry: Entry) -> None:
    if entry.is_dir:
        raise S3Error("NoSuchKey", f"no object {s3.key!r}: that is a folder", 404)


async def head_object(s3: S3Request) -> Response:
    target = await open_target(s3, s3.bucket, s3.key, "data.stat")
    try:
        s3.note("data.stat", target)
        try:
            entry = await (
                table_exports.stat(table_exports.Stager.of(s3.hub), s3.caller.org_id, target)
                if s3.bucket.tables
                else service.stat(target)
            )
        except HeadwaterError as exc:
            raise s3_error(exc) from None
        _no_directory(s3, entry)
        status = precondition(s3, entry)
        if status is not None:
            return refused(status, entry, s3.key)
        headers = object_headers(s3.key, entry)
        header = s3.header("range")
        code = 200
        if header and entry.size is not None:
            span = ranges.parse_range(header, entry.size)
            code = ranges.partial(headers, span, entry.size)
        return Response(status_code=code, headers=headers)
    finally:
        await target.close()


async def get_object(s3: S3Request) -> Response:
    target = await open_target(s3, s3.bucket, s3.key, "data.read")
    s3.note("data.read", target)
    streaming = False
    try:
        header = s3.header("range")
        span = ranges.parse_span(header) if header else None
        try:
            opened = await _open(s3, s3.bucket, target, span)
        except RangeNotSatisfiable as exc:
            raise s3_error(ranges.outside(header or "", exc.size)) from None
        except HeadwaterError as exc:
            raise s3_error(exc) from None
        if opened is None:
            raise S3Error("NoSuchKey", f"no object {s3.key!r}: that is a folder", 404)
        status = precondition(s3, opened.entry)
        if status is not None:
            await opened.aclose()
            return refused(status, opened.entry, s3.key)
        response = await _file_response(s3, target, opened)
        streaming = True
        return response
    finally:
        if not streaming:
            await target.close()


async def _open(s3: S3Request, bucket: Bucket, target: service.Target, span: Span | None) -> Opened | None:
    """Open a key: a file of the connection, or a table's staged export (which serves sizes and ranges)."""
    if bucket.tables:
        return await table_exports.open_file(table_exports.Stager.of(s3.hub), s3.caller.org_id, target, span)
    return await service.open_file(target, span)


async def _file_response(s3: S3Request, target: service.Target, opened: Opened) -> Response:
    entry = opened.entry
    headers = object_headers(s3.key, entry)
    code = ranges.partial(headers, opened.span, entry.size)
    for param, name in OVERRIDES.items():
        value = s3.params.get(param)
        if value is not None:
            headers[name] = value

    async def release() -> None:
        try:
            await opened.aclose()
        finally:
            await target.close()

    try:
        first = await first_chunk(opened.chunks, opened.aclose)
    except HeadwaterError as exc:
        raise s3_error(exc) from None
    declared = headers.get("Content-Length")
    if declared is not None and len(first) == int(declared):
        await release()
        return Response(first, status_code=code, headers=headers)
    return StreamingResponse(resumed(first, opened.chunks, release), status_code=code, headers=headers)


async def checked_md5(chunks: AsyncIterable[bytes], expected: str | None) -> AsyncIterator[bytes]:
    """The body, with its `Content-MD5` checked before its last chunk goes on (so a mismatch aborts the write)."""
    if expected is None:
        async for chunk in chunks:
            yield chunk
        return
    try:
        wanted = base64.b64decode(expected, validate=True)
    except (binascii.Error, ValueError):
        raise S3Error("InvalidDigest", "Content-MD5 is not a base64 MD5 digest", 400) from None
    digest = hashlib.md5(usedforsecurity=False)
    held: bytes | None = None
    async for chunk in chunks:
        if held is not None:
            yield held
        digest.update(chunk)
        held = chunk
    if digest.digest() != wanted:
        raise S3Error("BadDigest", "the Content-MD5 you specified did not match what was received", 400)
    if held is not None:
        yield held


def size_hint(s3: S3Request) -> int | None:
    value = s3.header("x-amz-decoded-content-length") or s3.header("content-length")
    return int(value) if value and value.isdigit() else None


async def put_object(s3: S3Request) -> Response:
    target = await open_target(s3, s3.bucket, s3.key, "data.write")
    s3.note("data.write", target)
    try:
        if target.address.is_dir:
            # A folder marker (`dir/`): a folder where the kind has folders.
            async for chunk in s3.auth.body():
                if chunk:
                    raise S3Error("InvalidArgument", "an object whose key ends in '/' must be empty", 400)
            try:
                await service.mkdir(target)
            except HeadwaterError as exc:
                raise s3_error(exc) from None
            return Response(status_code=200, headers={"ETag": '"d41d8cd98f00b204e9800998ecf8427e"'})
        body = checked_md5(s3.auth.body(), s3.header("content-md5"))
        try:
            entry = await service.write(target, body, size_hint(s3))
        except HeadwaterError as exc:
            raise s3_error(exc) from None
    finally:
        await target.close()
    return Response(status_code=200, headers={"ETag": listing.quoted_etag(entry.etag)})


async def delete_object(s3: S3Request) -> Response:
    target = await open_target(s3, s3.bucket, s3.key, "data.delete")
    s3.note("data.delete", target)
    try:
        await _delete(target)
    finally:
        await target.close()
    return Response(status_code=204)


async def _delete(target: service.Target) -> None:
    """Delete one object; one that is not there is deleted already (S3's answer)."""
    try:
        await service.delete_file(target)
    except NotFound:
        return
    except HeadwaterError as exc:
        raise s3_error(exc) from None


MAX_DELETE = 1000


async def delete_objects(s3: S3Request) -> Response:
    document = xml.parse(await xml.read_body(s3.auth.body(), s3.header("content-md5")), "Delete")
    quiet = (xml.text(document, "Quiet") or "").strip().lower() == "true"
    keys = [xml.text(obj, "Key") or "" for obj in xml.children(document, "Object")]
    if not keys or len(keys) > MAX_DELETE:
        raise InvalidInput(f"a DeleteObjects request names 1 to {MAX_DELETE} keys")
    s3.note("data.delete")
    if s3.pending is not None:
        s3.pending.connection = s3.bucket.address(s3.caller, "").connection
        s3.pending.path = f"{len(keys)} keys, the first {keys[0]!r}"
    results: list[xml.Node] = []
    for key in keys:
        try:
            await _delete_one(s3, key)
        except (S3Error, HeadwaterError) as exc:
            error = s3_error(exc)
            results.append(("Error", [("Key", key), ("Code", error.code), ("Message", error.message)]))
            continue
        if not quiet:
            results.append(("Deleted", [("Key", key)]))
    return xml_response(xml.document("DeleteResult", results))


async def _delete_one(s3: S3Request, key: str) -> None:
    """Delete one key of a DeleteObjects, with an audit event of its own."""
    target = await open_target(s3, s3.bucket, key, "data.delete")
    try:
        event = await s3.event("data.delete", target)
        try:
            await _delete(target)
        except S3Error as exc:
            await s3.finish_event(event, exc.status, exc.message)
            raise
        await s3.finish_event(event, 204)
    finally:
        await target.close()


# -- copies -----------------------------------------------------------------------------------


def copy_source(header: str) -> tuple[str, str]:
    """`/bucket/key` (or `bucket/key`, URL-encoded) of `x-amz-copy-source`, as (bucket, key)."""
    text = header.split("?", 1)[0]
    if "?versionId=" in header:
        raise S3Error("NotImplemented", "versions are not supported: the copy source names no versionId", 501)
    decoded = unquote(text).lstrip("/")
    bucket, _, key = decoded.partition("/")
    if not bucket or not key:
        raise InvalidInput("x-amz-copy-source must be /BUCKET/KEY")
    return bucket, key


@dataclass
class Source:
    """A copy's source, decided as a read by the caller: its target, its entry, and its bytes opened for
    reading (None while the copy is to be made within the connection: its bytes are not asked for)."""

    target: service.Target
    entry: Entry
    opened: Opened | None = None

    async def close(self) -> None:
        try:
            if self.opened is not None:
                await self.opened.aclose()
        finally:
            await self.target.close()


def _source_holds(s3: S3Request, entry: Entry) -> None:
    """`x-amz-copy-source-if-match` and `-if-none-match` on the source's entry: 412 when one does not hold."""
    etag = (entry.etag or "").strip('"')
    if_match = s3.header("x-amz-copy-source-if-match")
    if if_match is not None and etag not in [*_etags(if_match), "*"]:
        raise S3Error("PreconditionFailed", "x-amz-copy-source-if-match did not hold", 412)
    if_none = s3.header("x-amz-copy-source-if-none-match")
    if if_none is not None and etag in [*_etags(if_none), "*"]:
        raise S3Error("PreconditionFailed", "x-amz-copy-source-if-none-match did not hold", 412)


async def open_source(s3: S3Request, header: str, into: service.Target | None = None) -> Source:
    """The copy source, decided as a read by the caller (the same decision as a GetObject), with an audit
    event of its own. Opened for reading; only stat'ed when `into` (a CopyObject's destination) is in the
    same connection and its kind copies itself (`service.copies_within`) and no range is asked for."""
    name, key = copy_source(header)
    bucket = resolve(name)
    target = await open_target(s3, bucket, key, "data.read")
    event = None
    try:
        event = await s3.event("data.read", target)
        span_header = s3.header("x-amz-copy-source-range")
        if into is not None and span_header is None and not bucket.tables and service.copies_within(target, into):
            entry = await service.stat(target)
            if entry.is_dir:
                raise S3Error("NoSuchKey", f"no object {key!r} to copy: that is a folder", 404)
            source = Source(target, entry)
        else:
            span = ranges.parse_span(span_header) if span_header else None
            opened = await _open(s3, bucket, target, span)
            if opened is None:
                raise S3Error("NoSuchKey", f"no object {key!r} to copy: that is a folder", 404)
            source = Source(target, opened.entry, opened)
        try:
            _source_holds(s3, source.entry)
        except S3Error:
            if source.opened is not None:
                await source.opened.aclose()
            raise
        await s3.finish_event(event, 200)
        return source
    except HeadwaterError as exc:
        await target.close()
        error = s3_error(exc)
        await s3.finish_event(event, error.status, error.message)
        raise error from None
    except S3Error as exc:
        await target.close()
        await s3.finish_event(event, exc.status, exc.message)
        raise
    except BaseException:
        await target.close()
        raise


async def _copy(s3: S3Request, source: Source, target: service.Target) -> Entry:
    """Copy within the connection when it can (the bytes never pass through the hub); else stream the
    source's bytes into an atomic write of the target."""
    if source.opened is None:
        copied = await service.copy(source.target, target, source.entry.size)
        if copied is not None:
            return copied
        # The connection cannot make this copy itself (across buckets, onto itself, too large): stream it.
        source.opened = await service.open_file(source.target)
        if source.opened is None:
            raise S3Error("NoSuchKey", f"no object {source.target.path!r} to copy: that is a folder", 404)
        _source_holds(s3, source.opened.entry)
    return await service.write(target, source.opened.chunks, source.opened.entry.size)


async def copy_object(s3: S3Request) -> Response:
    """Copy an object: within a connection whose kind copies itself, by the connection (the bytes never
    pass through the hub); otherwise streamed through the hub, written atomically. Either way the source
    is decided as a read and the destination as a write, each with its audit event."""
    header = s3.header("x-amz-copy-source") or ""
    # The write is authorized first: a caller who may not write learns nothing of the source, and the
    # source's backend is not asked for it.
    target = await open_target(s3, s3.bucket, s3.key, "data.write")
    try:
        try:
            service.may_write(target)
        except HeadwaterError as exc:
            raise s3_error(exc) from None
        source = await open_source(s3, header, into=target)
        try:
            s3.note("data.write", target)
            try:
                entry = await _copy(s3, source, target)
            except HeadwaterError as exc:
                raise s3_error(exc) from None
        finally:
            await source.close()
    finally:
        await target.close()
    modified = listing.iso(entry.modified)
    return xml_response(
        xml.document("CopyObjectResult", [("LastModified", modified), ("ETag", listing.quoted_etag(entry.etag))])
    )

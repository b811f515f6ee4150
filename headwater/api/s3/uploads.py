"""Multipart uploads over HTTP: create, upload part (and part copy), complete, abort, list parts, list uploads.

`services.multipart` passes an upload to an S3 connection straight through to a multipart upload on
its backend (each part streamed there once, with its length); to other targets it stages the parts in
the hub's own storage and completing writes them, in order, through the data service's atomic write.
Either way the data service decides the rights and the audit is the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.responses import Response, StreamingResponse

from headwater.api.s3 import errors, listing, xml
from headwater.api.s3.context import S3Request, open_target
from headwater.api.s3.errors import S3Error, s3_error
from headwater.api.s3.operations import XML, open_source, size_hint, xml_response
from headwater.errors import HeadwaterError, InvalidInput
from headwater.services import data as data_service
from headwater.services import multipart

INITIATOR = "Initiator"


def _failure(exc: HeadwaterError) -> S3Error:
    """The S3 error of a multipart failure (its own codes first, then the common mapping)."""
    for kind, code in (
        (multipart.NoSuchUpload, "NoSuchUpload"),
        (multipart.InvalidPart, "InvalidPart"),
        (multipart.InvalidPartOrder, "InvalidPartOrder"),
        (multipart.EntityTooSmall, "EntityTooSmall"),
    ):
        if isinstance(exc, kind):
            return S3Error(code, exc.message, 404 if code == "NoSuchUpload" else 400)
    return s3_error(exc)


async def _upload(s3: S3Request) -> multipart.Upload:
    try:
        return await multipart.find(s3.hub, s3.caller, s3.params.get("uploadId", ""), s3.bucket.name, s3.key)
    except HeadwaterError as exc:
        raise _failure(exc) from None


async def create(s3: S3Request) -> Response:
    target = await open_target(s3, s3.bucket, s3.key, "data.write")
    s3.note("data.write", target)
    try:
        upload = await multipart.begin(s3.hub, s3.caller, target, s3.bucket.name, s3.key)
    except HeadwaterError as exc:
        raise _failure(exc) from None
    finally:
        await target.close()
    return xml_response(
        xml.document(
            "InitiateMultipartUploadResult",
            [("Bucket", s3.bucket.name), ("Key", s3.key), ("UploadId", upload.upload_id)],
        )
    )


async def upload_part(s3: S3Request) -> Response:
    number = multipart.check_part_number(s3.params.get("partNumber"))
    target = await open_target(s3, s3.bucket, s3.key, "data.write")
    s3.note("data.write", target)
    try:
        upload = await _upload(s3)
        copy = s3.header("x-amz-copy-source")
        if copy is None:
            size = size_hint(s3)
            if upload.backend is not None and size is None:
                raise S3Error("MissingContentLength", "an UploadPart needs a Content-Length", 411)
            try:
                part = await multipart.put_part(
                    s3.hub, s3.caller, upload, target, number, s3.auth.body(), size, s3.header("content-md5")
                )
            except HeadwaterError as exc:
                raise _failure(exc) from None
            return Response(status_code=200, headers={"ETag": f'"{part.etag}"'})
        source = await open_source(s3, copy)
        try:
            opened = source.opened
            assert opened is not None  # a part copy is always streamed
            length = opened.span[1] - opened.span[0] if opened.span is not None else opened.entry.size
            part = await multipart.put_part(s3.hub, s3.caller, upload, target, number, opened.chunks, length)
        except HeadwaterError as exc:
            raise _failure(exc) from None
        finally:
            await source.close()
    finally:
        await target.close()
    return xml_response(
        xml.document("CopyPartResult", [("LastModified", listing.iso(part.modified)), ("ETag", f'"{part.etag}"')])
    )


def _wanted(body: bytes) -> list[tuple[int, str]]:
    document = xml.parse(body, "CompleteMultipartUpload")
    wanted: list[tuple[int, str]] = []
    for element in xml.children(document, "Part"):
        number = (xml.text(element, "PartNumber") or "").strip()
        etag = (xml.text(element, "ETag") or "").strip()
        if not number.isdigit():
            raise InvalidInput("each Part needs a PartNumber")
        wanted.append((int(number), etag))
    return wanted


#: How often a completion still writing sends a space, so that clients (boto3 waits 60 s for a byte) keep waiting.
KEEPALIVE_SECONDS = 10.0


async def complete(s3: S3Request) -> Response:
    """Check the parts, then answer 200 at once and write them, as S3 does: the object may take minutes.

    While the parts are written the body carries a space every `KEEPALIVE_SECONDS`; it ends with the
    result, or with an `<Error>` if the write failed (S3's "200 with an error", which clients check for).
    """
    upload = await _upload(s3)
    wanted = _wanted(await xml.read_body(s3.auth.body(), s3.header("content-md5")))
    target = await open_target(s3, s3.bucket, s3.key, "data.write")
    s3.note("data.write", target)
    try:
        parts = multipart.chosen(await multipart.list_parts(s3.hub, s3.caller, upload, target), wanted)
    except HeadwaterError as exc:
        await target.close()
        raise _failure(exc) from None
    return StreamingResponse(_completing(s3, upload, target, parts), media_type=XML)


async def _completing(
    s3: S3Request, upload: multipart.Upload, target: data_service.Target, parts: list[multipart.Part]
) -> AsyncIterator[bytes]:
    writing = asyncio.ensure_future(multipart.complete(s3.hub, s3.caller, upload, target, parts))
    resource = f"/{s3.bucket.name}/{s3.key}"
    try:
        yield xml.DECLARATION
        while not (await asyncio.wait({writing}, timeout=KEEPALIVE_SECONDS))[0]:
            yield b" "
        try:
            etag = writing.result()
        except Exception as exc:  # told in the body: the 200 has gone
            error = _failure(exc) if isinstance(exc, HeadwaterError) else s3_error(exc)
            if s3.pending is not None:
                s3.pending.late_failure = (error.status, error.message)
            yield errors.document(error, resource, s3.pending.request_id if s3.pending else "", declaration=False)
            return
        yield xml.document(
            "CompleteMultipartUploadResult",
            [
                ("Location", resource),
                ("Bucket", s3.bucket.name),
                ("Key", s3.key),
                ("ETag", f'"{etag}"'),
            ],
            declaration=False,
        )
    finally:
        if not writing.done():  # the client left: the atomic write is abandoned, the parts stay for a retry
            writing.cancel()
            await asyncio.gather(writing, return_exceptions=True)
        await target.close()


async def abort(s3: S3Request) -> Response:
    target = await open_target(s3, s3.bucket, s3.key, "data.write")
    s3.note("data.write", target)
    try:
        upload = await _upload(s3)
        await multipart.abort(s3.hub, s3.caller, upload, target)
    except HeadwaterError as exc:
        raise _failure(exc) from None
    finally:
        await target.close()
    return Response(status_code=204)


async def list_parts(s3: S3Request) -> Response:
    target = await open_target(s3, s3.bucket, s3.key, "data.list")
    s3.note("data.list", target)
    try:
        upload = await _upload(s3)
        parts = await multipart.list_parts(s3.hub, s3.caller, upload, target)
    except HeadwaterError as exc:
        raise _failure(exc) from None
    finally:
        await target.close()
    marker = s3.params.get("part-number-marker", "")
    after = int(marker) if marker.isdigit() else 0
    limit = listing.max_keys(s3.params.get("max-parts"))
    shown = [p for p in parts if p.number > after]
    truncated = len(shown) > limit
    shown = shown[:limit]
    nodes: list[xml.Node] = [
        ("Bucket", s3.bucket.name),
        ("Key", s3.key),
        ("UploadId", upload.upload_id),
        (INITIATOR, [("ID", upload.user_id), ("DisplayName", upload.user_name)]),
        ("Owner", [("ID", s3.caller.org_id), ("DisplayName", s3.caller.org_name)]),
        ("StorageClass", "STANDARD"),
        ("PartNumberMarker", str(after)),
        ("NextPartNumberMarker", str(shown[-1].number if shown else after)),
        ("MaxParts", str(limit)),
        ("IsTruncated", "true" if truncated else "false"),
    ]
    nodes += [
        (
            "Part",
            [
                ("PartNumber", str(p.number)),
                ("LastModified", listing.iso(p.modified)),
                ("ETag", f'"{p.etag}"'),
                ("Size", str(p.size)),
            ],
        )
        for p in shown
    ]
    return xml_response(xml.document("ListPartsResult", nodes))


async def _may_write(s3: S3Request, key: str) -> bool:
    """Whether the caller may write `key` (uploads to keys it may not are not shown to it)."""
    try:
        target = await open_target(s3, s3.bucket, key, "data.list")
    except S3Error:
        return False
    try:
        data_service.may_write(target)
        return True
    except HeadwaterError:
        return False
    finally:
        await target.close()


async def list_uploads(s3: S3Request) -> Response:
    target = await open_target(s3, s3.bucket, "", "data.list")
    s3.note("data.list", target)
    await target.close()
    prefix = s3.params.get("prefix", "")
    uploads = [
        u
        for u in await multipart.list_uploads(s3.hub, s3.caller, s3.bucket.name)
        if u.key.startswith(prefix) and await _may_write(s3, u.key)
    ]
    limit = listing.max_keys(s3.params.get("max-uploads"))
    truncated = len(uploads) > limit
    uploads = uploads[:limit]
    nodes: list[xml.Node] = [
        ("Bucket", s3.bucket.name),
        ("KeyMarker", ""),
        ("UploadIdMarker", ""),
        ("Prefix", prefix),
        ("MaxUploads", str(limit)),
        ("IsTruncated", "true" if truncated else "false"),
    ]
    nodes += [
        (
            "Upload",
            [
                ("Key", u.key),
                ("UploadId", u.upload_id),
                (INITIATOR, [("ID", u.user_id), ("DisplayName", u.user_name)]),
                ("Owner", [("ID", s3.caller.org_id), ("DisplayName", s3.caller.org_name)]),
                ("StorageClass", "STANDARD"),
                ("Initiated", listing.iso(u.started)),
            ],
        )
        for u in uploads
    ]
    return xml_response(xml.document("ListMultipartUploadsResult", nodes))

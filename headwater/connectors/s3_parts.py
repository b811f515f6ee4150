"""One bucket's multipart uploads over S3's own API: create, upload a part, list the parts, complete, abort.

obstore uploads an object's parts itself and cannot upload one part of an upload begun elsewhere, so
the S3 front door's multipart uploads reach an S3 backend through these requests. Each is signed with
`s3_signing` (the hub's one SigV4) and sent with httpx through the connection's guarded proxy, like
all of its traffic, so the endpoint policy decides where it goes; redirects are never followed. A
part's body is streamed with its length, never held whole; answers are read up to `MAX_ANSWER`.
Failures are `ServiceAnswer` (the backend's status and S3 error code, nothing else of its words) or
`httpx.HTTPError`: the connector translates both into the hub's errors.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ElementTree
from collections.abc import AsyncIterable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

import httpx
from defusedxml import ElementTree as SafeTree
from defusedxml.common import DefusedXmlException

from headwater.connectors.base import Credentials
from headwater.connectors.s3_service import ServiceAnswer, error_code
from headwater.connectors.s3_signing import EMPTY_SHA256, UNSIGNED_PAYLOAD, sign
from headwater.errors import UpstreamError

#: An answer (a part listing, a completion) larger than this is not one the hub reads.
MAX_ANSWER = 8 * 1024 * 1024
#: Parts asked for per ListParts request (S3's most).
LIST_PAGE = 1000


@dataclass(frozen=True)
class BackendPart:
    """A part as the backend lists it: its number, ETag (unquoted), size and when it was uploaded."""

    number: int
    etag: str
    size: int
    modified: datetime | None


def object_url(endpoint: str, path_style: bool, bucket: str, key: str) -> str:
    """The URL of `key` in `bucket` at `endpoint` (as `Location.bucket_endpoint` gives it), encoded once."""
    lead = f"/{quote(bucket, safe='')}" if path_style else ""
    return f"{endpoint.rstrip('/')}{lead}/{quote(key, safe='/-_.~')}"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(element: ElementTree.Element, name: str) -> str | None:
    for child in element:
        if _local(child.tag) == name:
            return child.text or ""
    return None


def _parse(body: bytes, root: str) -> ElementTree.Element:
    try:
        document = SafeTree.fromstring(body)
    except (ElementTree.ParseError, DefusedXmlException):
        raise UpstreamError(f"the backend's answer is not XML (expected {root})") from None
    if _local(document.tag) == "Error":  # S3 may answer 200 and then an error (a completion that failed)
        raise ServiceAnswer(500, _child_text(document, "Code"))
    if _local(document.tag) != root:
        raise UpstreamError(f"the backend answered {_local(document.tag)!r}, not {root}")
    return document


def _etag(value: str | None) -> str:
    return (value or "").strip().strip('"')


class Multipart:
    """The multipart requests of one connection: its region, credentials and guarded route, one HTTP client."""

    def __init__(
        self,
        region: str,
        credentials: Credentials | None,
        *,
        proxy: str,
        connect_timeout: float,
        idle_timeout: float,
    ) -> None:
        self.region = region
        self._keys: tuple[str, str, str | None] | None = None
        if credentials is not None:
            access_key, secret_key = credentials.access_key, credentials.secret_key
            if not access_key or not secret_key:
                raise UpstreamError("the secret needs both an accessKey and a secretKey for an S3 connection")
            self._keys = (access_key, secret_key, credentials.values.get("sessionToken") or None)
        timeout = httpx.Timeout(idle_timeout, connect=connect_timeout)
        self._client = httpx.AsyncClient(
            proxy=proxy, trust_env=False, follow_redirects=False, timeout=timeout, headers={"user-agent": "headwater"}
        )

    def __repr__(self) -> str:  # never print a credential
        return f"Multipart(region={self.region!r})"

    def _headers(
        self, method: str, url: str, extra: dict[str, str] | None = None, payload_hash: str = EMPTY_SHA256
    ) -> dict[str, str]:
        if self._keys is None:
            return {**(extra or {}), "x-amz-content-sha256": payload_hash}
        access_key, secret_key, token = self._keys
        return sign(
            method,
            url,
            self.region,
            access_key,
            secret_key,
            headers=extra,
            payload_hash=payload_hash,
            session_token=token,
        )

    async def _send(
        self,
        method: str,
        url: str,
        *,
        extra: dict[str, str] | None = None,
        content: bytes | AsyncIterable[bytes] = b"",
        payload_hash: str = EMPTY_SHA256,
    ) -> tuple[httpx.Headers, bytes]:
        """One request; its answer's headers and body (a failure raised as `ServiceAnswer`)."""
        headers = self._headers(method, url, extra, payload_hash)
        request = self._client.build_request(method, url, headers=headers, content=content)
        response = await self._client.send(request, stream=True)
        try:
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_ANSWER:
                    raise UpstreamError("the backend's answer is larger than the hub reads")
        finally:
            await response.aclose()
        if not 200 <= response.status_code < 300:
            raise ServiceAnswer(response.status_code, error_code(bytes(body)))
        return response.headers, bytes(body)

    async def create(self, url: str) -> str:
        """Begin a multipart upload of the object at `url`; the backend's upload id."""
        _, body = await self._send("POST", f"{url}?uploads")
        upload_id = _child_text(_parse(body, "InitiateMultipartUploadResult"), "UploadId")
        if not upload_id:
            raise UpstreamError("the backend began a multipart upload but gave no upload id")
        return upload_id

    async def upload_part(
        self, url: str, upload_id: str, number: int, chunks: AsyncIterable[bytes], size: int, md5: str | None = None
    ) -> str:
        """Stream `size` bytes as part `number` (the payload unsigned, its `Content-MD5` passed on); its ETag."""
        extra = {"content-length": str(size)}
        if md5 is not None:
            extra["content-md5"] = md5
        query = f"partNumber={number}&uploadId={quote(upload_id, safe='')}"
        headers, _ = await self._send(
            "PUT", f"{url}?{query}", extra=extra, content=chunks, payload_hash=UNSIGNED_PAYLOAD
        )
        etag = _etag(headers.get("etag"))
        if not etag:
            raise UpstreamError("the backend took a part but gave no ETag")
        return etag

    async def list_parts(self, url: str, upload_id: str) -> list[BackendPart]:
        """Every part uploaded so far, in number order (a request per `LIST_PAGE` parts)."""
        parts: list[BackendPart] = []
        marker = 0
        while True:
            query = f"max-parts={LIST_PAGE}&part-number-marker={marker}&uploadId={quote(upload_id, safe='')}"
            _, body = await self._send("GET", f"{url}?{query}")
            document = _parse(body, "ListPartsResult")
            for element in document:
                if _local(element.tag) != "Part":
                    continue
                number, size = _child_text(element, "PartNumber") or "", _child_text(element, "Size") or ""
                if not number.isdigit() or not size.isdigit():
                    raise UpstreamError("the backend listed a part without a number or a size")
                modified = _child_text(element, "LastModified")
                parts.append(
                    BackendPart(int(number), _etag(_child_text(element, "ETag")), int(size), _moment(modified))
                )
            following = _child_text(document, "NextPartNumberMarker") or ""
            truncated = (_child_text(document, "IsTruncated") or "").strip().lower() == "true"
            if not truncated or not following.isdigit() or int(following) <= marker:
                return sorted({p.number: p for p in parts}.values(), key=lambda p: p.number)
            marker = int(following)

    async def complete(self, url: str, upload_id: str, parts: list[tuple[int, str]]) -> str:
        """Join the named parts (number, ETag) into the object; the object's ETag."""
        listed = "".join(
            f"<Part><PartNumber>{number}</PartNumber><ETag>&quot;{_xml_text(etag)}&quot;</ETag></Part>"
            for number, etag in parts
        )
        document = f'<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{listed}</CompleteMultipartUpload>'
        payload = document.encode()
        _, body = await self._send(
            "POST",
            f"{url}?uploadId={quote(upload_id, safe='')}",
            extra={"content-type": "application/xml", "content-length": str(len(payload))},
            content=payload,
            payload_hash=_sha256(payload),
        )
        return _etag(_child_text(_parse(body, "CompleteMultipartUploadResult"), "ETag"))

    async def abort(self, url: str, upload_id: str) -> None:
        """Abort the upload: the backend drops its parts."""
        await self._send("DELETE", f"{url}?uploadId={quote(upload_id, safe='')}")

    async def close(self) -> None:
        await self._client.aclose()


def _xml_text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _moment(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None

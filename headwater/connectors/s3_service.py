"""Requests to an S3 endpoint itself rather than to one bucket: ListBuckets, which obstore does not offer.

The request is signed with AWS Signature Version 4 (`s3_signing`, the hub's one implementation) and
sent through the connection's guarded proxy, exactly like obstore's traffic, so the endpoint policy
decides where it may go. Nothing of the answer but bucket names is kept.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
from defusedxml import ElementTree as SafeTree
from defusedxml.common import DefusedXmlException

from headwater.connectors.base import Credentials
from headwater.connectors.s3_signing import EMPTY_SHA256, amz_timestamp, sign
from headwater.errors import UpstreamError

#: An answer larger than this is not a bucket list the hub will read.
MAX_ANSWER = 8 * 1024 * 1024
_CODE = re.compile(rb"<Code>([A-Za-z0-9.]{1,64})</Code>")


def sign_get(
    endpoint: str, path: str, region: str, credentials: Credentials | None, now: datetime | None = None
) -> dict[str, str]:
    """The headers of a SigV4-signed GET of `path` (no query, empty body) at `endpoint`; unsigned without credentials."""
    url = endpoint.rstrip("/") + path
    if credentials is None:
        moment = (now or datetime.now(UTC)).astimezone(UTC)
        host = urlsplit(endpoint).netloc.lower()
        return {"host": host, "x-amz-content-sha256": EMPTY_SHA256, "x-amz-date": amz_timestamp(moment)}
    access_key, secret_key = credentials.access_key, credentials.secret_key
    if not access_key or not secret_key:
        raise UpstreamError("the secret needs both an accessKey and a secretKey for an S3 connection")
    token = credentials.values.get("sessionToken") or None
    return sign("GET", url, region, access_key, secret_key, payload_hash=EMPTY_SHA256, session_token=token, now=now)


class ServiceAnswer(Exception):
    """A non-success answer of the S3 service, in the words `s3.translate` reads (status and S3 error code)."""

    def __init__(self, status: int, code: str | None) -> None:
        super().__init__(f"status code: {status}" + (f" <Code>{code}</Code>" if code else ""))
        self.status = status
        self.code = code


def error_code(body: bytes) -> str | None:
    """The S3 error code in an error answer's body (`NoSuchBucket`), when it names one."""
    found = _CODE.search(body)
    return found.group(1).decode() if found else None


def bucket_names(body: bytes) -> list[str]:
    """The bucket names of a ListAllMyBucketsResult."""
    try:
        root = SafeTree.fromstring(body)
    except (ElementTree.ParseError, DefusedXmlException):
        raise UpstreamError("the endpoint's bucket list is not XML") from None
    names = [element.text or "" for element in root.iter() if element.tag.rsplit("}", 1)[-1] == "Name"]
    return sorted(name for name in names if name)


async def list_buckets(
    endpoint: str, region: str, credentials: Credentials | None, *, proxy: str, timeout: float
) -> list[str]:
    """The names of the buckets the credentials own at `endpoint`, asked through the guarded `proxy`.

    Raises `ServiceAnswer` for an S3 error answer, `httpx.HTTPError` for a transport failure and
    `UpstreamError` for an answer that is not a bucket list.
    """
    url = endpoint.rstrip("/") + "/"
    headers = sign_get(endpoint, "/", region, credentials)
    async with (
        httpx.AsyncClient(proxy=proxy, trust_env=False, follow_redirects=False, timeout=timeout) as client,
        client.stream("GET", url, headers={**headers, "user-agent": "headwater"}) as response,
    ):
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > MAX_ANSWER:
                raise UpstreamError("the endpoint's bucket list is larger than the hub reads")
    if response.status_code != 200:
        raise ServiceAnswer(response.status_code, error_code(bytes(body)))
    return bucket_names(bytes(body))

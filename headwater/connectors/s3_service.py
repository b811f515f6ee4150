"""Requests to an S3 endpoint itself rather than to one bucket: ListBuckets, which obstore does not offer.

The request is signed here with AWS Signature Version 4 (a GET with an empty body needs only the
few lines below) and sent through the connection's guarded proxy, exactly like obstore's traffic,
so the endpoint policy decides where it may go. Nothing of the answer but bucket names is kept.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import xml.etree.ElementTree as ElementTree
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx

from headwater.connectors.base import Credentials
from headwater.errors import UpstreamError

#: An answer larger than this is not a bucket list the hub will read.
MAX_ANSWER = 8 * 1024 * 1024
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_CODE = re.compile(rb"<Code>([A-Za-z0-9.]{1,64})</Code>")


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def sign_get(
    endpoint: str, path: str, region: str, credentials: Credentials | None, now: datetime | None = None
) -> dict[str, str]:
    """The headers of a SigV4-signed GET of `path` (no query, empty body) at `endpoint`; unsigned without credentials."""
    host = urlsplit(endpoint).netloc.lower()
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    stamp, day = moment.strftime("%Y%m%dT%H%M%SZ"), moment.strftime("%Y%m%d")
    headers = {"host": host, "x-amz-content-sha256": EMPTY_SHA256, "x-amz-date": stamp}
    if credentials is None:
        return headers
    access_key, secret_key = credentials.access_key, credentials.secret_key
    if not access_key or not secret_key:
        raise UpstreamError("the secret needs both an accessKey and a secretKey for an S3 connection")
    token = credentials.values.get("sessionToken")
    if token:
        headers["x-amz-security-token"] = token
    signed = sorted(headers)
    canonical = "\n".join(
        ["GET", path, "", *(f"{name}:{headers[name].strip()}" for name in signed), "", ";".join(signed), EMPTY_SHA256]
    )
    scope = f"{day}/{region}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret_key}".encode(), day), region), "s3"), "aws4_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={';'.join(signed)}, Signature={signature}"
    )
    return headers


class ServiceAnswer(Exception):
    """A non-success answer of the S3 service, in the words `s3.translate` reads (status and S3 error code)."""

    def __init__(self, status: int, code: str | None) -> None:
        super().__init__(f"status code: {status}" + (f" <Code>{code}</Code>" if code else ""))
        self.status = status
        self.code = code


def bucket_names(body: bytes) -> list[str]:
    """The bucket names of a ListAllMyBucketsResult."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
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
        found = _CODE.search(bytes(body))
        raise ServiceAnswer(response.status_code, found.group(1).decode() if found else None)
    return bucket_names(bytes(body))

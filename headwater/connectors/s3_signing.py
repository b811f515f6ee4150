"""AWS Signature Version 4's canonical form, and the signing of the hub's own requests to S3 endpoints.

The one SigV4 implementation: the front door's verifier (`headwater.api.s3.sigv4`) recomputes a
client's signature from these pieces, and connectors sign what they send with `sign`. Pure: no
HTTP client, no clock unless none is given.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import quote, unquote_plus, unquote_to_bytes, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

#: Text SigV4 leaves as it is: unreserved characters (and, in a path, slashes).
_UNRESERVED = re.compile(r"[A-Za-z0-9\-_.~]*")
_UNRESERVED_PATH = re.compile(r"[A-Za-z0-9\-_.~/]+")


def text_of(raw: bytes) -> str:
    """Bytes as text, any invalid UTF-8 byte kept (surrogateescape), so a canonical form reproduces them."""
    return bytes(raw).decode("utf-8", "surrogateescape")


def raw_of(text: str) -> bytes:
    """The bytes `text_of` read."""
    return text.encode("utf-8", "surrogateescape")


def amz_timestamp(when: datetime) -> str:
    """A time in SigV4's basic ISO 8601 form, `YYYYMMDDTHHMMSSZ` (UTC)."""
    when = when.astimezone(UTC) if when.tzinfo else when
    return f"{when.year:04d}{when.month:02d}{when.day:02d}T{when.hour:02d}{when.minute:02d}{when.second:02d}Z"


def canonical_uri(raw_path: str) -> str:
    """The path as S3 signs it: each segment decoded once and encoded once, never normalized."""
    if not raw_path:
        return "/"
    if _UNRESERVED_PATH.fullmatch(raw_path):
        return raw_path
    return "/".join(quote(unquote_to_bytes(raw_of(segment)), safe="-_.~") for segment in raw_path.split("/"))


def canonical_query(raw_query: str, presigned: bool = False) -> str:
    """The query as signed: each name and value encoded once, sorted by name then value (no X-Amz-Signature)."""
    pairs = []
    for part in raw_query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        if presigned and unquote_plus(name) == "X-Amz-Signature":
            continue
        pairs.append((_encode_query_part(name), _encode_query_part(value)))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def _encode_query_part(raw: str) -> str:
    """A query name or value encoded once as SigV4 wants it ('+' read as a space, any bytes kept)."""
    if _UNRESERVED.fullmatch(raw):
        return raw
    return quote(unquote_to_bytes(raw_of(raw.replace("+", " "))), safe="-_.~")


def string_to_sign(canonical_request: str, amz_date: str, scope: str) -> str:
    """What the signature is the HMAC of: the algorithm, the time, the scope and the canonical request's hash."""
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{hashlib.sha256(raw_of(canonical_request)).hexdigest()}"


@functools.lru_cache(maxsize=512)
def derived_key(secret: str, date: str, region: str, service: str) -> bytes:
    """The day's key derived from the secret for a scope (kept for the day's next requests)."""
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.digest(key, part.encode(), "sha256")
    return key


def signature(key: bytes, text: str) -> str:
    """The hex HMAC-SHA256 of `text` under a derived key."""
    return hmac.digest(key, raw_of(text), "sha256").hex()


def sign(
    method: str,
    url: str,
    region: str,
    access_key: str,
    secret_key: str,
    *,
    headers: Mapping[str, str] | None = None,
    payload_hash: str = UNSIGNED_PAYLOAD,
    session_token: str | None = None,
    now: datetime | None = None,
) -> dict[str, str]:
    """The headers of an S3 request signed in its `Authorization` header: `headers` (all of them signed),
    `host`, `x-amz-date`, `x-amz-content-sha256` and, with a session token, `x-amz-security-token`.

    `url`'s path and query must be as they go on the wire (each segment and value percent-encoded once).
    """
    parts = urlsplit(url)
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    stamp = amz_timestamp(moment)
    signed: dict[str, str] = {name.lower(): " ".join(value.split()) for name, value in (headers or {}).items()}
    signed |= {"host": parts.netloc.lower(), "x-amz-date": stamp, "x-amz-content-sha256": payload_hash}
    if session_token:
        signed["x-amz-security-token"] = session_token
    names = sorted(signed)
    canonical = "\n".join(
        [
            method.upper(),
            canonical_uri(parts.path),
            canonical_query(parts.query),
            *(f"{name}:{signed[name]}" for name in names),
            "",
            ";".join(names),
            payload_hash,
        ]
    )
    scope = f"{stamp[:8]}/{region}/s3/aws4_request"
    proof = signature(derived_key(secret_key, stamp[:8], region, "s3"), string_to_sign(canonical, stamp, scope))
    signed["authorization"] = (
        f"{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={';'.join(names)}, Signature={proof}"
    )
    return signed

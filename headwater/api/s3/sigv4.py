"""AWS Signature Version 4 as S3 clients send it: parse, verify, and decode the verified body.

A request is signed in its `Authorization` header or in a presigned query string; `parse_signed`
reads either, `verify` recomputes the signature from the request as received (S3's canonical form:
path segments encoded once and never normalized, query sorted by encoded name then value), and
`payload` streams the body back while checking what the client committed to: a hex SHA-256, the
chunk signatures of `aws-chunked` uploads, trailing and header checksums, `Content-MD5` and the
decoded length. It is pure: no HTTP app, no store; the caller supplies the secret and the clock. The
canonical form itself is `headwater.connectors.s3_signing`'s, which also signs the hub's own requests
to S3 backends (one SigV4 implementation).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, unquote_plus

from headwater.api.s3 import checksums
from headwater.connectors import s3_signing as signing
from headwater.connectors.s3_signing import (
    ALGORITHM,
    EMPTY_SHA256,
    UNSIGNED_PAYLOAD,
    amz_timestamp,
    canonical_query,
    canonical_uri,
    text_of,
)

STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING = (STREAMING_SIGNED, STREAMING_UNSIGNED_TRAILER, STREAMING_SIGNED_TRAILER)
#: How far a header-signed request's time may be from the hub's clock.
MAX_SKEW = timedelta(minutes=15)
#: The longest a presigned URL may live (seven days), as S3 allows.
MAX_EXPIRES = 604800
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"

#: The error codes raised here and the HTTP status S3 answers each with: 403 for a signature or time
#: that does not hold, 400 for a request or body that is malformed or does not match its digests.
STATUS = {
    "SignatureDoesNotMatch": 403,
    "AccessDenied": 403,
    "RequestTimeTooSkewed": 403,
    "AuthorizationHeaderMalformed": 400,
    "AuthorizationQueryParametersError": 400,
    "InvalidRequest": 400,
    "XAmzContentSHA256Mismatch": 400,
    "BadDigest": 400,
    "IncompleteBody": 400,
    "InvalidArgument": 400,
}
CODES = frozenset(STATUS)

_HEX64 = re.compile(r"[0-9a-f]{64}")
_DATE = re.compile(r"\d{8}")
_AMZ_DATE = re.compile(r"\d{8}T\d{6}Z")
#: A chunk-size line, signed or not: hex size in either case (the CRT writes upper case, botocore lower), and
#: for a signed chunk exactly `;chunk-signature=` and the lower-case hex signature.
_SIGNED_SIZE_LINE = re.compile(rb"([0-9a-fA-F]{1,16});chunk-signature=([0-9a-f]{64})\r\n")
_UNSIGNED_SIZE_LINE = re.compile(rb"([0-9a-fA-F]{1,16})\r\n")
#: Longest chunk-size line and trailer section accepted before the body is called malformed.
_MAX_LINE = 256
_MAX_TRAILER = 4096


class SigV4Error(Exception):
    """A request whose signature, time or body does not hold; `code` is the S3 error code to answer."""

    def __init__(self, code: str, message: str) -> None:
        assert code in CODES, code
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def status(self) -> int:
        return STATUS[self.code]


@dataclass(frozen=True)
class SignedRequest:
    """What a request's signature claims: who signed, when, for which scope, and over which headers."""

    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: datetime
    presigned: bool
    expires: int | None
    content_sha256: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


# --- reading the signature -------------------------------------------------------------------------


def parse_signed(method: str, raw_path: str, raw_query: str, headers: Mapping[str, str]) -> SignedRequest | None:
    """The signature a request carries, or None for an anonymous one (no header, no presigned query).

    `headers` has lower-cased names. Raises `SigV4Error` for a signature that cannot be read.
    """
    query = _query_pairs(raw_query)
    names = {name for name, _ in query}
    authorization = headers.get("authorization")
    if authorization is not None:
        if "X-Amz-Algorithm" in names or "X-Amz-Signature" in names:
            raise SigV4Error("InvalidArgument", "Only one auth mechanism allowed; both a header and a query signature")
        return _parse_header(authorization, headers)
    if "X-Amz-Algorithm" in names:
        auth_names = [name for name, _ in query if name.startswith("X-Amz-")]
        if len(auth_names) != len(set(auth_names)):
            raise SigV4Error("AuthorizationQueryParametersError", "a presigned query repeats an X-Amz- parameter")
        return _parse_query(dict(query))
    if "AWSAccessKeyId" in names and "Signature" in names:
        raise SigV4Error(
            "InvalidRequest",
            "Signature Version 2 presigned URLs are not supported; presign with AWS4-HMAC-SHA256 "
            "(for boto3: Config(signature_version='s3v4'))",
        )
    if "X-Amz-Signature" in names or "X-Amz-Credential" in names:
        raise SigV4Error("AuthorizationQueryParametersError", "X-Amz-Algorithm is missing from a presigned query")
    return None


def _parse_header(authorization: str, headers: Mapping[str, str]) -> SignedRequest:
    algorithm, _, rest = authorization.strip().partition(" ")
    if algorithm != ALGORITHM:
        if algorithm == "AWS":
            raise SigV4Error("InvalidRequest", "Signature Version 2 is not supported; sign with AWS4-HMAC-SHA256")
        raise SigV4Error("AuthorizationHeaderMalformed", f"the authorization algorithm must be {ALGORITHM}")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep or not name:
            raise SigV4Error("AuthorizationHeaderMalformed", f"the authorization header has a malformed part {name!r}")
        fields[name] = value.strip()
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if name not in fields]
    if missing:
        raise SigV4Error("AuthorizationHeaderMalformed", f"the authorization header lacks {', '.join(missing)}")
    amz_date = _header_date(headers)
    content_sha256 = headers.get("x-amz-content-sha256")
    if content_sha256 is None:
        raise SigV4Error("InvalidRequest", "Missing required header for this request: x-amz-content-sha256")
    return _signed(
        "AuthorizationHeaderMalformed",
        credential=fields["Credential"],
        signed_headers=fields["SignedHeaders"],
        signature=fields["Signature"],
        amz_date=amz_date,
        presigned=False,
        expires=None,
        content_sha256=content_sha256.strip(),
    )


def _parse_query(query: Mapping[str, str]) -> SignedRequest:
    code = "AuthorizationQueryParametersError"
    if query["X-Amz-Algorithm"] != ALGORITHM:
        raise SigV4Error(code, f"X-Amz-Algorithm only supports {ALGORITHM}")
    missing = [
        name
        for name in ("X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature")
        if name not in query
    ]
    if missing:
        raise SigV4Error(code, f"the presigned query lacks {', '.join(missing)}")
    raw_date = query["X-Amz-Date"]
    if not _AMZ_DATE.fullmatch(raw_date):
        raise SigV4Error(code, "X-Amz-Date must be in the ISO8601 basic format YYYYMMDDTHHMMSSZ")
    amz_date = _amz_date(raw_date, code)
    raw_expires = query["X-Amz-Expires"]
    if not raw_expires.isdigit() or len(raw_expires) > 9:
        raise SigV4Error(code, "X-Amz-Expires should be a number of seconds")
    expires = int(raw_expires)
    if expires < 1:
        raise SigV4Error(code, "X-Amz-Expires must be non-negative and at least one second")
    if expires > MAX_EXPIRES:
        raise SigV4Error(code, f"X-Amz-Expires must be less than a week (in seconds) that is {MAX_EXPIRES}")
    content_sha256 = query.get("X-Amz-Content-Sha256") or query.get("X-Amz-Content-SHA256") or UNSIGNED_PAYLOAD
    return _signed(
        code,
        credential=query["X-Amz-Credential"],
        signed_headers=query["X-Amz-SignedHeaders"],
        signature=query["X-Amz-Signature"],
        amz_date=amz_date,
        presigned=True,
        expires=expires,
        content_sha256=content_sha256,
    )


def _signed(
    code: str,
    *,
    credential: str,
    signed_headers: str,
    signature: str,
    amz_date: datetime,
    presigned: bool,
    expires: int | None,
    content_sha256: str,
) -> SignedRequest:
    parts = credential.split("/")
    if len(parts) != 5 or not parts[0] or parts[4] != "aws4_request":
        raise SigV4Error(code, "the Credential must be ACCESS_KEY_ID/YYYYMMDD/REGION/SERVICE/aws4_request")
    access_key_id, date, region, service, _ = parts
    if not _DATE.fullmatch(date):
        raise SigV4Error(code, f"the Credential's date {date!r} must be YYYYMMDD")
    if date != amz_timestamp(amz_date)[:8]:
        raise SigV4Error(code, f"the Credential's date {date} is not the request's date {amz_date:%Y%m%d}")
    if not region or not service:
        raise SigV4Error(code, "the Credential names no region or no service")
    if service != "s3":
        raise SigV4Error(code, f"the Credential's service must be s3, not {service!r}")
    names = tuple(signed_headers.split(";"))
    if not all(names) or any(name != name.lower().strip() for name in names):
        raise SigV4Error(code, "SignedHeaders must be lower-case header names separated by ';'")
    if "host" not in names:
        raise SigV4Error(code, "the host header must be signed")
    if not _HEX64.fullmatch(signature):
        raise SigV4Error(code, "the Signature must be 64 lower-case hexadecimal characters")
    if content_sha256 not in STREAMING and content_sha256 != UNSIGNED_PAYLOAD and not _HEX64.fullmatch(content_sha256):
        raise SigV4Error(
            "InvalidArgument",
            "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, a STREAMING- value or a lower-case hex SHA-256",
        )
    if presigned and content_sha256 in STREAMING:
        raise SigV4Error(code, "a presigned request cannot carry a streaming payload")
    return SignedRequest(
        access_key_id=access_key_id,
        date=date,
        region=region,
        service=service,
        signed_headers=names,
        signature=signature,
        amz_date=amz_date,
        presigned=presigned,
        expires=expires,
        content_sha256=content_sha256,
    )


def _header_date(headers: Mapping[str, str]) -> datetime:
    raw = headers.get("x-amz-date")
    if raw is not None:
        if not _AMZ_DATE.fullmatch(raw.strip()):
            raise SigV4Error("AuthorizationHeaderMalformed", "X-Amz-Date must be in the format YYYYMMDDTHHMMSSZ")
        return _amz_date(raw.strip(), "AuthorizationHeaderMalformed")
    raw = headers.get("date")
    if raw is None:
        raise SigV4Error("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header")
    try:
        parsed = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        raise SigV4Error("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header") from None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _amz_date(raw: str, code: str) -> datetime:
    try:
        return datetime(
            int(raw[0:4]), int(raw[4:6]), int(raw[6:8]), int(raw[9:11]), int(raw[11:13]), int(raw[13:15]), tzinfo=UTC
        )
    except ValueError:
        raise SigV4Error(code, f"the request date {raw!r} is not a valid date") from None


def request_parts(scope: Mapping[str, Any]) -> tuple[str, str, str, dict[str, str]]:
    """An ASGI request as SigV4 reads it: method, path and query as sent (undecoded), and headers.

    Header names are lower-cased; a repeated header's values are each trimmed and joined by commas,
    as SigV4 signs them. Bytes are decoded as UTF-8, keeping any invalid byte (surrogateescape), so the
    canonical request reproduces exactly the bytes the client signed.
    """
    raw = scope.get("raw_path")
    raw_path = text_of(raw).partition("?")[0] if raw else quote(scope["path"], safe="/-_.~")
    raw_query = text_of(scope.get("query_string", b""))
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        value = " ".join(text_of(raw_value).split())
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    return scope["method"], raw_path, raw_query, headers


# --- checking the signature ------------------------------------------------------------------------


def verify(
    signed: SignedRequest,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    secret: str,
    now: datetime,
) -> None:
    """Check the request's time and recompute its signature with `secret`; raise `SigV4Error` if either fails.

    `now` is the hub's clock (a naive value is taken as UTC). A multi-valued header is expected joined
    with commas in `headers`, as SigV4 signs it.
    """
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    if signed.presigned:
        assert signed.expires is not None
        if signed.amz_date - now > MAX_SKEW:
            raise SigV4Error("AccessDenied", "Request is not valid yet")
        if now > signed.amz_date + timedelta(seconds=signed.expires):
            raise SigV4Error("AccessDenied", "Request has expired")
    elif abs(now - signed.amz_date) > MAX_SKEW:
        raise SigV4Error(
            "RequestTimeTooSkewed", "The difference between the request time and the current time is too large."
        )
    expected = _sign(secret, signed, _string_to_sign(signed, method, raw_path, raw_query, headers))
    if not hmac.compare_digest(expected, signed.signature):
        raise SigV4Error(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
        )


def canonical_request(
    signed: SignedRequest, method: str, raw_path: str, raw_query: str, headers: Mapping[str, str]
) -> str:
    """The canonical request S3 signs: method, path, query, signed headers, their names and the payload hash."""
    lines = [method.upper(), canonical_uri(raw_path), canonical_query(raw_query, signed.presigned)]
    for name in signed.signed_headers:
        value = headers.get(name)
        if value is None:
            raise SigV4Error("SignatureDoesNotMatch", f"the signed header {name!r} is not in the request")
        lines.append(f"{name}:{' '.join(value.split())}")
    lines.append("")
    lines.append(";".join(signed.signed_headers))
    lines.append(signed.content_sha256)
    return "\n".join(lines)


def _query_pairs(raw_query: str) -> list[tuple[str, str]]:
    pairs = []
    for part in raw_query.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((unquote_plus(name), unquote_plus(value)))
    return pairs


def _string_to_sign(
    signed: SignedRequest, method: str, raw_path: str, raw_query: str, headers: Mapping[str, str]
) -> str:
    canonical = canonical_request(signed, method, raw_path, raw_query, headers)
    return signing.string_to_sign(canonical, amz_timestamp(signed.amz_date), signed.scope)


def signing_key(secret: str, signed: SignedRequest) -> bytes:
    """The day's key derived from the secret for the request's scope (kept for the day's next requests)."""
    return signing.derived_key(secret, signed.date, signed.region, signed.service)


def _sign(secret: str, signed: SignedRequest, string_to_sign: str) -> str:
    return signing.signature(signing_key(secret, signed), string_to_sign)


# --- the body ---------------------------------------------------------------------------------------


async def payload(
    signed: SignedRequest | None, headers: Mapping[str, str], secret: str, chunks: AsyncIterator[bytes]
) -> AsyncIterator[bytes]:
    """The decoded body, verified as it streams; a failure is raised before the last piece is yielded.

    Pieces are yielded as they are decoded, one piece behind, so the caller that writes them can
    abort the write on a `SigV4Error` and never commit a body that did not verify. Memory holds at
    most one input chunk plus a chunk-size line.
    """
    body = BodyCheck(signed, headers, secret)
    held: bytes | None = None
    async for data in chunks:
        for piece in body.feed(data):
            if held is not None:
                yield held
            held = piece
    body.finish()
    if held is not None:
        yield held


class BodyCheck:
    """The body's verification state, fed the raw body bytes in any split: decodes and checks as it goes."""

    def __init__(self, signed: SignedRequest | None, headers: Mapping[str, str], secret: str) -> None:
        self._mode = signed.content_sha256 if signed is not None else headers.get("x-amz-content-sha256", "")
        self._mode = self._mode.strip()
        self._chunked = self._mode in STREAMING
        self._sha256 = hashlib.sha256() if _HEX64.fullmatch(self._mode) else None
        self._sums = _header_checksums(headers)
        self._size = 0
        self._decoded_length: int | None = None
        raw_length = headers.get("x-amz-decoded-content-length")
        if raw_length is not None:
            if not raw_length.strip().isdigit():
                raise SigV4Error("InvalidArgument", "x-amz-decoded-content-length must be a number of bytes")
            self._decoded_length = int(raw_length)
        elif self._mode in (STREAMING_SIGNED, STREAMING_SIGNED_TRAILER):
            raise SigV4Error("InvalidRequest", "a streaming signed upload needs x-amz-decoded-content-length")
        self._decoder: _ChunkDecoder | None = None
        if self._chunked:
            trailer = None
            if self._mode in (STREAMING_UNSIGNED_TRAILER, STREAMING_SIGNED_TRAILER):
                trailer = _trailer_checksum(headers)
            chain = None
            if self._mode in (STREAMING_SIGNED, STREAMING_SIGNED_TRAILER):
                if signed is None:
                    raise SigV4Error("InvalidRequest", "a signed streaming payload needs a signed request")
                chain = _ChunkChain(signing_key(secret, signed), signed)
            self._decoder = _ChunkDecoder(chain, trailer)

    def feed(self, data: bytes) -> list[bytes]:
        pieces = self._decoder.feed(data) if self._decoder is not None else ([data] if data else [])
        for piece in pieces:
            self._size += len(piece)
            if self._sha256 is not None:
                self._sha256.update(piece)
            for checksum, _, _ in self._sums:
                checksum.update(piece)
            if self._decoder is not None and self._decoder.trailer is not None:
                self._decoder.trailer[1].update(piece)
        if self._decoded_length is not None and self._size > self._decoded_length:
            raise SigV4Error("IncompleteBody", "the body is longer than x-amz-decoded-content-length")
        return pieces

    def finish(self) -> None:
        """Check everything the body committed to, once the input has ended."""
        if self._decoder is not None:
            self._decoder.finish()
        if self._decoded_length is not None and self._size != self._decoded_length:
            raise SigV4Error(
                "IncompleteBody",
                f"the body decoded to {self._size} bytes, not the {self._decoded_length} x-amz-decoded-content-length"
                " declared",
            )
        if self._sha256 is not None and self._sha256.hexdigest() != self._mode:
            raise SigV4Error(
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            )
        for checksum, expected, name in self._sums:
            if not hmac.compare_digest(checksum.digest(), expected):
                raise SigV4Error("BadDigest", f"The {name} you specified did not match the calculated checksum.")
        if self._decoder is not None and self._decoder.trailer is not None:
            name, checksum = self._decoder.trailer
            sent = self._decoder.trailer_value
            if sent is None:
                raise SigV4Error("IncompleteBody", f"the trailer {name} declared in x-amz-trailer was not sent")
            if not hmac.compare_digest(checksum.digest(), sent):
                raise SigV4Error("BadDigest", f"The {name} you specified did not match the calculated checksum.")


def _header_checksums(headers: Mapping[str, str]) -> list[tuple[checksums.Checksum, bytes, str]]:
    """The whole-body checksums the request's headers state: `Content-MD5` and each `x-amz-checksum-*`."""
    sums = []
    wanted = [("md5", "content-md5")] + [(name, checksums.HEADER_PREFIX + name) for name in checksums.ALGORITHMS]
    for algorithm, header in wanted:
        value = headers.get(header)
        if value is None:
            continue
        digest = checksums.decode(value)
        if digest is None or len(digest) != checksums.DIGEST_SIZES[algorithm]:
            raise SigV4Error("InvalidArgument", f"the {header} header is not a base64 {algorithm} digest")
        sums.append((checksums.new(algorithm), digest, header))
    return sums


def _trailer_checksum(headers: Mapping[str, str]) -> tuple[str, checksums.Checksum]:
    declared = headers.get("x-amz-trailer", "").strip().lower()
    algorithm = declared.removeprefix(checksums.HEADER_PREFIX)
    if not declared.startswith(checksums.HEADER_PREFIX) or algorithm not in checksums.ALGORITHMS:
        raise SigV4Error("InvalidRequest", "a trailer payload needs x-amz-trailer naming one x-amz-checksum-* trailer")
    return declared, checksums.new(algorithm)


class _ChunkChain:
    """The chained chunk signatures of a signed `aws-chunked` body, seeded by the request's signature."""

    def __init__(self, key: bytes, signed: SignedRequest) -> None:
        self._key = key
        self._prefix = f"{amz_timestamp(signed.amz_date)}\n{signed.scope}\n"
        self.previous = signed.signature

    def check_chunk(self, chunk_sha256: str, signature: str) -> None:
        self._check(f"{ALGORITHM}-PAYLOAD\n{self._prefix}{self.previous}\n{EMPTY_SHA256}\n{chunk_sha256}", signature)

    def check_trailer(self, trailer_sha256: str, signature: str) -> None:
        self._check(f"{ALGORITHM}-TRAILER\n{self._prefix}{self.previous}\n{trailer_sha256}", signature)

    def _check(self, string_to_sign: str, signature: str) -> None:
        expected = hmac.digest(self._key, string_to_sign.encode(), "sha256").hex()
        if not hmac.compare_digest(expected, signature):
            raise SigV4Error(
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided (chunk signature).",
            )
        self.previous = signature


class _ChunkDecoder:
    """An `aws-chunked` body decoded across arbitrary input splits: chunk lines, data, trailer.

    States: `size` (reading a `hex[;chunk-signature=sig]` line), `data` (copying `_remaining` bytes),
    `crlf` (the CRLF after data), `end` (the CRLF after the final chunk when there is no trailer),
    `trailer` (trailer lines up to an empty one) and `done`.
    """

    def __init__(self, chain: _ChunkChain | None, trailer: tuple[str, checksums.Checksum] | None) -> None:
        self._chain = chain
        self.trailer = trailer
        self.trailer_value: bytes | None = None
        self._state = "size"
        self._line = bytearray()
        self._trailer_lines: list[bytes] = []
        self._trailer_size = 0
        self._remaining = 0
        self._chunk_signature = ""
        self._chunk_hash = hashlib.sha256()
        self._trailer_signature: str | None = None

    def feed(self, data: bytes) -> list[bytes]:
        pieces: list[bytes] = []
        i, n = 0, len(data)
        while i < n:
            if self._state == "data":
                take = min(self._remaining, n - i)
                piece = data[i : i + take]
                i += take
                self._remaining -= take
                if self._chain is not None:
                    self._chunk_hash.update(piece)
                pieces.append(piece)
                if self._remaining == 0:
                    if self._chain is not None:
                        self._chain.check_chunk(self._chunk_hash.hexdigest(), self._chunk_signature)
                    self._state = "crlf"
            elif self._state in ("crlf", "end"):
                take = min(2 - len(self._line), n - i)
                self._line += data[i : i + take]
                i += take
                if not b"\r\n".startswith(self._line):
                    raise SigV4Error("IncompleteBody", "an aws-chunked chunk does not end with CRLF")
                if len(self._line) == 2:
                    self._line.clear()
                    self._state = "size" if self._state == "crlf" else "done"
            elif self._state in ("size", "trailer"):
                end = data.find(b"\n", i)
                stop = n if end < 0 else end + 1
                self._line += data[i:stop]
                i = stop
                if len(self._line) > (_MAX_LINE if self._state == "size" else _MAX_TRAILER):
                    raise SigV4Error("IncompleteBody", "an aws-chunked line is too long")
                if end >= 0:
                    line = bytes(self._line)
                    self._line.clear()
                    if self._state == "size":
                        self._size_line(line)
                    else:
                        self._trailer_line(line)
            else:
                raise SigV4Error("IncompleteBody", "the body continues after its final aws-chunked chunk")
        return pieces

    def finish(self) -> None:
        if self._state == "trailer" and not self._line and self._trailer_lines:
            # Some clients end the body after the last trailer line, without the closing empty line.
            self._end_trailer()
        if self._state != "done":
            raise SigV4Error("IncompleteBody", "the aws-chunked body ended before its final chunk")

    def _size_line(self, line: bytes) -> None:
        match = (_UNSIGNED_SIZE_LINE if self._chain is None else _SIGNED_SIZE_LINE).fullmatch(line)
        if match is None:
            raise SigV4Error("IncompleteBody", "an aws-chunked chunk-size line is malformed")
        size = int(match.group(1), 16)
        if self._chain is not None:
            self._chunk_signature = match.group(2).decode()
            if size == 0:
                self._chain.check_chunk(EMPTY_SHA256, self._chunk_signature)
        if size:
            self._remaining = size
            self._chunk_hash = hashlib.sha256()
            self._state = "data"
        else:
            self._state = "end" if self.trailer is None else "trailer"

    def _trailer_line(self, line: bytes) -> None:
        assert self.trailer is not None
        if not line.endswith(b"\r\n"):
            raise SigV4Error("IncompleteBody", "a trailer line does not end with CRLF")
        if line == b"\r\n":
            self._end_trailer()
            return
        self._trailer_size += len(line)
        if self._trailer_size > _MAX_TRAILER:
            raise SigV4Error("IncompleteBody", "the trailer is too long")
        name, sep, value = line[:-2].partition(b":")
        if not sep:
            raise SigV4Error("IncompleteBody", "a trailer line is not name:value")
        if name == b"x-amz-trailer-signature" and self._chain is not None:
            if self._trailer_signature is not None or not _HEX64.fullmatch(value.decode("latin-1")):
                raise SigV4Error("IncompleteBody", "the x-amz-trailer-signature is malformed")
            self._trailer_signature = value.decode()
            return
        self._trailer_lines.append(line[:-2] + b"\n")
        if name.decode("latin-1").lower() == self.trailer[0]:
            digest = checksums.decode(value.decode("latin-1"))
            if digest is None:
                raise SigV4Error("InvalidArgument", f"the trailer {self.trailer[0]} is not base64")
            self.trailer_value = digest

    def _end_trailer(self) -> None:
        if self._chain is not None:
            signature = self._trailer_signature
            if signature is None:
                raise SigV4Error("SignatureDoesNotMatch", "the signed trailer has no x-amz-trailer-signature")
            self._chain.check_trailer(hashlib.sha256(b"".join(self._trailer_lines)).hexdigest(), signature)
        self._state = "done"

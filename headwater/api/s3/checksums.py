"""The whole-object checksums S3 clients send (`x-amz-checksum-*` headers and trailers, `Content-MD5`).

Each is computed incrementally over the decoded body, so a checksum is verified without holding the
body; values are compared in S3's wire form, base64 of the big-endian digest. The CRCs S3 added
(crc32c, crc64nvme) and the xxhash family come from `awscrt`, the library botocore uses for them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from collections.abc import Callable
from typing import Protocol

from awscrt import checksums as crt

#: The algorithms S3 accepts, by the suffix of their `x-amz-checksum-` header.
ALGORITHMS = ("crc32", "crc32c", "crc64nvme", "sha1", "sha256", "sha512", "xxhash64", "xxhash3", "xxhash128")
HEADER_PREFIX = "x-amz-checksum-"
#: Digest size in bytes of each algorithm (and of md5, for `Content-MD5`).
DIGEST_SIZES = {
    "crc32": 4,
    "crc32c": 4,
    "crc64nvme": 8,
    "sha1": 20,
    "sha256": 32,
    "sha512": 64,
    "xxhash64": 8,
    "xxhash3": 8,
    "xxhash128": 16,
    "md5": 16,
}


class Checksum(Protocol):
    def update(self, data: bytes) -> None: ...

    def digest(self) -> bytes: ...


class _Crc:
    """A CRC folded piece by piece."""

    def __init__(self, fold: Callable[[bytes, int], int], size: int) -> None:
        self._fold = fold
        self._size = size
        self._value = 0

    def update(self, data: bytes) -> None:
        self._value = self._fold(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(self._size, "big")


class _XXHash:
    """An xxhash variant from awscrt; its digest is final, so it is taken once and kept."""

    def __init__(self, state: crt.XXHash) -> None:
        self._state = state
        self._digest: bytes | None = None

    def update(self, data: bytes) -> None:
        self._state.update(data)

    def digest(self) -> bytes:
        if self._digest is None:
            self._digest = bytes(self._state.finalize())
        return self._digest


def new(algorithm: str) -> Checksum:
    """A fresh running checksum of one of `ALGORITHMS` (or `md5`, for `Content-MD5`)."""
    if algorithm == "crc32":
        return _Crc(zlib.crc32, 4)
    if algorithm == "crc32c":
        return _Crc(crt.crc32c, 4)
    if algorithm == "crc64nvme":
        return _Crc(crt.crc64nvme, 8)
    if algorithm == "xxhash64":
        return _XXHash(crt.XXHash.new_xxhash64())
    if algorithm == "xxhash3":
        return _XXHash(crt.XXHash.new_xxhash3_64())
    if algorithm == "xxhash128":
        return _XXHash(crt.XXHash.new_xxhash3_128())
    if algorithm in ("sha1", "sha256", "sha512", "md5"):
        return hashlib.new(algorithm)
    raise ValueError(f"unknown checksum algorithm {algorithm!r}")


def decode(value: str) -> bytes | None:
    """The digest a base64 checksum value carries, or None when it is not base64."""
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


def encode(digest: bytes) -> str:
    return base64.b64encode(digest).decode()

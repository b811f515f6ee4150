"""The whole-object checksums S3 clients send (`x-amz-checksum-*` headers and trailers, `Content-MD5`).

Each is computed incrementally over the decoded body, so a checksum is verified without holding the
body; values are compared in S3's wire form, base64 of the big-endian digest.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from typing import Protocol

from awscrt import checksums as crt

#: The algorithms S3 accepts, by the suffix of their `x-amz-checksum-` header.
ALGORITHMS = ("crc32", "crc32c", "crc64nvme", "sha1", "sha256")
HEADER_PREFIX = "x-amz-checksum-"


class Checksum(Protocol):
    def update(self, data: bytes) -> None: ...

    def digest(self) -> bytes: ...


class _Crc:
    """A CRC folded piece by piece; `width` is its size in bytes."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._value = 0

    def update(self, data: bytes) -> None:
        if self._name == "crc32":
            self._value = zlib.crc32(data, self._value)
        elif self._name == "crc32c":
            self._value = crt.crc32c(data, self._value)
        else:
            self._value = crt.crc64nvme(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(8 if self._name == "crc64nvme" else 4, "big")


def new(algorithm: str) -> Checksum:
    """A fresh running checksum of one of `ALGORITHMS` (or `md5`, for `Content-MD5`)."""
    if algorithm in ("crc32", "crc32c", "crc64nvme"):
        return _Crc(algorithm)
    if algorithm in ("sha1", "sha256", "md5"):
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

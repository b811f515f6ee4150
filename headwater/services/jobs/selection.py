"""Which objects a job reads: an address with an optional glob, split into a base and a pattern.

Globs compile to the linear-time matcher of `headwater.globs`; its bounds are checked when the job is created."""

from __future__ import annotations

import re
from dataclasses import dataclass

from headwater.addresses import Address, parse_address
from headwater.errors import InvalidInput
from headwater.globs import compile_glob

WILDCARDS = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class Selection:
    """A base address (a directory, or one object) and a glob relative to it (None: the base itself)."""

    base: Address
    pattern: str | None

    @property
    def recursive(self) -> bool:
        return self.pattern is not None and ("/" in self.pattern or "**" in self.pattern)

    def matches(self, relative: str) -> bool:
        return self.pattern is None or compile_glob(self.pattern).match(relative)


def select(text: str, org_name: str) -> Selection:
    """Parse a source address such as `s3+in://bucket/raw/*.csv`; a trailing '/' means every file below."""
    address = parse_address(text).resolve_my(org_name)
    segments = address.path.split("/") if address.path else []
    for index, segment in enumerate(segments):
        if WILDCARDS.search(segment):
            base = "/".join(segments[:index])
            pattern = "/".join(segments[index:])
            compile_glob(pattern)
            return Selection(Address(address.protocol, address.label, base, True), pattern)
    if address.is_dir or not address.path:
        return Selection(Address(address.protocol, address.label, address.path, True), "**")
    return Selection(address, None)


def destination(text: str, org_name: str) -> Address:
    """A destination folder address (always a directory); no globs."""
    address = parse_address(text)
    if WILDCARDS.search(address.path):
        raise InvalidInput("a destination is a folder: it takes no glob")
    address = address.resolve_my(org_name)
    return Address(address.protocol, address.label, address.path, True)

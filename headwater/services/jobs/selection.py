"""Which objects a job reads: an address with an optional glob, split into a base and a pattern."""

from __future__ import annotations

import re
from dataclasses import dataclass

from headwater.addresses import Address, join, parse_address
from headwater.errors import InvalidInput

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
        return self.pattern is None or glob_regex(self.pattern).fullmatch(relative) is not None


def glob_regex(pattern: str) -> re.Pattern[str]:
    """`*` and `?` stay within a segment, `**` crosses segments, `[...]` is a character class."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            close = pattern.find("]", i + 1)
            if close == -1:
                raise InvalidInput(f"glob {pattern!r} has an unclosed '['")
            body = pattern[i + 1 : close].replace("\\", "\\\\")
            out.append("[^" + body[1:] + "]" if body.startswith("!") else "[" + body + "]")
            i = close
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out))


def select(text: str, org_name: str) -> Selection:
    """Parse a source address such as `s3+in://bucket/raw/*.csv`; a trailing '/' means every file below."""
    address = parse_address(text)
    if address.hosted:
        head, _, rest = address.path.partition("/")
        if head == ".my":
            address = Address(address.protocol, None, join(org_name, rest), address.is_dir)
    segments = address.path.split("/") if address.path else []
    for index, segment in enumerate(segments):
        if WILDCARDS.search(segment):
            base = "/".join(segments[:index])
            pattern = "/".join(segments[index:])
            glob_regex(pattern)
            return Selection(Address(address.protocol, address.label, base, True), pattern)
    if address.is_dir or not address.path:
        return Selection(Address(address.protocol, address.label, address.path, True), "**")
    return Selection(address, None)


def destination(text: str, org_name: str) -> Address:
    """A destination folder address (always a directory); no globs."""
    address = parse_address(text)
    if WILDCARDS.search(address.path):
        raise InvalidInput("a destination is a folder: it takes no glob")
    if address.hosted:
        head, _, rest = address.path.partition("/")
        if head == ".my":
            address = Address(address.protocol, None, join(org_name, rest), True)
    return Address(address.protocol, address.label, address.path, True)

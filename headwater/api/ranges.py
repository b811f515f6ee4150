"""HTTP byte ranges: the one reading of a `Range` header and the one way a response states its range.

A range that selects nothing is raised as `RangeNotSatisfiable` and answered by the one error
mapping (`api/errors.py`), which adds `Content-Range: bytes */SIZE`.
"""

from __future__ import annotations

import re

from headwater.connectors.base import Span
from headwater.errors import RangeNotSatisfiable

_RANGE = re.compile(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*")


def parse_span(header: str) -> Span | None:
    """One `bytes=` range as the client asked for it; None when the header is not a single byte range."""
    match = _RANGE.fullmatch(header)
    if match is None or (match.group(1) == "" and match.group(2) == ""):
        return None
    first, last = match.group(1), match.group(2)
    if first == "":
        return Span(suffix=int(last))
    return Span(int(first), None if last == "" else int(last) + 1)


def outside(header: str, size: int | None) -> RangeNotSatisfiable:
    """The refusal of a range (as the client wrote it) that selects nothing of a file of `size` bytes."""
    whole = f"the file's {size} bytes" if size is not None else "the file"
    return RangeNotSatisfiable(f"range {header!r} is outside {whole}", size)


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """One `bytes=` range as [start, end) of a file of `size` bytes; None when the header is not a single
    byte range; `RangeNotSatisfiable` when it selects nothing."""
    span = parse_span(header)
    if span is None:
        return None
    try:
        return span.resolve(size)
    except RangeNotSatisfiable:
        raise outside(header, size) from None


def partial(headers: dict[str, str], span: tuple[int, int] | None, size: int | None) -> int:
    """The status of a file response serving `span` ([start, end), or None for the whole file),
    with `Content-Range` and `Content-Length` set for a part."""
    if span is None:
        return 200
    start, end = span
    headers["Content-Range"] = f"bytes {start}-{end - 1}/{size if size is not None else '*'}"
    headers["Content-Length"] = str(end - start)
    return 206

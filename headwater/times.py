"""Moments as the hub writes them in JSON and metadata (ISO 8601 in UTC, ending in `Z`), and the lengths of time
people write (`--expires-in 1d`)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import overload

from headwater.errors import InvalidInput


@overload
def iso(moment: datetime) -> str: ...
@overload
def iso(moment: None) -> None: ...
def iso(moment: datetime | None) -> str | None:
    """`2026-01-02T03:04:05.123456Z`; an aware moment is converted to UTC first, None stays None."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.isoformat().replace("+00:00", "Z")


_DURATION = re.compile(r"(\d{1,9})\s*([smhdw]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
#: The longest length of time accepted (ten years): anything longer is a typo.
LONGEST = timedelta(days=3653)


def parse_duration(text: str, what: str = "duration") -> timedelta:
    """`90s`, `30m`, `12h`, `1d`, `2w` or plain seconds, positive and at most ten years; `InvalidInput` naming `what`."""
    found = _DURATION.fullmatch(text.strip().lower())
    if found is None:
        raise InvalidInput(f"{what} {text!r} is not a length of time: write e.g. 30m, 12h, 1d, 2w or seconds")
    length = timedelta(seconds=int(found[1]) * _UNITS[found[2]])
    if not timedelta(0) < length <= LONGEST:
        raise InvalidInput(f"{what} {text!r} must be more than 0 and at most ten years")
    return length

"""Error text made safe for an HTTP header value (the audit trail reads `X-Error-Message`)."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def header_text(message: str) -> str:
    """ASCII only, no control characters (a caller's JSON key may hold any), at most 1000 characters."""
    return _CONTROL.sub(" ", message.encode("ascii", "backslashreplace").decode("ascii"))[:1000]

"""Credentials kept out of what the hub says about a backend: URLs redacted, and URLs cut out of text.

A connector's URL may carry a user and password (`mysql://user:pass@host/db`), a signed query
(`?X-Amz-Signature=...`) or a token, and a driver's error message may quote the URL it was
given. Every message, log line and classification built from either goes through here, so they
are redacted one way: a URL the hub names keeps only scheme, host, port and path; a URL inside a
backend's text is replaced whole.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

#: A URL inside free text: `://`, the scheme before it (letters, digits, `+`, `.`, `-`; at most 32 of
#: them, so a long word costs no backtracking) and every character after it up to the next blank
#: (userinfo, host, path, query and fragment alike).
URL_IN_TEXT = re.compile(r"[a-z0-9+.-]{0,32}://\S*", re.IGNORECASE)
#: What `redact_urls` puts where a URL was.
URL_PLACEHOLDER = "<url>"


def redact_url(url: str) -> str:
    """A URL fit for a message: no userinfo, no query string, no fragment."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = f"{host}:{parts.port}" if parts.port else host
    except ValueError:
        return "<unparseable URL>"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def redact_urls(text: str) -> str:
    """`text` (a backend's error message) with every URL in it replaced by `URL_PLACEHOLDER`."""
    return URL_IN_TEXT.sub(URL_PLACEHOLDER, text)

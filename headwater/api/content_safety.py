"""Headers that keep user content from running as active content on the hub's origin.

Every file response carries `X-Content-Type-Options: nosniff` (the browser trusts the declared type)
and `Content-Security-Policy: sandbox` (a document opened anyway gets an opaque origin: no scripts,
no cookies, no same-origin requests). Only types a browser displays without executing anything
(raster images, plain text, CSV, JSON, audio, video) are served inline; everything else (HTML, XHTML,
SVG, XML, JavaScript, unknown types) is an attachment, whatever its name or stored type says.
"""

from __future__ import annotations

from urllib.parse import quote

SANDBOX = "sandbox"
#: The headers every response carrying user content has, whatever its disposition.
SEALED = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": SANDBOX}

_INLINE_TYPES = frozenset(
    {
        "text/plain",
        "text/csv",
        "text/tab-separated-values",
        "application/json",
        "application/x-ndjson",
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/avif",
        "image/bmp",
        "image/x-icon",
        "image/vnd.microsoft.icon",
        "image/tiff",
    }
)
_INLINE_FAMILIES = ("audio/", "video/")


def media_type(content_type: str) -> str:
    """The type without parameters, lower-cased: `Text/HTML; charset=utf-8` → `text/html`."""
    return content_type.split(";", 1)[0].strip().lower()


def displays_inert(content_type: str) -> bool:
    """Whether a browser shows this type without running anything it contains."""
    kind = media_type(content_type)
    return kind in _INLINE_TYPES or (kind.startswith(_INLINE_FAMILIES) and "+" not in kind)


def disposition(name: str, inline: bool = False) -> str:
    """A `Content-Disposition` value naming the file, safe for any name."""
    fallback = name.encode("ascii", "replace").decode().replace('"', "_").replace("\\", "_")
    fallback = "".join(c if " " <= c < "\x7f" else "_" for c in fallback)
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def file_headers(name: str, content_type: str, always_attachment: bool = False) -> dict[str, str]:
    """The safety headers of one file response: nosniff, a sandbox policy and the disposition."""
    inline = not always_attachment and displays_inert(content_type)
    return {**SEALED, "Content-Disposition": disposition(name, inline)}

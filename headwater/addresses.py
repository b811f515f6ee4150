"""Parse and normalise addresses: the one place a path is judged safe.

Forms: `protocol+label://path` for a connection, `protocol://path` for the
connection labelled `default`, and `data://org/path` (or a bare `org/path`) for
the hub's hosted storage, where the organization `.my` is the caller's own
(`Address.resolve_my` is the one place it is resolved). Protocols are case-insensitive (`S3+lake://` is
`s3+lake://`) and normalised to lowercase here; labels are lowercase only. Anything that could escape its root (`..`, encoded
separators, backslashes, NUL and control characters, empty segments, over-long
paths) is refused here with `InvalidInput`, before any connector sees it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import unquote

from headwater.errors import InvalidInput

MAX_PATH_BYTES = 1024
MAX_SEGMENT_BYTES = 255
HOSTED = "data"
DEFAULT_LABEL = "default"
MY_ORG = ".my"  # in `data://.my/...`: the caller's organization

PROTOCOL_PATTERN = r"[a-z][a-z0-9]{0,31}"
LABEL_PATTERN = r"[a-z0-9_-]{1,63}"
_PROTOCOL = re.compile(PROTOCOL_PATTERN)
_LABEL = re.compile(LABEL_PATTERN)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9]*)(?:\+([^:/]*))?:/{1,2}")
# `s3+lake//x` or `s3+lake:x`: a connection part without its `://`.
_MALFORMED_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9]*\+[^:/]*)(:?)/*")
_ENCODED_FORBIDDEN = re.compile(r"%(2f|5c|00)", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Address:
    """A parsed address. `path` is normalised: no leading slash, `""` is the connection's root."""

    protocol: str
    label: str | None
    path: str
    is_dir: bool = False

    @property
    def hosted(self) -> bool:
        return self.protocol == HOSTED

    @property
    def connection(self) -> str:
        """The connection part as it appears in `/v1/connector/{connection}/...`."""
        return HOSTED if self.hosted else f"{self.protocol}+{self.label}"

    def resolve_my(self, org_name: str) -> Address:
        """This address with `data://.my/...` written as `data://ORG_NAME/...` (the caller's organization);
        any other address unchanged."""
        head, _, rest = self.path.partition("/")
        if not self.hosted or head != MY_ORG:
            return self
        return Address(self.protocol, None, join(org_name, rest) if rest else org_name, self.is_dir)

    def child(self, name: str) -> Address:
        return Address(self.protocol, self.label, join(self.path, normalise_segment(name)), False)

    def __str__(self) -> str:
        suffix = "/" if self.is_dir and self.path else ""
        if self.hosted:
            return f"data://{self.path}{suffix}"
        return f"{self.protocol}+{self.label}://{self.path}{suffix}"


def check_label(label: str) -> str:
    if not _LABEL.fullmatch(label):
        raise InvalidInput(f"label {label!r} is invalid: use 1-63 lowercase letters, digits, '-' or '_'")
    return label


def check_protocol(protocol: str) -> str:
    """A protocol in its normal form: lowercase (protocols are case-insensitive)."""
    lowered = protocol.lower()
    if not _PROTOCOL.fullmatch(lowered):
        raise InvalidInput(f"protocol {protocol!r} is invalid: use letters and digits, starting with a letter")
    return lowered


def split_scheme(text: str) -> tuple[str, str | None, str] | None:
    """`(protocol, label or None, rest)` of a text that starts with `protocol[+label]:/` or `://`, else None.

    Only splits: the protocol and label are checked by `parse_address` / `parse_connection`.
    """
    match = _SCHEME.match(text)
    if match is None:
        return None
    return match.group(1), match.group(2), text[match.end() :]


def looks_like_address(text: str) -> bool:
    """Whether `text` is written as an address (`scheme://...`) rather than a local path."""
    match = _SCHEME.match(text)
    return match is not None and match.group(0).endswith("//")


def _malformed_scheme(text: str) -> InvalidInput | None:
    """An explanation for `s3+lake//x` or `s3+lake:x`, which are neither a connection address nor hosted data."""
    match = _MALFORMED_SCHEME.match(text)
    if match is None:
        return None
    connection = match.group(1)
    rest = text[match.end() :]
    what = "is missing the ':' after" if not match.group(2) else "needs '://' after"
    return InvalidInput(f"address {text!r} {what} {connection!r}: write {connection}://{rest}")


def decode_path(raw: str) -> str:
    """Percent-decode a path from a URL exactly once, as UTF-8; `+` stays `+`.

    Encoded separators and NUL (`%2F`, `%5C`, `%00`) are refused rather than decoded,
    so a decoded path can only ever be split on the separators the caller wrote.
    """
    if _ENCODED_FORBIDDEN.search(raw):
        raise InvalidInput("path contains an encoded separator or NUL (%2F, %5C or %00)")
    try:
        return unquote(raw, encoding="utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise InvalidInput("path is not valid percent-encoded UTF-8") from exc


def normalise_segment(segment: str) -> str:
    """Check one path segment; return it unchanged when it is safe."""
    if segment == "":
        raise InvalidInput("path has an empty segment ('//')")
    if _CONTROL.search(segment):
        raise InvalidInput("path contains NUL or a control character")
    if "\\" in segment:
        raise InvalidInput("path contains a backslash")
    folded = unicodedata.normalize("NFKC", segment)
    if folded in {".", ".."} or "/" in folded or "\\" in folded or "/" in segment:
        raise InvalidInput(f"path segment {segment!r} is not allowed ('.', '..' or a separator)")
    if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
        raise InvalidInput(f"a path segment is longer than {MAX_SEGMENT_BYTES} bytes")
    return segment


def normalise_path(path: str) -> tuple[str, bool]:
    """Return `(normalised path, ends with '/')` for a decoded path, or raise `InvalidInput`."""
    if _CONTROL.search(path):
        raise InvalidInput("path contains NUL or a control character")
    if "\\" in path:
        raise InvalidInput("path contains a backslash")
    if len(path.encode("utf-8")) > MAX_PATH_BYTES:
        raise InvalidInput(f"path is longer than {MAX_PATH_BYTES} bytes")
    body = path[1:] if path.startswith("/") else path
    is_dir = body.endswith("/")
    if is_dir:
        body = body[:-1]
    if body == "":
        return "", is_dir or path.endswith("/")
    for segment in body.split("/"):
        normalise_segment(segment)
    return body, is_dir


def parse_address(text: str) -> Address:
    """Parse a decoded address such as `s3+prod://bucket/key` or `data://org/coll/file`."""
    split = split_scheme(text)
    if split is None:
        if "://" in text:
            raise InvalidInput(
                f"address {text!r} has an invalid scheme: write protocol+label://path or data://org/path"
            )
        malformed = _malformed_scheme(text)
        if malformed is not None:
            raise malformed
        path, is_dir = normalise_path(text)
        return Address(HOSTED, None, path, is_dir)
    raw_protocol, label, rest = split
    protocol = check_protocol(raw_protocol)
    path, is_dir = normalise_path(rest)
    if protocol == HOSTED:
        if label is not None:
            raise InvalidInput("hosted data addresses take no label: use data://org/path")
        return Address(HOSTED, None, path, is_dir)
    return Address(protocol, check_label(label if label is not None else DEFAULT_LABEL), path, is_dir)


def parse_connection(connection: str) -> tuple[str, str | None]:
    """Parse the `{protocol}+{label}` part of `/v1/connector/...` (`data` for hosted storage)."""
    raw_protocol, _, label = connection.partition("+")
    protocol = check_protocol(raw_protocol)
    if protocol == HOSTED:
        if label:
            raise InvalidInput("hosted data takes no label")
        return HOSTED, None
    return protocol, check_label(label or DEFAULT_LABEL)


def join(path: str, name: str) -> str:
    return f"{path}/{name}" if path else name


def split_parent(path: str) -> tuple[str, str]:
    """`a/b/c` → (`a/b`, `c`); `a` → (``, `a`)."""
    parent, _, name = path.rpartition("/")
    return parent, name

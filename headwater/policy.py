"""Path restrictions and access modes: pure functions deciding what an operation may touch.

Pattern semantics (the Algorithmia connector rules): `bucket/team.jpg` is that one
file; `bucket/*` is everything under the folder `bucket/` and nothing else (not
`bucket-evil/...`); `bucket*` is every path that starts with `bucket`; `*` is
everything. A `*` anywhere but at the end is refused when the pattern is saved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from headwater.addresses import join, normalise_path
from headwater.errors import InvalidInput, NotSupported, PermissionDenied

EVERYTHING = ("*",)


class Operation(StrEnum):
    READ = "read"
    LIST = "list"
    WRITE = "write"
    DELETE = "delete"
    MKDIR = "mkdir"


class Access(StrEnum):
    READ = "read"
    READ_WRITE = "read-write"


WRITING = frozenset({Operation.WRITE, Operation.DELETE, Operation.MKDIR})


def validate_pattern(pattern: str) -> str:
    """Check a path-restriction pattern; return it in normal form (no leading slash)."""
    if not isinstance(pattern, str) or pattern.strip() == "":
        raise InvalidInput("a path restriction must be a non-empty string")
    star = pattern.endswith("*")
    body = pattern[:-1] if star else pattern
    if "*" in body:
        raise InvalidInput(f"path restriction {pattern!r}: '*' is only allowed at the end")
    body = body.lstrip("/")
    if body:
        # Validate the segments the caller wrote; a trailing '/' before '*' is meaningful.
        normalised, is_dir = normalise_path(body)
        body = normalised + ("/" if is_dir and normalised else "")
    return body + ("*" if star else "")


def matches(pattern: str, path: str) -> bool:
    """Whether `path` (normalised) is covered by `pattern`."""
    if pattern.endswith("*"):
        return path.startswith(pattern[:-1])
    return path == pattern.rstrip("/")


def may_reach(pattern: str, directory: str) -> bool:
    """Whether something at or below `directory` could be covered by `pattern`."""
    if matches(pattern, directory):
        return True
    prefix = directory + "/" if directory else ""
    if pattern.endswith("*"):
        stem = pattern[:-1]
        return stem.startswith(prefix) or prefix.startswith(stem)
    return pattern.startswith(prefix)


def allowed(path: str, patterns: Sequence[str]) -> bool:
    return any(matches(p, path) for p in patterns)


def reachable(directory: str, patterns: Sequence[str]) -> bool:
    return any(may_reach(p, directory) for p in patterns)


def visible(directory: str, name: str, is_dir: bool, patterns: Sequence[str]) -> bool:
    """Whether a listing of `directory` may show the entry `name`."""
    full = join(directory, name)
    return reachable(full, patterns) if is_dir else allowed(full, patterns)


@dataclass(frozen=True)
class Rights:
    """Everything that bounds one caller on one connection."""

    access: Access
    restrictions: tuple[str, ...] = EVERYTHING
    readable: bool = True
    writable: bool = True
    token_read_only: bool = False
    token_prefix: str | None = None
    describe: str = "this connection"


def authorize(op: Operation, path: str, rights: Rights) -> None:
    """Raise `PermissionDenied` (or `NotSupported`) naming the rule if `op` on `path` is not allowed."""
    if op in WRITING:
        if not rights.writable:
            raise NotSupported(f"{rights.describe} is input-only: it cannot be written to")
        if rights.access != Access.READ_WRITE:
            raise PermissionDenied(f"{rights.describe} is read-only (access 'read'): {op.value} refused")
        if rights.token_read_only:
            raise PermissionDenied(f"this token is read-only: {op.value} refused")
    elif op == Operation.READ and not rights.readable:
        # Output-only kinds may still be listed (to find what was written), never read back.
        raise NotSupported(f"{rights.describe} is output-only: it cannot be read")
    if rights.token_prefix is not None:
        if op == Operation.LIST:
            ok = may_reach(rights.token_prefix + "*", path)
        else:
            ok = path.startswith(rights.token_prefix) or path == rights.token_prefix.rstrip("/")
        if not ok:
            raise PermissionDenied(f"this token is limited to paths under {rights.token_prefix!r}")
    patterns = rights.restrictions
    ok = reachable(path, patterns) if op == Operation.LIST else allowed(path, patterns)
    if not ok:
        shown = ", ".join(repr(p) for p in patterns) or "none"
        raise PermissionDenied(f"path {path!r} is outside the path restrictions of {rights.describe} ({shown})")

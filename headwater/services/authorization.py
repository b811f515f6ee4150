"""The one place where rights are decided: (caller, action, target) → allowed, or a typed refusal.

Every router, compat router, the portal and the job runner ask this module; nothing
else reads a caller's admin flag or narrowing to decide anything. Refusals are
`PermissionDenied` (403) naming the rule; things a caller may not see are `NotFound`
(404), exactly like things that do not exist. Path-level data rules are the pure
functions of `headwater.policy`, applied here.

Token narrowing bounds management too:
- a read-only token changes nothing (it may still read, list and query);
- a token narrowed to some sources or to an address prefix ("data-narrowed") may use
  what lies inside its narrowing, and sees only that: it never creates, changes or
  deletes sources, secrets, systems or uploads, and it never opens ad-hoc connections.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater import policy
from headwater.addresses import HOSTED, Address, parse_address
from headwater.errors import InvalidInput, NotFound, PermissionDenied
from headwater.services.context import Caller

if TYPE_CHECKING:
    from headwater.connectors.kind import Kind
    from headwater.store.models import Source, Token


class Action(StrEnum):
    """What a caller wants to do to management objects."""

    VIEW = "view"  # read sources, secrets, systems, uploads, jobs, job templates, audit
    CONFIGURE = "configure"  # create, change or delete sources, secrets, systems, uploads, job templates
    TEST = "test"  # run a source's connection check (it may write a probe)
    RUN = "run"  # create, run, change, cancel or delete jobs
    CONNECT = "connect"  # open an ad-hoc connection from a dataSource object


def data_narrowed(caller: Caller) -> bool:
    """Whether the token is limited to some sources or to an address prefix."""
    return caller.source_ids is not None or caller.path_prefix is not None


def require(caller: Caller, action: Action, what: str) -> None:
    """Refuse `action` on `what` (a plural noun: "data sources") when the token's narrowing forbids it."""
    if action == Action.VIEW:
        return
    if caller.read_only:
        raise PermissionDenied(f"this token is read-only: it cannot change {what}")
    if action in {Action.CONFIGURE, Action.CONNECT} and data_narrowed(caller):
        raise PermissionDenied(f"this token is limited to some data sources or paths: it cannot change {what}")


def require_admin(caller: Caller, what: str) -> None:
    if not caller.admin or caller.read_only or data_narrowed(caller):
        raise PermissionDenied(f"only an administrator's full token may {what}")


def require_kind(caller: Caller, kind: Kind) -> None:
    """Admin-only kinds (`local`) are created, changed and used ad hoc by administrators only."""
    if kind.admin_only and not caller.admin:
        raise PermissionDenied(f"only an administrator may create or change a {kind.name!r} data source")


def check_local_root(root: str, data_dir: Path) -> None:
    """A `local` root may neither lie inside the hub's data dir nor contain it (even for an administrator)."""
    resolved = Path(root).expanduser().resolve()
    hub = data_dir.resolve()
    if resolved == hub or resolved.is_relative_to(hub) or hub.is_relative_to(resolved):
        raise InvalidInput("params.path: a local folder may not contain or lie inside the hub's data dir")


def may_configure_source(caller: Caller, kind: Kind, params: dict[str, Any] | None, data_dir: Path) -> None:
    """The whole rule for creating or changing a source: the token may configure, the kind is allowed, the root is safe."""
    require(caller, Action.CONFIGURE, "data sources")
    require_kind(caller, kind)
    if kind.name == "local" and isinstance(params, dict) and isinstance(params.get("path"), str):
        check_local_root(params["path"], data_dir)


def may_connect(caller: Caller, kind: Kind) -> None:
    """An ad-hoc connection (a dataSource object) can send an organization secret anywhere: full tokens only."""
    require(caller, Action.CONNECT, "data sources (an ad-hoc dataSource object opens a new connection)")
    require_kind(caller, kind)


def may_configure_templates(caller: Caller) -> None:
    """Job templates are configuration: a read-only or data-narrowed token may list them and use them, never change them."""
    require(caller, Action.CONFIGURE, "job templates")


# -- visibility -------------------------------------------------------------------------------


def _prefix_address(caller: Caller) -> Address | None:
    return parse_address(caller.path_prefix) if caller.path_prefix is not None else None


def source_visible(caller: Caller, source: Source | None) -> bool:
    """Whether the caller may see (and so use) a source: its organization's, and inside its narrowing."""
    if source is None or source.org_id != caller.org_id:
        return False
    if caller.source_ids is not None and source.id not in caller.source_ids:
        return False
    prefix = _prefix_address(caller)
    return prefix is None or (
        not prefix.hosted and (prefix.protocol, prefix.label or "default") == (source.protocol, source.label)
    )


def visible_sources(caller: Caller, sources: Iterable[Source]) -> list[Source]:
    return [s for s in sources if source_visible(caller, s)]


def secret_visible(caller: Caller, secret_id: str, used_by: Iterable[Source]) -> bool:
    """A data-narrowed token sees only the secrets its visible sources use."""
    if not data_narrowed(caller):
        return True
    return any(
        source_visible(caller, s) and (s.secret_id == secret_id or secret_id in (s.env_secret_ids or []))
        for s in used_by
    )


def upload_visible(caller: Caller, source: Source | None) -> bool:
    """An upload is visible to full tokens of its organization; to a data-narrowed token only through its visible source."""
    return not data_narrowed(caller) or source_visible(caller, source)


# -- tokens -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Narrowing:
    """What a new token is limited to, beyond its user's rights."""

    read_only: bool = False
    source_ids: tuple[str, ...] | None = None
    path_prefix: str | None = None
    expires_at: datetime | None = None


def child_narrowing(caller: Caller, *, admin: bool, other_user: bool, wanted: Narrowing) -> Narrowing:
    """The narrowing of a token the caller issues: never broader or longer-lived than the caller's own."""
    if (admin or other_user) and not caller.admin:
        raise PermissionDenied("only an administrator may create admin tokens or tokens for other users")
    if (admin or other_user) and (caller.read_only or data_narrowed(caller)):
        raise PermissionDenied("a narrowed token may not create admin tokens or tokens for other users")
    if caller.read_only and not wanted.read_only:
        raise PermissionDenied("a read-only token can only issue read-only tokens")
    if caller.source_ids is not None and (
        wanted.source_ids is None or not set(wanted.source_ids) <= set(caller.source_ids)
    ):
        raise PermissionDenied("a token limited to some sources can only issue tokens limited to those")
    if caller.path_prefix is not None and (
        wanted.path_prefix is None or not _under(wanted.path_prefix, caller.path_prefix, caller.org_name)
    ):
        raise PermissionDenied("a token limited to a path prefix can only issue tokens under that prefix")
    expires_at = wanted.expires_at
    if caller.expires_at is not None:
        if expires_at is None:
            expires_at = caller.expires_at
        elif expires_at > caller.expires_at:
            raise PermissionDenied(
                "a token cannot outlive the token that issues it: give an expiry no later than its own"
            )
    return replace(wanted, expires_at=expires_at)


def inherited_narrowing(caller: Caller, wanted: Narrowing) -> Narrowing:
    """What an S3 access key asks for: what the caller asked, each part left open taken from the caller's own token
    (a read-only token's keys are read-only, a narrowed token's keys are narrowed alike); `child_narrowing` then
    refuses anything broader."""
    return Narrowing(
        read_only=wanted.read_only or caller.read_only,
        source_ids=wanted.source_ids if wanted.source_ids is not None else caller.source_ids,
        path_prefix=wanted.path_prefix if wanted.path_prefix is not None else caller.path_prefix,
        expires_at=wanted.expires_at,
    )


def _under(prefix: str, parent: str, org_name: str) -> bool:
    return normal_prefix(prefix, org_name).startswith(normal_prefix(parent, org_name))


def token_visible(caller: Caller, token: Token, lineage: Iterable[str]) -> bool:
    """Admins see their organization's tokens, members their own user's; a narrowed token itself and its descendants."""
    if token.org_id != caller.org_id:
        return False
    if caller.read_only or data_narrowed(caller):
        return token.id == caller.token_id or caller.token_id in lineage
    return caller.admin or token.user_id == caller.user_id


# -- audit and jobs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditScope:
    """Which events a caller may read: its organization's, its user's, or its own token's."""

    org_id: str
    user_id: str | None = None
    token_id: str | None = None


def audit_scope(caller: Caller) -> AuditScope:
    if caller.read_only or data_narrowed(caller):
        return AuditScope(caller.org_id, token_id=caller.token_id)
    if caller.admin:
        return AuditScope(caller.org_id)
    return AuditScope(caller.org_id, user_id=caller.user_id)


def normal_prefix(prefix: str, org_name: str) -> str:
    """An address prefix with `data://.my` resolved to the organization."""
    return str(parse_address(prefix).resolve_my(org_name))


def job_visible(caller: Caller, source_ids: Iterable[str], source_prefix: str, destination_prefix: str) -> bool:
    """A data-narrowed token sees only jobs whose both sides lie inside its narrowing."""
    if caller.source_ids is not None and not set(source_ids) <= set(caller.source_ids):
        return False
    if caller.path_prefix is not None:
        mine = normal_prefix(caller.path_prefix, caller.org_name)
        return source_prefix.startswith(mine) and destination_prefix.startswith(mine)
    return True


def job_prefix(job_prefix: str, creator: Caller) -> str:
    """The narrower of a job side's prefix and the creator token's; refused when they do not overlap."""
    if creator.source_ids is not None and parse_address(job_prefix).hosted:
        own = _prefix_address(creator)
        if own is None or not own.hosted:
            raise PermissionDenied("this token is limited to some data sources: a job of it cannot reach hosted data")
    if creator.path_prefix is None:
        return job_prefix
    mine, theirs = normal_prefix(job_prefix, creator.org_name), normal_prefix(creator.path_prefix, creator.org_name)
    if mine.startswith(theirs):
        return mine
    if theirs.startswith(mine):
        return theirs
    raise PermissionDenied(f"this token is limited to {creator.path_prefix!r}: a job cannot reach {job_prefix!r}")


def job_side(creator: Caller, *, source_ids: tuple[str, ...] | None, prefix: str, read_only: bool) -> Caller:
    """The narrowed identity a job acts as on one side: never an admin, never broader than its creator.

    `source_ids` of `()` means no connection at all (a side on hosted data, reached by its prefix).
    """
    ids = source_ids
    if creator.source_ids is not None:
        ids = tuple(i for i in (ids if ids is not None else creator.source_ids) if i in creator.source_ids)
    return replace(creator, admin=False, read_only=read_only or creator.read_only, source_ids=ids, path_prefix=prefix)


# -- data -------------------------------------------------------------------------------------


def _token_prefix(caller: Caller, connection: str, root: str) -> str | None:
    """Translate a token's address prefix into a path prefix inside this connection."""
    prefix = _prefix_address(caller)
    if prefix is None:
        return None
    if Address(prefix.protocol, prefix.label, "").connection != connection:
        raise PermissionDenied(f"this token is limited to {caller.path_prefix!r}")
    path = prefix.resolve_my(caller.org_name).path
    if root:
        if not (path + "/").startswith(root + "/"):
            raise PermissionDenied(f"this token is limited to {caller.path_prefix!r}")
        path = path[len(root) :].lstrip("/")
    return path + ("/" if prefix.is_dir and path else "")


def hosted_rights(caller: Caller) -> policy.Rights:
    """The rights on the organization's hosted data: refused to tokens limited to some sources."""
    prefix = _prefix_address(caller)
    if caller.source_ids is not None and (prefix is None or not prefix.hosted):
        raise PermissionDenied("this token is limited to some data sources: it cannot reach hosted data")
    return policy.Rights(
        access=policy.Access.READ_WRITE,
        token_read_only=caller.read_only,
        token_prefix=_token_prefix(caller, HOSTED, caller.org_name),
        describe=f"hosted data of {caller.org_name}",
    )


def source_rights(caller: Caller, source: Source, kind: Kind, connection: str) -> policy.Rights:
    """The rights on one source's data: its access and restrictions, the kind's capabilities, the token's narrowing."""
    if not source_visible(caller, source):
        raise NotFound(f"no connection {connection} in this organization")
    return policy.Rights(
        access=policy.Access(source.access),
        restrictions=tuple(source.path_restrictions),
        readable=kind.capabilities.input,
        writable=kind.capabilities.output,
        token_read_only=caller.read_only,
        token_prefix=_token_prefix(caller, connection, ""),
        describe=f"connection {connection}",
    )


def adhoc_rights(caller: Caller, kind: Kind) -> policy.Rights:
    """An ad-hoc connection is read by its full-token caller, never written."""
    return policy.Rights(
        access=policy.Access.READ,
        readable=kind.capabilities.input,
        writable=kind.capabilities.output,
        token_read_only=caller.read_only,
        describe=f"the {kind.name} data source",
    )


def exported_rights(rights: policy.Rights) -> policy.Rights:
    """The rights on a connection's tables served as exported files (the S3 front door's table buckets):
    the same, but read-only whatever the connection's access (an export is never loaded back)."""
    return replace(rights, access=policy.Access.READ, describe=f"the exported tables of {rights.describe}")


def authorize_data(op: policy.Operation, path: str, rights: policy.Rights) -> None:
    """The data-plane decision: `policy`'s pure rules on the rights a target was opened with."""
    policy.authorize(op, path, rights)


def visible_at(rights: policy.Rights, full: str, is_dir: bool) -> bool:
    """Whether a listing may show the entry at `full` (a path inside the connection) to the holder of `rights`."""
    if rights.token_prefix is not None and not policy.may_reach(rights.token_prefix + "*", full):
        return False
    directory, _, name = full.rpartition("/")
    return policy.visible(directory, name, is_dir, rights.restrictions)


def sees_everything(rights: policy.Rights) -> bool:
    """Whether the rights show every entry of every directory (no restriction narrower than `*`, no token prefix)."""
    return rights.token_prefix is None and "*" in rights.restrictions


def named_roots(rights: policy.Rights) -> list[str] | None:
    """The root entries the rights name: the first segment of each path restriction (or of the token's
    prefix). None when a restriction reaches root entries it does not name (`*`, `bucket*`), so that
    only a listing of the root can tell them; the listing is still filtered by `visible_at`."""
    names: set[str] = set()
    for pattern in rights.restrictions:
        stem = pattern[:-1] if pattern.endswith("*") else pattern
        first, sep, _ = stem.partition("/")
        if not sep and pattern.endswith("*"):
            break  # `*` or `bucket*`
        names.add(first)
    else:
        return sorted(name for name in names if name)
    if rights.token_prefix is not None:
        first, sep, _ = rights.token_prefix.partition("/")
        if sep and first:
            return [first]
    return None

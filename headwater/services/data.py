"""The data plane: address → connection → rights → connector, for every read and write.

Every operation's rights are decided by `services.authorization` (with `policy`'s
pure path rules): the caller's organization owns the connection, the connection's
access and the kind's capabilities allow the operation, and the path is inside the
path restrictions and the token's own narrowing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from dataclasses import dataclass, replace

import anyio
from sqlalchemy import select
from sqlalchemy.orm import Session

from headwater import policy
from headwater.addresses import HOSTED, Address, join, normalise_segment
from headwater.connectors import catalogue
from headwater.connectors.base import (
    MAX_PAGE_SIZE,
    PAGE_SIZE,
    Connector,
    Entry,
    Listing,
    Opened,
    PartsUpload,
    Span,
    UploadedPart,
)
from headwater.connectors.storage import HOSTED_ROOT
from headwater.errors import InvalidInput, NotAFile, NotFound, NotSupported, PermissionDenied
from headwater.services import authorization
from headwater.services import sources as sources_service
from headwater.services.connector_cache import Key, Lease, SourceRow
from headwater.services.context import Caller
from headwater.services.hub import Hub
from headwater.store import stamps
from headwater.store.models import Collection, Secret, Source
from headwater.store.stamps import Stamps

log = logging.getLogger("headwater.data")


@dataclass
class Target:
    """An opened connection for one caller: the connector and the rights that bound it."""

    address: Address
    connector: Connector
    rights: policy.Rights
    root: str
    source_id: str | None = None
    source_version: int | None = None  # the connection's version when opened (an edit makes a new one)
    caller_org: str = ""
    lease: Lease | None = None  # a connector from the hub's cache: released, never closed, by `close`

    @property
    def path(self) -> str:
        """The path inside the connection (for hosted data, below the organization)."""
        return self.address.path[len(self.root) :].lstrip("/") if self.root else self.address.path

    def uri(self, path: str | None = None) -> str:
        relative = self.path if path is None else path
        full = join(self.root, relative) if self.root else relative
        return str(Address(self.address.protocol, self.address.label, full))

    def child(self, name: str) -> Target:
        return replace(self, address=self.address.child(name))

    @property
    def collection(self) -> str | None:
        """For hosted data, the collection (first folder below the organization) the path is in."""
        if not self.address.hosted or not self.root or not self.path:
            return None
        return self.path.split("/", 1)[0]

    def authorize(self, op: policy.Operation, path: str | None = None) -> None:
        """Decide `op` on the path, and on where it really leads when that differs (a symlink)."""
        here = self.path if path is None else path
        authorization.authorize_data(op, here, self.rights)
        real = self.connector.real_path(here)
        if real != here:
            try:
                authorization.authorize_data(op, real, self.rights)
            except PermissionDenied:
                raise PermissionDenied(
                    f"path {here!r} is a link that leads outside what {self.rights.describe} allows"
                ) from None

    def shows(self, directory: str, entry: Entry) -> bool:
        """Whether a listing of `directory` may show `entry`: its name is usable and it leads nowhere refused."""
        if not usable_name(entry.name):
            return False
        full = join(directory, entry.name)
        try:
            real = self.connector.real_path(full)
        except NotFound:
            return False  # a link out of the root
        return all(authorization.visible_at(self.rights, where, entry.is_dir) for where in {full, real})

    async def close(self) -> None:
        """Release a cached connector for the next request, or close one built for this target alone."""
        if self.lease is not None:
            await self.lease.release()
        else:
            await self.connector.close()


def _open_hosted(hub: Hub, caller: Caller, address: Address) -> Target:
    org, _, rest = address.resolve_my(caller.org_name).path.partition("/")
    if org not in {"", caller.org_name}:
        raise NotFound(f"{address} does not exist")
    rights = authorization.hosted_rights(caller)
    connector = hub.storage.connector(f"{HOSTED_ROOT}/{caller.org_id}", create=True, chunk_size=hub.settings.chunk_size)
    if org == "":
        # The hosted root: it shows the caller's own organization and nothing else.
        return Target(
            address, connector, replace(rights, access=policy.Access.READ), root="", caller_org=caller.org_name
        )
    own = Address(HOSTED, None, join(caller.org_name, rest), address.is_dir)
    return Target(own, connector, rights, root=caller.org_name, caller_org=caller.org_name)


def _source_row(session: Session, hub: Hub, caller: Caller, address: Address, current: Stamps) -> SourceRow:
    """The source behind an address as of the organization's `data` stamp, from the cache or the store."""
    assert address.label is not None
    cached = hub.connectors.row(caller.org_id, address.protocol, address.label, current.data)
    if cached is not None:
        return cached
    source = session.scalar(
        select(Source).where(
            Source.org_id == caller.org_id, Source.protocol == address.protocol, Source.label == address.label
        )
    )
    if source is None:
        raise sources_service.missing_connection(session, caller, address.protocol, address.label)
    session.expunge(source)  # shared read-only by requests: a later rollback of this session must not expire it
    refs = ([source.secret_id] if source.secret_id else []) + list(source.env_secret_ids or [])
    secrets = (
        session.execute(
            select(Secret.secret_id, Secret.version, Secret.expires_at).where(
                Secret.org_id == caller.org_id, Secret.secret_id.in_(refs)
            )
        ).all()
        if refs
        else []
    )
    expiries = [e for _, _, e in secrets if e is not None]
    row = SourceRow(
        source, tuple(sorted((i, v) for i, v, _ in secrets)), min(expiries) if expiries else None, current.data
    )
    hub.connectors.remember(caller.org_id, address.protocol, address.label, row)
    return row


def _cache_key(row: SourceRow, loop: int) -> Key:
    return (row.source.id, row.source.version, row.secrets, loop)


def _open_source(hub: Hub, caller: Caller, address: Address, current: Stamps | None, loop: int) -> Target:
    with hub.store.session() as session:
        if current is None:
            current = stamps.read(session, caller.org_id)  # first: whatever is read after it is at least as new
        row = _source_row(session, hub, caller, address, current)
        source = row.source
        rights = authorization.source_rights(caller, source, catalogue.get(source.protocol), address.connection)
        key = _cache_key(row, loop)
        lease = hub.connectors.acquire(key)
        if lease is not None:
            return Target(
                address,
                lease.connector,
                rights,
                root="",
                source_id=source.id,
                source_version=source.version,
                lease=lease,
            )
        connector = sources_service.connector_for(session, hub, source)
    if not connector.reusable:
        return Target(address, connector, rights, root="", source_id=source.id, source_version=source.version)
    connector, lease = hub.connectors.insert(key, connector, row.secrets_expire)
    return Target(address, connector, rights, root="", source_id=source.id, source_version=source.version, lease=lease)


def _cached_source(hub: Hub, caller: Caller, address: Address, current: Stamps, loop: int) -> Target | None:
    """The hot path: a source row and an opened connector both cached under the current stamps."""
    assert address.label is not None
    row = hub.connectors.row(caller.org_id, address.protocol, address.label, current.data)
    if row is None:
        return None
    source = row.source
    rights = authorization.source_rights(caller, source, catalogue.get(source.protocol), address.connection)
    lease = hub.connectors.acquire(_cache_key(row, loop))
    if lease is None:
        return None
    return Target(
        address, lease.connector, rights, root="", source_id=source.id, source_version=source.version, lease=lease
    )


async def open_target(hub: Hub, caller: Caller, address: Address, current: Stamps | None = None) -> Target:
    """Resolve an address to an opened target; nothing of another organization is visible.

    `current` is the organization's stamps as read when the request authenticated (one store
    read per request); without it they are read here. A connector is reused from the hub's
    cache when the source and its secrets are unchanged; `Target.close` releases it.
    """
    if address.hosted:
        return _open_hosted(hub, caller, address)
    loop = id(asyncio.get_running_loop())
    if current is not None:
        target = _cached_source(hub, caller, address, current, loop)
        if target is not None:
            return target
    target = await anyio.to_thread.run_sync(_open_source, hub, caller, address, current, loop)
    await hub.connectors.reap()
    return target


def as_exports(target: Target) -> Target:
    """The target for reading a connection's tables as exported files (the S3 front door's table
    buckets): read-only whatever the connection's access (`authorization.exported_rights`)."""
    return replace(target, rights=authorization.exported_rights(target.rights))


def may_list(target: Target) -> None:
    """Decide, without a backend request, that the caller may list at the target (S3's HeadBucket)."""
    target.authorize(policy.Operation.LIST)


def may_write(target: Target) -> None:
    """Decide, without a backend request, that the caller may write at the target (before staging a
    multipart upload's parts, or showing an upload in progress)."""
    target.authorize(policy.Operation.WRITE)


async def stat(target: Target) -> Entry:
    target.authorize(policy.Operation.LIST)
    entry = await target.connector.stat(target.path)
    if not entry.is_dir:
        target.authorize(policy.Operation.READ)
    return entry


async def read(
    target: Target, start: int | None = None, end: int | None = None, options: Mapping[str, str] | None = None
) -> AsyncIterator[bytes]:
    target.authorize(policy.Operation.READ)
    accepted = {k: v for k, v in (options or {}).items() if k in target.connector.read_options}
    if accepted:
        return target.connector.read(target.path, start, end, options=accepted)
    return target.connector.read(target.path, start, end)


async def open_file(
    target: Target, span: Span | None = None, options: Mapping[str, str] | None = None
) -> Opened | None:
    """Open the file at the target for reading, with one backend request where the kind allows it;
    None when the target is a directory (the Data API lists it instead).

    Reaching the path is decided first, as `stat` does. When the rights allow listing but not
    reading here, the target is only stat'ed: a directory is listed, a file refused.
    """
    target.authorize(policy.Operation.LIST)
    try:
        target.authorize(policy.Operation.READ)
    except (PermissionDenied, NotSupported):
        await stat(target)  # refuses a file; a directory falls through to its listing
        return None
    accepted = {k: v for k, v in (options or {}).items() if k in target.connector.read_options}
    try:
        return await target.connector.open_read(target.path, span, options=accepted or None)
    except NotAFile:
        return None


def _may_write_file(target: Target) -> None:
    """Decide a write of a file at the target: the rights, and for hosted data, inside a collection."""
    target.authorize(policy.Operation.WRITE)
    if target.address.hosted and "/" not in target.path:
        raise InvalidInput("hosted files live in a collection: data://ORG/COLLECTION/FILE")


async def write(target: Target, chunks: AsyncIterable[bytes], size_hint: int | None = None) -> Entry:
    _may_write_file(target)
    return await target.connector.write(target.path, chunks, size_hint)


def takes_parts(target: Target) -> bool:
    """Whether a multipart upload to the target goes part by part to its backend (`Capabilities.parts`)
    rather than being staged in the hub's storage. No rights are decided here."""
    return not target.address.hosted and target.connector.capabilities.parts


async def begin_parts(target: Target) -> PartsUpload:
    """Begin a multipart upload on the target's backend, decided as a write of the file."""
    _may_write_file(target)
    return await target.connector.begin_parts(target.path)


async def put_part(
    target: Target, upload: PartsUpload, number: int, chunks: AsyncIterable[bytes], size: int, md5: str | None = None
) -> UploadedPart:
    """Stream one part to the backend's upload, decided as a write of the file."""
    _may_write_file(target)
    return await target.connector.put_part(target.path, upload, number, chunks, size, md5)


async def list_parts(target: Target, upload: PartsUpload) -> list[UploadedPart]:
    """The parts the backend holds, decided as a write of the file (only writers see uploads in progress)."""
    _may_write_file(target)
    return await target.connector.list_parts(target.path, upload)


async def complete_parts(target: Target, upload: PartsUpload, parts: list[tuple[int, str]]) -> Entry:
    """Join the named parts into the target's file on the backend (atomically), decided as a write."""
    _may_write_file(target)
    return await target.connector.complete_parts(target.path, upload, parts)


async def abort_parts(target: Target, upload: PartsUpload) -> None:
    """Abort the backend's upload, decided as a write of the file."""
    _may_write_file(target)
    await target.connector.abort_parts(target.path, upload)


def copies_within(source: Target, target: Target) -> bool:
    """Whether a copy from `source` to `target` may be made by the connection itself (`copy`): both are
    the same connection, at the same version (the caller's own hosted data, or one source), and its
    kind copies without the bytes passing through the hub. No rights are decided here."""
    if type(source.connector) is not type(target.connector) or not target.connector.capabilities.copies:
        return False
    if source.address.hosted or target.address.hosted:
        return source.address.hosted and target.address.hosted and bool(source.root) and source.root == target.root
    return (
        source.source_id is not None
        and (source.source_id, source.source_version) == (target.source_id, target.source_version)
        and source.address.connection == target.address.connection
    )


async def copy(source: Target, target: Target, size: int | None = None) -> Entry | None:
    """Copy the file at `source` to `target` within their connection, the bytes never passing through
    the hub (the connector's server-side copy), decided as a read of the source and a write of the
    target; the new file's entry.

    None when the connection cannot make this copy itself (`copies_within` says no, or the connector
    cannot between these paths): the caller streams it with `open_file` and `write`. `size` is the
    source's, when the caller knows it.
    """
    if not copies_within(source, target):
        return None
    source.authorize(policy.Operation.READ)
    _may_write_file(target)
    return await target.connector.copy(source.path, target.path, size)


async def delete_file(target: Target) -> None:
    target.authorize(policy.Operation.DELETE)
    await target.connector.delete(target.path)


def page_size(value: str | None) -> int:
    """A listing's page size from a caller's `limit`: 1 to `MAX_PAGE_SIZE`, `PAGE_SIZE` when not given."""
    if value is None or value == "":
        return PAGE_SIZE
    if not value.isdigit() or not 1 <= int(value) <= MAX_PAGE_SIZE:
        raise InvalidInput(f"limit must be a whole number from 1 to {MAX_PAGE_SIZE}")
    return int(value)


async def list_pieces(target: Target, marker: str | None = None, limit: int = PAGE_SIZE) -> AsyncIterator[Listing]:
    """One page of a directory in pieces, as the backend yields them, showing only the entries the caller may reach.

    A refusal, or an error about the directory itself, comes before the first piece. Files come in name
    order; folders may not (collect them and sort, as `list_page` does). The last piece holds the marker.
    """
    target.authorize(policy.Operation.LIST)
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(f"limit must be a whole number from 1 to {MAX_PAGE_SIZE}")
    if target.address.hosted and target.address.path == "":
        yield Listing([Entry(name=target.caller_org, is_dir=True)], [], None)
        return
    path = target.path
    if path:
        pieces = target.connector.scan(path, marker, limit)
    else:
        pieces = target.connector.list_root(authorization.named_roots(target.rights), marker, limit)
    if authorization.sees_everything(target.rights) and type(target.connector).real_path is Connector.real_path:
        shows = lambda entry: usable_name(entry.name)  # noqa: E731 - nothing is hidden but unusable names
    else:
        shows = lambda entry: target.shows(path, entry)  # noqa: E731
    try:
        async for piece in pieces:
            yield Listing([f for f in piece.folders if shows(f)], [f for f in piece.files if shows(f)], piece.marker)
    finally:
        await pieces.aclose()  # type: ignore[attr-defined]


async def list_page(target: Target, marker: str | None = None, limit: int = PAGE_SIZE) -> Listing:
    """One page of a directory, showing only the entries the caller may reach."""
    folders: list[Entry] = []
    files: list[Entry] = []
    next_marker: str | None = None
    async for piece in list_pieces(target, marker, limit):
        folders += piece.folders
        files += piece.files
        next_marker = piece.marker
    return Listing(sorted(folders, key=lambda e: e.name), files, next_marker)


def usable_name(name: str) -> bool:
    """Whether a name a backend listed is one path segment the hub can address (no `..`, `/`, NUL, ...).

    Backends allow names the hub's addresses refuse (an S3 key with `../` or `//`, a URL whose last
    segment decodes to `../x`, a table named `a/b`); such entries are left out of every listing, so
    they never join a path (a job's output name, a visibility check).
    """
    try:
        normalise_segment(name)
    except InvalidInput:
        log.info("a listing left out an entry whose name is not a usable path segment")
        return False
    return True


async def mkdir(target: Target) -> None:
    target.authorize(policy.Operation.MKDIR)
    if not target.path:
        raise InvalidInput("the root of a connection already exists")
    await target.connector.mkdir(target.path)


async def rmdir(target: Target, recursive: bool = False) -> int:
    target.authorize(policy.Operation.DELETE)
    if not target.path:
        raise InvalidInput("the root of a connection cannot be deleted")
    return await target.connector.rmdir(target.path, recursive)


ACL_CHOICES: tuple[list[str], ...] = ([], ["user://*"], ["algo://.my/*"])
DEFAULT_ACL = ["algo://.my/*"]


def _check_acl(acl: object) -> list[str]:
    read = acl.get("read") if isinstance(acl, dict) else None
    if not isinstance(read, list) or read not in ACL_CHOICES:
        raise InvalidInput('acl must be {"read": []}, {"read": ["user://*"]} or {"read": ["algo://.my/*"]}')
    return list(read)


def _collection_row(session: Session, org_id: str, name: str) -> Collection | None:
    return session.scalar(select(Collection).where(Collection.org_id == org_id, Collection.name == name))


def _require_collection(target: Target) -> str:
    if target.collection is None or "/" in target.path:
        raise InvalidInput("ACLs belong to hosted collections: data://ORG/COLLECTION")
    return target.collection


async def get_acl(hub: Hub, caller: Caller, target: Target) -> list[str]:
    """The read ACL of a hosted collection (Algorithmia's model; the default is `algo://.my/*`)."""
    target.authorize(policy.Operation.LIST)
    name = _require_collection(target)
    await stat(target)

    def do() -> list[str]:
        with hub.store.session() as session:
            row = _collection_row(session, caller.org_id, name)
            return list(row.acl_read) if row is not None else list(DEFAULT_ACL)

    return await anyio.to_thread.run_sync(do)


async def set_acl(hub: Hub, caller: Caller, target: Target, acl: object) -> list[str]:
    target.authorize(policy.Operation.MKDIR)
    name = _require_collection(target)
    read = _check_acl(acl)
    await stat(target)

    def do() -> list[str]:
        with hub.store.session() as session:
            row = _collection_row(session, caller.org_id, name)
            if row is None:
                session.add(Collection(org_id=caller.org_id, name=name, acl_read=read))
            else:
                row.acl_read = read
        return read

    return await anyio.to_thread.run_sync(do)


async def create_directory(hub: Hub, caller: Caller, target: Target, acl: object | None = None) -> Target:
    """Create the child directory `target`; a hosted collection also records its read ACL."""
    read = _check_acl(acl) if acl is not None else None
    await mkdir(target)
    if target.collection is not None and "/" not in target.path:
        await set_acl(hub, caller, target, {"read": read if read is not None else DEFAULT_ACL})
    return target

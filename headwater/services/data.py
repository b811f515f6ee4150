"""The data plane: address → connection → rights → connector, for every read and write.

Every operation's rights are decided by `services.authorization` (with `policy`'s
pure path rules): the caller's organization owns the connection, the connection's
access and the kind's capabilities allow the operation, and the path is inside the
path restrictions and the token's own narrowing.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from dataclasses import dataclass, replace

import anyio
from sqlalchemy import select
from sqlalchemy.orm import Session

from headwater import policy
from headwater.addresses import HOSTED, Address, join, normalise_segment
from headwater.connectors import catalogue
from headwater.connectors.base import PAGE_SIZE, Connector, Entry, Listing
from headwater.connectors.local import LocalConnector
from headwater.errors import InvalidInput, NotFound, PermissionDenied
from headwater.services import authorization
from headwater.services import sources as sources_service
from headwater.services.context import Caller
from headwater.services.hub import Hub
from headwater.store.models import Collection

MY_ORG = ".my"
log = logging.getLogger("headwater.data")


@dataclass
class Target:
    """An opened connection for one caller: the connector and the rights that bound it."""

    address: Address
    connector: Connector
    rights: policy.Rights
    root: str
    source_id: str | None = None
    caller_org: str = ""

    @property
    def path(self) -> str:
        """The path inside the connection (for hosted data, below the organization)."""
        return self.address.path[len(self.root):].lstrip("/") if self.root else self.address.path

    def uri(self, path: str | None = None) -> str:
        relative = self.path if path is None else path
        full = join(self.root, relative) if self.root else relative
        return str(Address(self.address.protocol, self.address.label, full))

    def child(self, name: str) -> "Target":
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
                raise PermissionDenied(f"path {here!r} is a link that leads outside what {self.rights.describe} allows") from None

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
        await self.connector.close()


def _open_hosted(hub: Hub, caller: Caller, address: Address) -> Target:
    org, _, rest = address.path.partition("/")
    if org not in {"", MY_ORG, caller.org_name}:
        raise NotFound(f"{address} does not exist")
    rights = authorization.hosted_rights(caller)
    connector = LocalConnector(hub.settings.hosted_dir / caller.org_id, create=True, chunk_size=hub.settings.chunk_size)
    if org == "":
        # The hosted root: it shows the caller's own organization and nothing else.
        return Target(address, connector, replace(rights, access=policy.Access.READ), root="", caller_org=caller.org_name)
    own = Address(HOSTED, None, join(caller.org_name, rest), address.is_dir)
    return Target(own, connector, rights, root=caller.org_name, caller_org=caller.org_name)


def _open_source(hub: Hub, caller: Caller, address: Address) -> Target:
    assert address.label is not None
    with hub.store.session() as session:
        source = sources_service.find(session, caller, address.protocol, address.label)
        rights = authorization.source_rights(caller, source, catalogue.get(source.protocol), address.connection)
        connector = sources_service.connector_for(session, hub, source)
        return Target(address, connector, rights, root="", source_id=source.id)


async def open_target(hub: Hub, caller: Caller, address: Address) -> Target:
    """Resolve an address to an opened target; nothing of another organization is visible."""
    opener = _open_hosted if address.hosted else _open_source
    return await anyio.to_thread.run_sync(opener, hub, caller, address)


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


async def write(target: Target, chunks: AsyncIterable[bytes], size_hint: int | None = None) -> Entry:
    target.authorize(policy.Operation.WRITE)
    if target.address.hosted and "/" not in target.path:
        raise InvalidInput("hosted files live in a collection: data://ORG/COLLECTION/FILE")
    return await target.connector.write(target.path, chunks, size_hint)


async def delete_file(target: Target) -> None:
    target.authorize(policy.Operation.DELETE)
    await target.connector.delete(target.path)


async def list_page(target: Target, marker: str | None = None, limit: int = PAGE_SIZE) -> Listing:
    """One page of a directory, showing only the entries the caller may reach."""
    target.authorize(policy.Operation.LIST)
    if target.address.hosted and target.address.path == "":
        org = Entry(name=target.caller_org, is_dir=True)
        return Listing([org], [], None)
    page = await target.connector.list(target.path, marker, limit)
    path = target.path
    return Listing(
        [f for f in page.folders if target.shows(path, f)], [f for f in page.files if target.shows(path, f)], page.marker
    )


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


ACL_CHOICES = ([], ["user://*"], ["algo://.my/*"])
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

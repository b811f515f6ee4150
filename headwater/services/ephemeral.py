"""Ephemeral data sources: a connection described in a request, used once, never stored.

ByteNite attaches a `dataSource` object to each request instead of naming a stored
source. This module builds such a transient source (a kind, its params and the id of
one of the caller's secrets), opens it through the same path as a stored source
(`sources.connector_for`: the kind's schema, the secret's decryption and expiry, the
build context) and bounds it with the same rights (`policy`): read access, the kind's
capabilities, the token's read-only flag. A token narrowed to some sources or to an
address prefix cannot open an ad-hoc connection at all.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import Any

import anyio

from headwater import policy
from headwater.addresses import Address, join, normalise_path
from headwater.connectors import catalogue
from headwater.connectors.base import Entry, Listing
from headwater.errors import InvalidInput, PermissionDenied, UpstreamTimeout
from headwater.services import data
from headwater.services import sources as sources_service
from headwater.services.context import Caller
from headwater.services.hub import Hub
from headwater.store.models import Source

LABEL = "transient"
INSPECT_TIMEOUT = 60.0
#: At most this many entries (files and folders) in a listed tree; deeper folders are left unexpanded.
MAX_TREE_ENTRIES = 1000
_NAMESPACE = uuid.UUID("5b0f5f1e-8f6e-4d38-9b7a-2f8d0f1c6a11")


@dataclass(frozen=True)
class TransientSpec:
    """A connection as a request describes it: a kind, its params and (optionally) a secret id."""

    protocol: str
    params: dict[str, Any] = field(default_factory=dict)
    secret_id: str | None = None


@dataclass
class Tree:
    """A directory with its files and sub-directories, as far as the entry budget reached."""

    path: str
    folders: list["Tree"] = field(default_factory=list)
    files: list[tuple[str, Entry]] = field(default_factory=list)
    complete: bool = True


@dataclass
class Inspection:
    """What an ephemeral connection shows at one path."""

    path: str
    entry: Entry
    temp_url: str | None
    tree: Tree | None = None


def transient_id(org_id: str) -> str:
    """The source id transient connections of an organization are built with (stable, never stored)."""
    return str(uuid.uuid5(_NAMESPACE, org_id))


def _refuse_narrowed(caller: Caller) -> None:
    if caller.source_ids is not None or caller.path_prefix is not None:
        raise PermissionDenied("this token is limited to some data sources or paths: it cannot open an ad-hoc data source")


def _open(hub: Hub, caller: Caller, spec: TransientSpec, path: str) -> data.Target:
    _refuse_narrowed(caller)
    kind = catalogue.get(spec.protocol)
    if kind.admin_only and not caller.admin:
        raise PermissionDenied(f"only an administrator may use a {kind.name!r} data source")
    if not isinstance(spec.params, dict):
        raise InvalidInput("params must be an object")
    normalised, is_dir = normalise_path(path)
    source = Source(
        id=transient_id(caller.org_id),
        org_id=caller.org_id,
        protocol=kind.name,
        label=LABEL,
        name=LABEL,
        params=dict(spec.params),
        secret_id=spec.secret_id,
        env_secret_ids=[],
        path_restrictions=list(policy.EVERYTHING),
        access=policy.Access.READ.value,
    )
    with hub.store.session() as session:
        connector = sources_service.connector_for(session, hub, source)
    rights = policy.Rights(
        access=policy.Access.READ,
        readable=kind.capabilities.input,
        writable=kind.capabilities.output,
        token_read_only=caller.read_only,
        describe=f"the {kind.name} data source",
    )
    return data.Target(Address(kind.name, LABEL, normalised, is_dir), connector, rights, root="", caller_org=caller.org_name)


async def open_transient(hub: Hub, caller: Caller, spec: TransientSpec, path: str = "") -> data.Target:
    """Open an ephemeral connection at `path` with the caller's secret and the usual rights; close it after use."""
    return await anyio.to_thread.run_sync(_open, hub, caller, spec, path)


async def _temp_url(target: data.Target, entry: Entry) -> str | None:
    """A time-limited GET URL for a file: the entry's own link, or the connector's `temp_url` if it has one."""
    if entry.is_dir:
        return None
    found = entry.extra.get("tempUrl")
    if isinstance(found, str):
        return found
    signer = getattr(target.connector, "temp_url", None)
    if signer is not None:
        url = await signer(target.path)
        return url if isinstance(url, str) else None
    return None


async def _all_pages(target: data.Target) -> Listing:
    folders: list[Entry] = []
    files: list[Entry] = []
    marker: str | None = None
    while True:
        page = await data.list_page(target, marker)
        folders += page.folders
        files += page.files
        if page.marker is None or len(folders) + len(files) >= MAX_TREE_ENTRIES:
            return Listing(folders, files, page.marker)
        marker = page.marker


async def _tree(target: data.Target) -> Tree:
    """The tree below `target` (a directory), breadth first, within MAX_TREE_ENTRIES entries."""
    root = Tree(target.path)
    queue = [(root, target)]
    budget = MAX_TREE_ENTRIES
    while queue:
        node, here = queue.pop(0)
        if budget <= 0:
            node.complete = False
            continue
        page = await _all_pages(here)
        shown = page.folders[:budget]
        budget -= len(shown)
        for folder in shown:
            child = Tree(join(here.path, folder.name))
            node.folders.append(child)
            queue.append((child, here.child(folder.name)))
        node.files = [(join(here.path, f.name), f) for f in page.files[:budget]]
        budget -= len(node.files)
        node.complete = page.marker is None and len(shown) + len(node.files) == len(page.folders) + len(page.files)
    return root


async def _inspect(target: data.Target, list_files: bool) -> Inspection:
    if not target.rights.readable:
        # An output-only kind (a temporary bucket): nothing to read, prove only that it opens.
        await target.connector.check(write=False)
        return Inspection(target.path, Entry(name="", is_dir=True), None, Tree(target.path) if list_files else None)
    entry = await data.stat(target)
    tree: Tree | None = None
    if list_files:
        folder = target if entry.is_dir else _parent(target)
        tree = await _tree(folder)
    return Inspection(target.path, entry, await _temp_url(target, entry), tree)


def _parent(target: data.Target) -> data.Target:
    """The directory that holds the file at `target`."""
    parent = target.path.rsplit("/", 1)[0] if "/" in target.path else ""
    return replace(target, address=replace(target.address, path=parent, is_dir=True))


async def inspect(hub: Hub, caller: Caller, spec: TransientSpec, path: str, *, list_files: bool = False) -> Inspection:
    """Stat `path` on an ephemeral connection (and list the tree of its folder); the connection is closed after."""
    target = await open_transient(hub, caller, spec, path)
    try:
        with anyio.fail_after(INSPECT_TIMEOUT):
            return await _inspect(target, list_files)
    except TimeoutError:
        raise UpstreamTimeout(f"the data source did not answer within {INSPECT_TIMEOUT:.0f} s") from None
    finally:
        await target.close()

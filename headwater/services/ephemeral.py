"""Ephemeral data sources: a connection described in a request, used once, never stored.

ByteNite attaches a `dataSource` object to each request instead of naming a stored
source. This module builds such a transient source (a kind, its params and the id of
one of the caller's secrets), opens it through the same path as a stored source
(`sources.connector_for`: the kind's schema, the secret's decryption and expiry, the
build context) and bounds it with the same rights (`policy`): read access, the kind's
capabilities, the token's read-only flag. A token narrowed to some sources or to an
address prefix cannot open an ad-hoc connection at all.

The ByteNite `dataSource` → kind mapping (`translate_object`, and its inverse
`describe_object`) lives here too: it serves these ephemeral connections and the
data sources a job creates from such an object (`services.jobs.objects`).
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
from headwater.errors import InvalidInput, UpstreamTimeout
from headwater.services import authorization, data, links
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
    folders: list[Tree] = field(default_factory=list)
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


def _open(hub: Hub, caller: Caller, spec: TransientSpec, path: str) -> data.Target:
    kind = catalogue.get(spec.protocol)
    authorization.may_connect(caller, kind)
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
    rights = authorization.adhoc_rights(caller, kind)
    return data.Target(
        Address(kind.name, LABEL, normalised, is_dir), connector, rights, root="", caller_org=caller.org_name
    )


async def open_transient(hub: Hub, caller: Caller, spec: TransientSpec, path: str = "") -> data.Target:
    """Open an ephemeral connection at `path` with the caller's secret and the usual rights; close it after use."""
    return await anyio.to_thread.run_sync(_open, hub, caller, spec, path)


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


async def _inspect(hub: Hub, target: data.Target, list_files: bool) -> Inspection:
    if not target.rights.readable:
        # An output-only kind (a temporary bucket): nothing to read, prove only that it opens.
        await target.connector.check(write=False)
        return Inspection(target.path, Entry(name="", is_dir=True), None, Tree(target.path) if list_files else None)
    entry = await data.stat(target)
    tree: Tree | None = None
    if list_files:
        folder = target if entry.is_dir else _parent(target)
        tree = await _tree(folder)
    signed = links.link_to(hub, entry)
    return Inspection(target.path, entry, signed.url if signed is not None else None, tree)


def _parent(target: data.Target) -> data.Target:
    """The directory that holds the file at `target`."""
    parent = target.path.rsplit("/", 1)[0] if "/" in target.path else ""
    return replace(target, address=replace(target.address, path=parent, is_dir=True))


async def inspect(hub: Hub, caller: Caller, spec: TransientSpec, path: str, *, list_files: bool = False) -> Inspection:
    """Stat `path` on an ephemeral connection (and list the tree of its folder); the connection is closed after."""
    target = await open_transient(hub, caller, spec, path)
    try:
        with anyio.fail_after(INSPECT_TIMEOUT):
            return await _inspect(hub, target, list_files)
    except TimeoutError:
        raise UpstreamTimeout(f"the data source did not answer within {INSPECT_TIMEOUT:.0f} s") from None
    finally:
        await target.close()


# -- ByteNite `dataSource` objects: descriptor → kind ---------------------------------------

TYPE_PREFIX = "type.googleapis.com/bytenite.data_source."
S3_TYPE = TYPE_PREFIX + "S3DataSource"
HTTP_TYPE = TYPE_PREFIX + "HttpDataSource"
FILE_TYPE = TYPE_PREFIX + "LocalFileDataSource"
STORJ_LEGACY_TYPE = TYPE_PREFIX + "StorjDataSource"


@dataclass(frozen=True)
class Descriptor:
    """One `dataSourceDescriptor`: the kind it opens and the `@type`s its params may carry."""

    kind: str
    types: tuple[str, ...]
    s3: bool = False


DESCRIPTORS: dict[str, Descriptor] = {
    "aws": Descriptor("aws", (S3_TYPE,), s3=True),
    "s3": Descriptor("aws", (S3_TYPE,), s3=True),  # the old name of aws
    "gcp": Descriptor("gcp", (S3_TYPE,), s3=True),
    "storj": Descriptor("storj", (S3_TYPE, STORJ_LEGACY_TYPE), s3=True),
    "url": Descriptor("url", (HTTP_TYPE,)),
    "file": Descriptor("file", (FILE_TYPE,)),
    "local": Descriptor("file", (FILE_TYPE,)),  # the old name of file
    "bucket": Descriptor("bucket", ()),
    "bypass": Descriptor("bypass", ()),
}

#: Inline credentials some legacy clients send: refused, since credentials live in secrets.
INLINE_CREDENTIALS = ("accessKey", "secretKey", "access_key", "secret_key", "username", "password")
#: Legacy fields sent empty by old clients, accepted and ignored when empty.
IGNORED_WHEN_EMPTY = ("name", "username", "password", "tempUrl")


@dataclass(frozen=True)
class Translated:
    """A `dataSource` as the hub opens it: the transient connection, the path in it, what to echo back."""

    spec: TransientSpec
    path: str
    shown_path: str
    properties: dict[str, str]


def _string(params: dict[str, Any], *names: str) -> str | None:
    for name in names:
        value = params.pop(name, None)
        if value is not None and value != "":
            if not isinstance(value, str):
                raise InvalidInput(f"params.{name} must be a string")
            return value
    return None


def _check_type(name: str, descriptor: Descriptor, params: dict[str, Any]) -> None:
    given = params.pop("@type", None)
    if given is None or given == "":
        return
    if given not in descriptor.types:
        expected = " or ".join(descriptor.types) or "no @type"
        raise InvalidInput(f"params.@type {given!r} does not fit dataSourceDescriptor {name!r}: use {expected}")


def _refuse_inline(params: dict[str, Any]) -> None:
    for name in INLINE_CREDENTIALS:
        if params.get(name):
            raise InvalidInput(
                f"params.{name}: credentials are not accepted inline: create a secret and give its secret_id"
            )
        params.pop(name, None)


def _drop_empty(params: dict[str, Any]) -> None:
    for name in IGNORED_WHEN_EMPTY:
        if name in params and not params[name]:
            del params[name]


def _s3(name: str, descriptor: Descriptor, params: dict[str, Any]) -> Translated:
    bucket = _string(params, "bucketName", "bucket_name")
    if bucket is None:
        raise InvalidInput("params.bucketName: field required")
    region = _string(params, "cloudRegion", "cloud_region")
    key = _string(params, "name") or ""
    secret_id = _string(params, "secret_id", "secretId")
    endpoint = _string(params, "endpoint")
    _refuse_inline(params)
    kind = descriptor.kind
    if endpoint is not None and kind == "aws":
        kind = "s3"  # an S3-compatible store at the given endpoint (path-style addressing)
    native: dict[str, Any] = {"bucket": bucket, **params}
    if endpoint is not None:
        native["endpoint"] = endpoint
    if region is not None and kind != "gcp":  # GCS signs with region "auto"; ByteNite's zone is informative
        native["region"] = region
    properties = {"bucketName": bucket, **({"cloudRegion": region} if region else {})}
    return Translated(TransientSpec(kind, native, secret_id), key, key, properties)


def translate_object(descriptor_name: str, raw_params: dict[str, Any] | None) -> Translated:
    """The connection a ByteNite `dataSource` object describes, or `InvalidInput` naming the field."""
    name = descriptor_name
    descriptor = DESCRIPTORS.get(name)
    if descriptor is None:
        raise InvalidInput(f"dataSourceDescriptor {name!r} is not supported: use one of {', '.join(DESCRIPTORS)}")
    if raw_params is not None and not isinstance(raw_params, dict):
        raise InvalidInput("params must be an object")
    params = dict(raw_params or {})
    _check_type(name, descriptor, params)
    if descriptor.s3:
        return _s3(name, descriptor, params)
    secret_id = _string(params, "secret_id", "secretId")
    _drop_empty(params)
    _refuse_inline(params)
    if descriptor.kind == "url":
        url = _string(params, "url")
        if url is None:
            raise InvalidInput("params.url: field required")
        return Translated(TransientSpec("url", {"url": url, **params}, secret_id), "", url, {"url": url})
    if descriptor.kind == "file":
        params.pop("tempUrl", None)  # set by the server on a job's file source: informative here
    path = params.get("filename") if descriptor.kind == "file" else None
    return Translated(TransientSpec(descriptor.kind, params, secret_id), path or "", path or "", {})


#: The descriptor each kind is shown as (the inverse of DESCRIPTORS; `s3` is the generic endpoint kind).
DESCRIPTOR_OF_KIND = {
    "aws": "aws",
    "s3": "s3",
    "gcp": "gcp",
    "storj": "storj",
    "url": "url",
    "file": "file",
    "bucket": "bucket",
    "bypass": "bypass",
}


def describe_object(kind: str, params: dict[str, Any], secret_id: str | None, path: str) -> dict[str, Any] | None:
    """The `dataSource` object that opens this connection at `path` (the inverse of `translate_object`), or None."""
    descriptor = DESCRIPTOR_OF_KIND.get(kind)
    if descriptor is None:
        return None
    shown: dict[str, Any] = {}
    if kind in {"aws", "s3", "gcp", "storj"}:
        bucket, key = params.get("bucket"), path.lstrip("/")
        if not bucket:  # a bucket-less connection: the first segment names the bucket
            bucket, _, key = key.partition("/")
        if params.get("prefix"):
            key = join(str(params["prefix"]).strip("/"), key)
        if not bucket:
            return None
        shown = {"@type": S3_TYPE, "name": "/" + key, "bucketName": bucket}
        if params.get("region"):
            shown["cloudRegion"] = params["region"]
        if secret_id:
            shown["secret_id"] = secret_id
        if params.get("endpoint"):
            shown["endpoint"] = params["endpoint"]
    elif kind == "url":
        shown = {"@type": HTTP_TYPE, "url": params.get("url", "")}
    elif kind == "file":
        shown = {"@type": FILE_TYPE, "filename": params.get("filename", "")}
    return {"dataSourceDescriptor": descriptor, "params": shown} if shown else {"dataSourceDescriptor": descriptor}

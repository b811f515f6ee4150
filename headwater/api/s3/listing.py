"""ListObjectsV2, ListObjects (v1) and ListBuckets over the data service's directory listings.

S3 keys are flat; the hub's connections are directories. A listing walks the directories below
the prefix depth first, each directory's entries in key order (a folder `a` sorts as `a/`), which
is S3's lexicographic key order; with delimiter `/` it lists one directory, folders as common
prefixes. Every directory is listed through `data.list_pieces`, so the same rights decide and the
same entries stay hidden (a prefix-narrowed key sees only its prefix). A page resumes after the
last key or prefix it returned (the continuation token encodes it), skipping whole subtrees that
come before it. Only `/` is supported as a delimiter (the hub's paths have no other separator).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from urllib.parse import quote

from headwater.addresses import Address, join
from headwater.api.s3 import xml
from headwater.api.s3.buckets import Listed
from headwater.connectors.base import MAX_PAGE_SIZE, Entry, decode_marker, encode_marker
from headwater.errors import InvalidInput, NotAFile, NotFound
from headwater.services import data as service
from headwater.services.context import Caller

MAX_KEYS = 1000
#: Gives listed files (key, entry) the entries to show instead (a table bucket's staged copies' sizes).
Sizer = Callable[[list[tuple[str, Entry]]], Awaitable[list[Entry]]]


@dataclass(frozen=True)
class Item:
    """One result of a listing: a key with its entry, or a common prefix (`entry` None)."""

    key: str
    entry: Entry | None


@dataclass(frozen=True)
class Query:
    """A listing request as S3 states it."""

    prefix: str
    delimiter: str | None
    after: str | None
    max_keys: int


def max_keys(value: str | None) -> int:
    if value is None or value == "":
        return MAX_KEYS
    if not value.isdigit():
        raise InvalidInput("max-keys must be a whole number from 0 to 1000")
    return min(int(value), MAX_KEYS)


def delimiter(value: str | None) -> str | None:
    if value in (None, ""):
        return None
    if value != "/":
        raise InvalidInput("only '/' is supported as a delimiter")
    return value


def at(target: service.Target, path: str) -> service.Target:
    """The target of a directory `path` inside the target's connection (below its root)."""
    address = target.address
    full = join(target.root, path) if target.root else path
    return replace(target, address=Address(address.protocol, address.label, full, True))


class Resumed:
    """Directory listings kept briefly for the next page of the same listing, so paging through a
    directory of N keys lists it once rather than once a page.

    Only a page that resumes (after a continuation token, marker or start-after) reads from here,
    so every first page lists afresh. Entries are keyed by the caller's token and its exact rights on
    the connection, and kept `SECONDS` at most and `MOST_ENTRIES` in all (oldest dropped first).
    """

    SECONDS = 60.0
    MOST_ENTRIES = 200_000

    def __init__(self) -> None:
        self._kept: OrderedDict[tuple[object, ...], tuple[float, list[Item]]] = OrderedDict()
        self._entries = 0

    @staticmethod
    def key(target: service.Target, token_id: str, path: str) -> tuple[object, ...]:
        return (token_id, target.address.connection, target.source_id, target.root, path, target.rights)

    def get(self, key: tuple[object, ...]) -> list[Item] | None:
        kept = self._kept.get(key)
        if kept is None or kept[0] < time.monotonic():
            return None
        return kept[1]

    def put(self, key: tuple[object, ...], items: list[Item]) -> None:
        if len(items) > self.MOST_ENTRIES:
            return
        old = self._kept.pop(key, None)
        if old is not None:
            self._entries -= len(old[1])
        self._kept[key] = (time.monotonic() + self.SECONDS, items)
        self._entries += len(items)
        now = time.monotonic()
        while self._kept and (self._entries > self.MOST_ENTRIES or next(iter(self._kept.values()))[0] < now):
            _, (_, dropped) = self._kept.popitem(last=False)
            self._entries -= len(dropped)


RESUMED = Resumed()


async def _directory(target: service.Target, path: str, query: Query, token_id: str) -> list[Item]:
    """Every entry of one directory the caller may see, in key order; nothing when it is not a directory."""
    key = Resumed.key(target, token_id, path)
    if query.after is not None:
        kept = RESUMED.get(key)
        if kept is not None:
            return kept
    items = await _list_directory(target, path)
    if len(items) > query.max_keys:  # a directory longer than a page: its next page will want it again
        RESUMED.put(key, items)
    return items


async def _list_directory(target: service.Target, path: str) -> list[Item]:
    items: list[Item] = []
    here = at(target, path)
    marker: str | None = None
    try:
        while True:
            async for piece in service.list_pieces(here, marker, MAX_PAGE_SIZE):
                items += [Item(join(path, f.name) + "/", f) for f in piece.folders]
                items += [Item(join(path, f.name), f) for f in piece.files]
                marker = piece.marker
            if marker is None:
                break
    except (NotFound, NotAFile):
        return []
    items.sort(key=lambda item: item.key)
    return items


async def walk(target: service.Target, query: Query, token_id: str = "") -> AsyncIterator[Item]:
    """The keys (and, with a delimiter, common prefixes) under the prefix after `query.after`, in key order."""
    directory, _, _ = query.prefix.rpartition("/")
    async for item in _walk(target, directory, query, token_id):
        yield item


def _skipped_subtree(prefix: str, after: str | None) -> bool:
    """Whether every key starting with `prefix` comes at or before `after`."""
    return after is not None and prefix <= after and not after.startswith(prefix)


async def _walk(target: service.Target, directory: str, query: Query, token_id: str) -> AsyncIterator[Item]:
    for item in await _directory(target, directory, query, token_id):
        folder = item.key.endswith("/")
        if not (item.key.startswith(query.prefix) or (folder and query.prefix.startswith(item.key))):
            continue
        if folder:
            if _skipped_subtree(item.key, query.after):
                continue
            if query.delimiter is not None and item.key.startswith(query.prefix):
                if query.after is None or item.key > query.after:
                    yield Item(item.key, None)  # a common prefix
                continue
            async for inner in _walk(target, item.key[:-1], query, token_id):
                yield inner
        elif query.after is None or item.key > query.after:
            yield item


@dataclass(frozen=True)
class Page:
    items: list[Item]
    truncated: bool

    @property
    def last(self) -> str | None:
        return self.items[-1].key if self.items else None


async def sized_page(page_: Page, sizer: Sizer | None) -> Page:
    """The page with its files' entries as `sizer` shows them (unchanged without one)."""
    if sizer is None:
        return page_
    files = [(i.key, i.entry) for i in page_.items if i.entry is not None]
    shown = iter(await sizer(files))
    items = [Item(i.key, next(shown)) if i.entry is not None else i for i in page_.items]
    return Page(items, page_.truncated)


async def page(target: service.Target, query: Query, token_id: str = "") -> Page:
    """Up to `max_keys` results (keys and common prefixes together, as S3 counts them)."""
    items: list[Item] = []
    if query.max_keys == 0:
        return Page(items, False)
    walker = walk(target, query, token_id)
    try:
        async for item in walker:
            if len(items) == query.max_keys:
                return Page(items, True)
            items.append(item)
    finally:
        await walker.aclose()  # type: ignore[attr-defined]
    return Page(items, False)


def iso(moment: datetime | None) -> str:
    if moment is None:
        return "1970-01-01T00:00:00.000Z"
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def quoted_etag(etag: str | None) -> str:
    if not etag:
        return '""'
    return etag if etag.startswith('"') else f'"{etag}"'


Encode = Callable[[str], str]


def _plain(text: str) -> str:
    return text


def _url(text: str) -> str:
    return quote(text, safe="/")


def _encoder(params: Mapping[str, str]) -> tuple[bool, Encode]:
    kind = params.get("encoding-type")
    if kind not in (None, "", "url"):
        raise InvalidInput("encoding-type must be url")
    return (True, _url) if kind == "url" else (False, _plain)


def _owner(caller: Caller) -> xml.Node:
    return ("Owner", [("ID", caller.org_id), ("DisplayName", caller.org_name)])


def _contents(item: Item, encode: Encode, owner: xml.Node | None) -> xml.Node:
    entry = item.entry
    assert entry is not None
    children: list[xml.Node] = [
        ("Key", encode(item.key)),
        ("LastModified", iso(entry.modified)),
        ("ETag", quoted_etag(entry.etag)),
        ("Size", str(entry.size or 0)),
        ("StorageClass", "STANDARD"),
    ]
    if owner is not None:
        children.append(owner)
    return ("Contents", children)


def _results(page_: Page, encode: Encode, owner: xml.Node | None) -> list[xml.Node]:
    nodes: list[xml.Node] = [_contents(i, encode, owner) for i in page_.items if i.entry is not None]
    nodes += [("CommonPrefixes", [("Prefix", encode(i.key))]) for i in page_.items if i.entry is None]
    return nodes


async def list_v2(
    target: service.Target, bucket: str, params: Mapping[str, str], caller: Caller, sizer: Sizer | None = None
) -> bytes:
    encoded, encode = _encoder(params)
    token = params.get("continuation-token")
    start_after = params.get("start-after") or None
    after = decode_marker(token) if token else start_after
    if start_after is not None and after is not None and start_after > after:
        after = start_after
    query = Query(params.get("prefix", ""), delimiter(params.get("delimiter")), after, max_keys(params.get("max-keys")))
    result = await sized_page(await page(target, query, caller.token_id), sizer)
    owner = _owner(caller) if params.get("fetch-owner") == "true" else None
    nodes: list[xml.Node] = [
        ("Name", bucket),
        ("Prefix", encode(query.prefix)),
        ("KeyCount", str(len(result.items))),
        ("MaxKeys", str(query.max_keys)),
        ("IsTruncated", "true" if result.truncated else "false"),
    ]
    if query.delimiter:
        nodes.append(("Delimiter", encode(query.delimiter)))
    if encoded:
        nodes.append(("EncodingType", "url"))
    if token:
        nodes.append(("ContinuationToken", token))
    if start_after:
        nodes.append(("StartAfter", encode(start_after)))
    if result.truncated and result.last is not None:
        nodes.append(("NextContinuationToken", encode_marker(result.last)))
    nodes += _results(result, encode, owner)
    return xml.document("ListBucketResult", nodes)


async def list_v1(
    target: service.Target, bucket: str, params: Mapping[str, str], caller: Caller, sizer: Sizer | None = None
) -> bytes:
    encoded, encode = _encoder(params)
    marker = params.get("marker") or None
    query = Query(
        params.get("prefix", ""), delimiter(params.get("delimiter")), marker, max_keys(params.get("max-keys"))
    )
    result = await sized_page(await page(target, query, caller.token_id), sizer)
    nodes: list[xml.Node] = [
        ("Name", bucket),
        ("Prefix", encode(query.prefix)),
        ("Marker", encode(marker or "")),
        ("MaxKeys", str(query.max_keys)),
        ("IsTruncated", "true" if result.truncated else "false"),
    ]
    if query.delimiter:
        nodes.append(("Delimiter", encode(query.delimiter)))
    if encoded:
        nodes.append(("EncodingType", "url"))
    if result.truncated and result.last is not None:
        nodes.append(("NextMarker", encode(result.last)))
    nodes += _results(result, encode, _owner(caller))
    return xml.document("ListBucketResult", nodes)


def list_buckets(buckets: list[Listed], caller: Caller) -> bytes:
    return xml.document(
        "ListAllMyBucketsResult",
        [
            _owner(caller),
            ("Buckets", [("Bucket", [("Name", b.name), ("CreationDate", iso(b.created))]) for b in buckets]),
        ],
    )

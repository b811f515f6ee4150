"""Buckets are connections: the documented mapping between S3 bucket names and the hub's addresses.

- `data` is the caller's hosted data (`data://ORG/...`): its keys are `COLLECTION/FILE...`.
- `LABEL.PROTOCOL` is the connection `PROTOCOL+LABEL://` (`lake.s3` for `s3+lake://`,
  `default.s3` for `s3://`). Keys are the connection's paths; for an S3 connection that names no
  `bucket`, the first key segment is the backend bucket (`lake.s3/raw/x.csv` is `s3+lake://raw/x.csv`).

S3 bucket names are 3 to 63 lowercase letters, digits, dots and hyphens, starting and ending with a
letter or digit. Labels may hold `_`, which no bucket name can: such connections (and any whose
`LABEL.PROTOCOL` is longer than 63 characters) have no bucket and are left out of ListBuckets.

Database and synthetic connections (`LABEL.postgres`, `LABEL.mysql`, `LABEL.synthetic`) are read-only
buckets of their tables as files (`schema/table.parquet`, `.csv`, `.jsonl`; a synthetic connection's
`dataset.parquet`, ...): each is exported once into the hub's storage and served from there
(`services.table_exports`), and every write is refused (`authorization.exported_rights`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import anyio

from headwater.addresses import HOSTED, Address, join
from headwater.api.s3.errors import S3Error
from headwater.connectors import catalogue
from headwater.errors import HeadwaterError, PermissionDenied
from headwater.services import authorization, native
from headwater.services.context import Caller
from headwater.services.hub import Hub

HOSTED_BUCKET = "data"
#: Kinds whose data is tables, not files: served as read-only buckets of staged table exports.
TABLE_KINDS = frozenset({"postgres", "mysql", "synthetic"})
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IP_LIKE = re.compile(r"\d+\.\d+\.\d+\.\d+")


def valid_bucket_name(name: str) -> bool:
    """S3's bucket-name rules (the general-purpose ones)."""
    return (
        _BUCKET_NAME.fullmatch(name) is not None
        and ".." not in name
        and ".-" not in name
        and "-." not in name
        and not _IP_LIKE.fullmatch(name)
    )


def bucket_name(protocol: str, label: str | None) -> str | None:
    """The bucket of a connection, or None when its label cannot form a valid bucket name."""
    if protocol == HOSTED:
        return HOSTED_BUCKET
    name = f"{label}.{protocol}"
    return name if valid_bucket_name(name) else None


@dataclass(frozen=True)
class Bucket:
    """A bucket name resolved to the connection it stands for."""

    name: str
    protocol: str
    label: str | None

    @property
    def hosted(self) -> bool:
        return self.protocol == HOSTED

    @property
    def tables(self) -> bool:
        try:
            return catalogue.get(self.protocol).name in TABLE_KINDS
        except HeadwaterError:
            return False

    def address(self, caller: Caller, path: str, is_dir: bool = False) -> Address:
        """The address of a key (a normalised path) in this bucket, for `caller`."""
        if self.hosted:
            return Address(HOSTED, None, join(caller.org_name, path), is_dir)
        return Address(self.protocol, self.label, path, is_dir)


def resolve(name: str) -> Bucket:
    """The connection a bucket name stands for; `NoSuchBucket` for a name that cannot be one."""
    if name == HOSTED_BUCKET:
        return Bucket(name, HOSTED, None)
    label, dot, protocol = name.partition(".")
    if not dot or not valid_bucket_name(name) or "." in protocol or bucket_name(protocol, label) != name:
        raise S3Error("NoSuchBucket", f"no bucket {name!r}: buckets are LABEL.PROTOCOL or data", 404)
    return Bucket(name, protocol, label)


@dataclass(frozen=True)
class Listed:
    """A bucket as ListBuckets shows it."""

    name: str
    created: datetime | None


def list_buckets(hub: Hub, caller: Caller) -> list[Listed]:
    """The buckets the caller may use: hosted data (unless narrowed away from it) and each visible connection."""
    shown: list[Listed] = []
    try:
        authorization.hosted_rights(caller)
        shown.append(Listed(HOSTED_BUCKET, None))
    except PermissionDenied:
        pass
    for view in native.list_sources(hub, caller):
        source = view.source
        name = bucket_name(source.protocol, source.label)
        if name is None:
            continue
        shown.append(Listed(name, source.created_at))
    return sorted(shown, key=lambda b: b.name)


async def list_buckets_async(hub: Hub, caller: Caller) -> list[Listed]:
    return await anyio.to_thread.run_sync(list_buckets, hub, caller)

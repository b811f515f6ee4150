"""Where the hub keeps its own bytes: hosted `data://` objects, uploads and temporary buckets.

One `Storage` per hub, chosen by `HEADWATER_STORAGE_URL`: a folder (the default, the data
dir) or `s3://bucket/prefix` on any S3-compatible endpoint. Either way the same key layout
sits below its root (`hosted/<org>/...`, `uploads/<org>/<id>/...`, `buckets/<org>/<source>/...`),
and the same two faces serve it:

- `connector(prefix)`: a `Connector` rooted at a key prefix, for streamed reads, ranged
  reads, atomic writes and listings (`LocalConnector` on a folder, `S3Connector` on a
  bucket: the code every `local` and `s3` source uses).
- small synchronous calls for the hub's bookkeeping (an upload's meta.json, exclusive
  locks, walks and deletes for the purge): plain file operations on a folder, obstore
  calls on the same `S3Store` (one connection pool) on a bucket.

The operator's object store is trusted configuration, not a user's choice: its endpoint may
be loopback or private whatever `HEADWATER_ALLOW_PRIVATE_ENDPOINTS` says (link-local and
metadata addresses stay refused), and its credentials come from the hub's settings only.
"""

from __future__ import annotations

import copy
import os
import shutil
import uuid
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Collection, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import obstore as obs
from obstore.exceptions import AlreadyExistsError

from headwater.connectors.base import DEFAULT_CHUNK, Connector, Credentials
from headwater.connectors.local import PARTIAL_PREFIX, LocalConnector
from headwater.connectors.s3 import Location, S3Connector, Timeouts, make_store, translate
from headwater.connectors.s3_profiles import PROFILES
from headwater.errors import HeadwaterError, InvalidInput, NotFound, UpstreamUnavailable
from headwater.settings import SettingsError, StorageSettings

CHECK_KEY = ".headwater-storage-check"
HOSTED_ROOT = "hosted"  # `data://` objects: hosted/<org_id>/<collection>/...


@dataclass(frozen=True)
class Stored:
    """One object found by a walk: its key below the storage root, size and modification time."""

    key: str
    size: int
    modified: datetime


def _key(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p.strip("/"))


class Storage(ABC):
    """The hub's own object storage: a root (folder or bucket prefix) and the ways to reach below it.

    Keys are `/`-separated paths below the root, built by the hub itself (never taken from a caller
    unchecked). The synchronous calls do I/O: run them in a worker thread.
    """

    description: str

    @abstractmethod
    def connector(self, prefix: str, *, create: bool = False, chunk_size: int = DEFAULT_CHUNK) -> Connector:
        """A connector whose root is `prefix` (`create`: make the folder, where folders exist)."""

    @abstractmethod
    def read_small(self, key: str) -> bytes:
        """The bytes of a small object (a meta.json); `NotFound` when there is none."""

    @abstractmethod
    def write_small(self, key: str, data: bytes) -> None:
        """Write a small object whole, atomically (a reader sees the old bytes or the new)."""

    @abstractmethod
    def create_exclusive(self, key: str, data: bytes = b"") -> bool:
        """Create `key` only if it does not exist (a lock every replica sees); False when it did."""

    @abstractmethod
    def walk(self, prefix: str) -> Iterator[Stored]:
        """Every object below the folder `prefix`, in no set order."""

    @abstractmethod
    def delete(self, keys: Collection[str]) -> None:
        """Delete these objects (missing ones are no error)."""

    def delete_tree(self, prefix: str) -> int:
        """Delete everything below `prefix`; return how many objects went."""
        keys = [found.key for found in self.walk(prefix)]
        for start in range(0, len(keys), 1000):
            self.delete(keys[start : start + 1000])
        return len(keys)

    def tidy(self, prefix: str, emptied: Collection[str]) -> None:  # noqa: B027 - a hook: object stores have no folders to tidy
        """Remove the folders below `prefix` that deleting `emptied` left empty (where folders exist)."""

    async def check(self) -> None:
        """Prove the storage answers, cheaply (one small request, no write): for a readiness probe."""
        await anyio.to_thread.run_sync(lambda: next(iter(self.walk(CHECK_KEY)), None))

    async def close(self) -> None:  # noqa: B027 - a hook: a folder holds nothing open
        """Release what the storage holds open."""


class FolderStorage(Storage):
    """A folder on the hub's disk (the default: the data dir). Writes go through a temporary name and a rename."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.description = f"folder {self.root}"

    def connector(self, prefix: str, *, create: bool = False, chunk_size: int = DEFAULT_CHUNK) -> Connector:
        return LocalConnector(self.root / _key(prefix), create=create, chunk_size=chunk_size)

    def _path(self, key: str) -> Path:
        return self.root / _key(key)

    def read_small(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise NotFound(f"{key!r} does not exist") from None

    def write_small(self, key: str, data: bytes) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.parent / f"{PARTIAL_PREFIX}{uuid.uuid4().hex}"
        try:
            temp.write_bytes(data)
            os.replace(temp, target)
        finally:
            temp.unlink(missing_ok=True)

    def create_exclusive(self, key: str, data: bytes = b"") -> bool:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        return True

    def walk(self, prefix: str) -> Iterator[Stored]:
        for folder, _, files in os.walk(self._path(prefix)):
            here = Path(folder)
            for name in files:
                try:
                    st = (here / name).stat()
                except FileNotFoundError:
                    continue
                key = (here / name).relative_to(self.root).as_posix()
                yield Stored(key, st.st_size, datetime.fromtimestamp(st.st_mtime, tz=UTC))

    def delete(self, keys: Collection[str]) -> None:
        for key in keys:
            try:
                self._path(key).unlink()
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                pass

    def delete_tree(self, prefix: str) -> int:
        count = sum(len(files) for _, _, files in os.walk(self._path(prefix)))
        shutil.rmtree(self._path(prefix), ignore_errors=True)
        return count

    async def check(self) -> None:
        def probe() -> None:
            self.root.mkdir(parents=True, exist_ok=True)
            if not os.access(self.root, os.W_OK | os.X_OK):
                raise UpstreamUnavailable(f"the hub's storage folder {str(self.root)!r} is not writable by the hub")

        try:
            await anyio.to_thread.run_sync(probe)
        except OSError as exc:
            raise UpstreamUnavailable(
                f"the hub's storage folder {str(self.root)!r} cannot be used ({exc.strerror})"
            ) from None

    def tidy(self, prefix: str, emptied: Collection[str]) -> None:
        top = self._path(prefix)
        folders = {self._path(key).parent for key in emptied}
        for folder, _, _ in os.walk(top, topdown=False):
            here = Path(folder)
            if here != top and here in folders:
                try:
                    here.rmdir()  # only if empty
                    folders.add(here.parent)
                except OSError:
                    pass


class _StorageConnector(S3Connector):
    """An `S3Connector` on the hub's storage: its views share one store, so closing a view keeps it."""

    async def close(self) -> None:
        return None


class BucketStorage(Storage):
    """A key prefix in a bucket of an S3-compatible object store, with the operator's credentials."""

    def __init__(self, location: Location, credentials: Credentials | None, timeouts: Timeouts = Timeouts()) -> None:
        if location.bucket is None:
            raise InvalidInput("HEADWATER_STORAGE_URL must name a bucket: s3://BUCKET/PREFIX")
        self.location = location
        self.bucket = location.bucket
        self.description = f"s3://{self.bucket}/{location.prefix} at {location.host}"
        self._credentials = credentials
        self._timeouts = timeouts
        self._connector: _StorageConnector | None = None
        self._objects: Any = None

    @property
    def _root(self) -> _StorageConnector:
        """Built on first use, so a hub starts (and reports itself not ready) while its store is unreachable."""
        if self._connector is None:
            # The operator's endpoint: trusted, so private addresses are allowed (the guard still refuses metadata ones).
            self._connector = _StorageConnector(
                self.location, self._credentials, allow_private_endpoints=True, timeouts=self._timeouts
            )
        return self._connector

    def _store(self) -> Any:
        if self._objects is None:
            store = make_store(
                self.location, self.bucket, self._credentials, self._timeouts, probe=False, route=self._root._route
            )
            self._root._stores[(self.bucket, False)] = store  # every connector below shares its connection pool
            self._objects = store
        return self._objects

    def _full(self, key: str) -> str:
        return _key(self.location.prefix, key)

    def _fail(self, exc: Exception, key: str) -> HeadwaterError:
        return translate(exc, self.location.host, self.bucket, self._full(key))

    def read_small(self, key: str) -> bytes:
        try:
            return bytes(obs.get(self._store(), self._full(key)).bytes())
        except FileNotFoundError:
            raise NotFound(f"{key!r} does not exist") from None
        except Exception as exc:
            raise self._fail(exc, key) from None

    def write_small(self, key: str, data: bytes) -> None:
        try:
            obs.put(self._store(), self._full(key), data, use_multipart=False)  # one PUT: atomic
        except Exception as exc:
            raise self._fail(exc, key) from None

    def create_exclusive(self, key: str, data: bytes = b"") -> bool:
        try:
            obs.put(self._store(), self._full(key), data, mode="create", use_multipart=False)  # If-None-Match: *
        except AlreadyExistsError:
            return False
        except Exception as exc:
            raise self._fail(exc, key) from None
        return True

    def walk(self, prefix: str) -> Iterator[Stored]:
        lead = self._full(prefix) + "/"
        cut = len(self._full(""))
        try:
            for chunk in obs.list(self._store(), lead.rstrip("/")):
                for meta in chunk:
                    path: str = meta["path"]
                    if path.startswith(lead):
                        yield Stored(path[cut:].lstrip("/"), int(meta["size"]), meta["last_modified"])
        except FileNotFoundError:
            return
        except Exception as exc:
            raise self._fail(exc, prefix) from None

    def delete(self, keys: Collection[str]) -> None:
        if not keys:
            return
        try:
            obs.delete(self._store(), [self._full(k) for k in keys])
        except FileNotFoundError:
            pass
        except Exception as exc:
            raise self._fail(exc, next(iter(keys))) from None

    def connector(self, prefix: str, *, create: bool = False, chunk_size: int = DEFAULT_CHUNK) -> Connector:
        """The root connector, re-rooted: it shares the root's stores, route and endpoint checks."""
        self._store()
        view = copy.copy(self._root)
        view.location = replace(self.location, prefix=self._full(prefix))
        view.chunk_size = chunk_size
        view._continuations = OrderedDict()
        return view

    async def check(self) -> None:
        await self._root.check()

    async def close(self) -> None:
        if self._connector is not None:
            await S3Connector.close(self._connector)
        self._connector = self._objects = None


def open_storage(settings: StorageSettings, data_dir: Path) -> Storage:
    """The storage the settings name: the data dir by default, a folder, or a bucket prefix."""
    if settings.url is None:
        return FolderStorage(data_dir)
    if settings.bucket is None:
        return FolderStorage(Path(settings.folder or data_dir))
    profile = PROFILES["s3"] if settings.endpoint else PROFILES["aws"]
    try:
        region = profile.region_for(settings.region)
    except ValueError as exc:
        raise SettingsError(f"HEADWATER_STORAGE_REGION must be a region name: {exc}") from None
    endpoint = profile.endpoint_for(settings.endpoint, region)
    if endpoint is None:  # pragma: no cover - the aws profile always has one
        raise SettingsError("HEADWATER_STORAGE_ENDPOINT must be set for this object store")
    location = Location(profile, endpoint, region, settings.bucket, settings.prefix, settings.path_style)
    credentials = None
    if settings.access_key_id and settings.secret_access_key:
        credentials = Credentials(settings.access_key_id, {"secretKey": settings.secret_access_key})
    return BucketStorage(location, credentials)

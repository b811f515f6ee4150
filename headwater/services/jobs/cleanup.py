"""Leaving nothing partial: outputs of a canceled or failed job, staged parts, orphaned temporaries.

A worker killed while writing to a folder-backed kind (local, hosted, bucket) leaves
the connector's temporary file behind (`.headwater-partial-*`, never listed). Once no
attempt of the job can still be writing, `sweep_partials` removes the ones in the
job's output folders created since the job started running and untouched for a
grace period (a live foreign upload keeps changing its file, so it is left alone).
Object stores have no such leftovers: an unfinished upload never becomes an object.
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path, PurePosixPath

import anyio

from headwater.addresses import join
from headwater.connectors.hosted_kinds import BucketConnector
from headwater.connectors.local import PARTIAL_PREFIX, LocalConnector
from headwater.errors import NotFound
from headwater.services import data
from headwater.services.jobs.planning import at
from headwater.services.jobs.spec import STAGING

GRACE = 1.5


def staging_dir(data_dir: Path, job_id: str) -> Path:
    return data_dir / STAGING / job_id / "parts"


def remove_staging(data_dir: Path, job_id: str) -> None:
    shutil.rmtree(data_dir / STAGING / job_id, ignore_errors=True)


async def remove_outputs(destination: data.Target, names: list[str]) -> int:
    """Delete outputs the job committed; missing ones are fine."""
    removed = 0
    for name in names:
        try:
            await data.delete_file(at(destination, join(destination.address.path, name)))
            removed += 1
        except NotFound:
            pass
    return removed


def _candidates(folder: Path, since: float) -> dict[Path, float]:
    found: dict[Path, float] = {}
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return found
    for name in names:
        if name.startswith(PARTIAL_PREFIX):
            try:
                mtime = (folder / name).stat().st_mtime
            except FileNotFoundError:
                continue
            if mtime >= since:
                found[folder / name] = mtime
    return found


async def sweep_partials(destination: data.Target, names: list[str], since: datetime) -> int:
    """Remove temporaries orphaned by killed attempts in the folders of these outputs."""
    connector = destination.connector
    if isinstance(connector, BucketConnector):
        connector = connector.files  # a temporary bucket on folder storage leaves the same temporaries
    if not isinstance(connector, LocalConnector):
        return 0
    folders = set()
    for name in names or [""]:
        parent = str(PurePosixPath(join(destination.address.path, name)).parent) if name else destination.address.path
        relative = at(destination, "" if parent == "." else parent, True).path
        folders.add(connector.root / relative if relative else connector.root)

    def scan() -> dict[Path, float]:
        found: dict[Path, float] = {}
        for folder in folders:
            found.update(_candidates(folder, since.timestamp()))
        return found

    found = await anyio.to_thread.run_sync(scan)
    if not found:
        return 0
    import time

    wait = max(0.0, max(found.values()) + GRACE - time.time())
    await anyio.sleep(wait)

    def remove() -> int:
        removed = 0
        for path, mtime in found.items():
            try:
                if path.stat().st_mtime == mtime:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                pass
        return removed

    return await anyio.to_thread.run_sync(remove)

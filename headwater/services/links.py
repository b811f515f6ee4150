"""Signed links' use cases: sign a link to a hosted file, open the file a link grants, and the
hub's retention duty.

The link itself is the credential: `headwater.links` signs and verifies it. Connectors know
no URLs: the hosted kinds say which of their files the hub keeps and until when
(`Entry.hosted`), and `link_to` makes the link from that. Retention is the hosted kinds' (`hosted_kinds`: bucket files 48
hours, uploads not completed 24 hours, files of deleted sources after a grace hour);
this module runs the purge that enforces it, with the audit trail's (`AuditLog.purge`), now and
every `PURGE_INTERVAL` seconds. Of the replicas of one hub, only the one holding the retention
duty's lease (`store.duties`) purges: the others skip their rounds while it lives.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import anyio
from sqlalchemy import select

from headwater import links
from headwater.connectors.base import Connector, Entry
from headwater.connectors.hosted_kinds import purge_expired
from headwater.errors import NotFound
from headwater.services import multipart, table_exports
from headwater.services.hub import Hub
from headwater.store import duties
from headwater.store.models import Source
from headwater.times import iso

log = logging.getLogger("headwater.links")
PURGE_INTERVAL = 600.0
RETENTION = "retention"


@dataclass(frozen=True)
class SignedLink:
    """A download link that needs no token: its hub-relative URL (`/v1/links/...`) and its expiry."""

    url: str
    expires_at: datetime

    @property
    def expires(self) -> str:
        return iso(self.expires_at)


def link_to(hub: Hub, entry: Entry) -> SignedLink | None:
    """The signed download link of a file the hub keeps itself; None for any other entry."""
    if entry.hosted is None or entry.is_dir:
        return None
    url = links.signer(hub.settings.data_dir).url(entry.hosted.path, entry.hosted.expires_at)
    return SignedLink(url, entry.hosted.expires_at)


@dataclass(frozen=True)
class LinkedFile:
    """The file a verified link grants: `connector.read(link.path, ...)` streams it."""

    link: links.Link
    entry: Entry
    connector: Connector  # the hub's storage, from its root: the link's path is below it


async def open_link(hub: Hub, token: str) -> LinkedFile:
    """The file behind a signed link; `LinkInvalid`, `LinkExpired`, or `NotFound` once the file is gone."""
    link = links.signer(hub.settings.data_dir).verify(token)
    connector = hub.storage.connector("", chunk_size=hub.settings.chunk_size)
    try:
        entry = await connector.stat(link.path)
    except NotFound:
        entry = None
    if entry is None or entry.is_dir:
        raise NotFound("the file behind this link no longer exists")
    return LinkedFile(link, entry, connector)


def live_sources(hub: Hub) -> set[str]:
    """The ids of every data source of the hub: files of any other source are orphans."""
    with hub.store.session() as session:
        return set(session.scalars(select(Source.id)))


async def purge_once(hub: Hub, interval: float = PURGE_INTERVAL) -> int | None:
    """The retention duty, if this replica holds it (taking it for two rounds): old audit events,
    expired bucket files, abandoned uploads (and S3 multipart uploads), the files of deleted sources
    and old staged table exports (`table_exports.purge`) go. Return how many
    hosted files went, or None when another replica holds the duty."""
    lease = timedelta(seconds=2 * interval)
    if not await anyio.to_thread.run_sync(duties.take, hub.store, RETENTION, hub.replica, lease):
        return None
    await anyio.to_thread.run_sync(hub.audit.purge)
    live = await anyio.to_thread.run_sync(live_sources, hub)
    dropped = await multipart.purge_abandoned(hub.storage, abort_backend=multipart.backend_aborter(hub))
    stale = table_exports.Stager.of(hub).purge_after
    dropped += await anyio.to_thread.run_sync(partial(table_exports.purge, hub.storage, older_than=stale))
    return dropped + await anyio.to_thread.run_sync(partial(purge_expired, hub.storage, live_sources=live))


async def purge_forever(hub: Hub, interval: float = PURGE_INTERVAL) -> None:
    """Run the retention duty now and every `interval` seconds; a failed round is logged, not fatal."""
    while True:
        try:
            removed = await purge_once(hub, interval)
            if removed:
                log.info("purged %d expired hosted files", removed)
        except Exception as exc:  # keep purging on the next round
            log.warning("purging expired hosted files failed: %s", type(exc).__name__)
        await asyncio.sleep(interval)


def stop_purging(hub: Hub) -> None:
    """Release the retention duty (a clean stop), so another replica takes it at its next round."""
    duties.release(hub.store, RETENTION, hub.replica)

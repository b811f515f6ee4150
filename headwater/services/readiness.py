"""Whether this hub process should be sent requests: what `/healthz/ready` tells a load balancer.

Live (the process answers) and ready (it can do its work) differ: a replica whose store is
unreachable, whose store is not yet migrated to this code's head (another replica is applying the
migrations), or whose own storage cannot take a write is alive but must get no traffic.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

import anyio
from sqlalchemy.exc import SQLAlchemyError

from headwater.errors import HeadwaterError
from headwater.services.hub import Hub

OK = "ok"


@dataclass(frozen=True)
class Readiness:
    """Each check's outcome: `ok`, or why not (never a URL, path or credential: the route is public)."""

    store: str
    migrations: str
    storage: str

    @property
    def ready(self) -> bool:
        return self.store == self.migrations == self.storage == OK

    @property
    def problems(self) -> list[str]:
        return [why for why in (self.store, self.migrations, self.storage) if why != OK]


def _data_dir_problem(hub: Hub) -> str | None:
    """Why the data dir (keys, job staging, and the storage when it is the default folder) takes no write."""
    try:
        fd, name = tempfile.mkstemp(dir=hub.settings.data_dir, prefix=".ready-")
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        return f"the hub's data dir cannot be written ({exc.strerror or type(exc).__name__})"
    return None


async def storage_problem(hub: Hub) -> str | None:
    """Why the hub's own storage (data dir, and the object store of `HEADWATER_STORAGE_URL`) cannot be used now, or None."""
    problem = await anyio.to_thread.run_sync(_data_dir_problem, hub)
    if problem is not None:
        return problem
    try:
        await hub.storage.check()
    except HeadwaterError:
        return "the hub's storage cannot be reached"  # the route is public: no URL, bucket or path
    return None


def _store_state(hub: Hub) -> tuple[str, str]:
    if not hub.store.ping():
        return "the metadata store cannot be reached", "unknown: the metadata store cannot be reached"
    try:
        return OK, OK if hub.store.at_head() else "the metadata store's migrations are not at this hub's version"
    except SQLAlchemyError:  # the store went away between the two checks
        return OK, "unknown: the metadata store cannot be reached"


async def check(hub: Hub) -> Readiness:
    """Run every check: the store answers, its migrations are at this code's head, storage takes a write."""
    store, migrations = await anyio.to_thread.run_sync(_store_state, hub)
    return Readiness(store=store, migrations=migrations, storage=await storage_problem(hub) or OK)

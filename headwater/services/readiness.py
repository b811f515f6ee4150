"""Whether this hub process should be sent requests: what `/healthz/ready` tells a load balancer.

Live (the process answers) and ready (it can do its work) differ: a replica whose store is
unreachable, whose store is not yet migrated to this code's head (another replica is applying the
migrations), or whose own storage cannot take a write is alive but must get no traffic.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

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


def storage_problem(hub: Hub) -> str | None:
    """Why the hub's own storage (hosted data, uploads, the temporary bucket) cannot be used now, or None.

    The one place the storage check lives: today the hub's data dir must take a write (a file
    created and removed); an object store behind `HEADWATER_STORAGE_URL` is to be checked here too.
    """
    try:
        fd, name = tempfile.mkstemp(dir=hub.settings.data_dir, prefix=".ready-")
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        return f"the hub's data dir cannot be written ({exc.strerror or type(exc).__name__})"
    return None


def check(hub: Hub) -> Readiness:
    """Run every check: the store answers, its migrations are at this code's head, storage takes a write."""
    if not hub.store.ping():
        store, migrations = "the metadata store cannot be reached", "unknown: the metadata store cannot be reached"
    else:
        store = OK
        try:
            migrations = OK if hub.store.at_head() else "the metadata store's migrations are not at this hub's version"
        except SQLAlchemyError:  # the store went away between the two checks
            migrations = "unknown: the metadata store cannot be reached"
    return Readiness(store=store, migrations=migrations, storage=storage_problem(hub) or OK)

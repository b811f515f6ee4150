"""The hub's running parts, built once from settings and handed to every use case."""

from __future__ import annotations

from dataclasses import dataclass, field

from headwater import links
from headwater.connectors.databases.base import AMBIENT_CREDENTIALS
from headwater.connectors.kind import BuildContext
from headwater.connectors.storage import Storage, open_storage
from headwater.services import hub_keys
from headwater.services.access_keys import Resolved
from headwater.services.audit import AuditLog
from headwater.services.caller_cache import CallerCache
from headwater.services.connector_cache import ConnectorCache
from headwater.services.stamped_cache import StampedCache
from headwater.settings import Settings, forget_environment
from headwater.store import duties
from headwater.store.database import Store
from headwater.vault import Vault


@dataclass
class Hub:
    settings: Settings
    store: Store
    vault: Vault
    audit: AuditLog
    storage: Storage
    callers: CallerCache = field(default_factory=CallerCache)
    access_keys: StampedCache[Resolved] = field(default_factory=StampedCache)  # S3 key id → caller and secret
    connectors: ConnectorCache = field(default_factory=ConnectorCache)
    replica: str = field(default_factory=duties.holder_id)  # this hub among the replicas of one store

    @classmethod
    def open(cls, settings: Settings, migrate: bool = True) -> Hub:
        """The hub over the configured store, and the only way to build one; `migrate=False` in the
        processes the hub starts (`serve --workers`, Dask workers), whose parent migrated the store
        (and created the keys) once before starting them.

        It first drops the hub operator's own database credentials (PGPASSWORD, PGSERVICE, ...) from
        the process environment, for the whole process: libpq reads them there at every connection
        and no per-connection option turns that off, so a source without a password would otherwise
        connect as the hub. Every process that opens a hub (the CLI, uvicorn workers, Dask workers)
        passes here. (obstore's AWS_* credentials need no scrub: each S3 store is built with explicit
        settings, and the encryption keys it cannot override are refused by `connectors.s3`.)"""
        forget_environment(AMBIENT_CREDENTIALS)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = Store(settings.database_url)
        if migrate:
            store.migrate()
        vault = Vault.open(settings.master_key_file, settings.master_key)
        links.install(settings.data_dir, hub_keys.shared_key(store, vault, hub_keys.LINKS, settings.data_dir))
        audit_key = hub_keys.shared_key(store, vault, hub_keys.AUDIT, settings.data_dir)
        audit = AuditLog(store, audit_key, settings.audit_retention_days, settings.audit_linger_ms / 1000)
        connectors = ConnectorCache(settings.connector_cache_size, settings.connector_idle_seconds)
        return cls(
            settings, store, vault, audit, open_storage(settings.storage, settings.data_dir), connectors=connectors
        )

    @property
    def build_context(self) -> BuildContext:
        return BuildContext(
            hosted_dir=self.settings.hosted_dir,
            allow_private_endpoints=self.settings.allow_private_endpoints,
            chunk_size=self.settings.chunk_size,
            data_dir=self.settings.data_dir,
            storage=self.storage,
        )

    def close(self) -> None:
        self.audit.close()  # drains the events still queued before the store goes
        self.store.dispose()

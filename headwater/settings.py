"""Configuration from the environment (HEADWATER_*), with embedded defaults.

With nothing set, the hub keeps its metadata in SQLite and its hosted data in
`./.headwater`, and generates a master key there on first start.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    """Everything the hub reads from its environment, resolved once."""

    data_dir: Path
    database_url: str
    master_key: str | None = None
    bootstrap_token: str | None = None
    allow_private_endpoints: bool = False
    max_json_body: int = 1024 * 1024
    chunk_size: int = 1024 * 1024
    audit_retention_days: int = 90
    connector_cache_size: int = 128  # opened connections kept per hub process, least recently used dropped first
    connector_idle_seconds: float = 300.0  # an opened connection unused this long is closed
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def hosted_dir(self) -> Path:
        """Where `data://` objects live on the local disk."""
        return self.data_dir / "hosted"

    @property
    def master_key_file(self) -> Path:
        return self.data_dir / "master.key"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("HEADWATER_DATA_DIR") or "./.headwater").resolve()
        database_url = env.get("HEADWATER_DATABASE_URL") or f"sqlite:///{data_dir / 'headwater.db'}"
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            master_key=env.get("HEADWATER_MASTER_KEY") or None,
            bootstrap_token=env.get("HEADWATER_BOOTSTRAP_TOKEN") or None,
            allow_private_endpoints=_flag(env.get("HEADWATER_ALLOW_PRIVATE_ENDPOINTS")),
            audit_retention_days=int(env.get("HEADWATER_AUDIT_RETENTION_DAYS") or 90),
            connector_cache_size=int(env.get("HEADWATER_CONNECTOR_CACHE_SIZE") or 128),
            connector_idle_seconds=float(env.get("HEADWATER_CONNECTOR_IDLE_SECONDS") or 300),
        )

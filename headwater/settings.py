"""Configuration from the environment (HEADWATER_*), with embedded defaults.

With nothing set, the hub keeps its metadata in SQLite and its hosted data in the
user's data dir (`~/.local/share/headwater` on Linux, by platformdirs), and generates a
master key there on first start. A per-user folder rather than `./.headwater`: every
command finds the same store whatever folder it runs from.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs


def default_data_dir() -> Path:
    """The user's data dir for headwater (`$XDG_DATA_HOME/headwater`, else `~/.local/share/headwater` on Linux)."""
    return Path(platformdirs.user_data_dir("headwater", appauthor=False))


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _positive(env: dict[str, str] | os._Environ[str], name: str, default: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number (got {raw!r})") from None
    if value <= 0:
        raise ValueError(f"{name} must be positive (got {value})")
    return value


@dataclass(frozen=True)
class SandboxSettings:
    """Where `python` job apps run: bubblewrap, the uid they run as, their limits and module path.

    Every limit applies to one partition's child. `processes` is RLIMIT_NPROC: it counts every
    process and thread of `uid` on the machine, so give the sandbox a uid nothing else uses.
    """

    path: tuple[Path, ...] = ()
    bwrap: str = "bwrap"
    uid: int = 65534
    gid: int = 65534
    cpu_seconds: int = 600
    memory_mb: int = 2048
    file_size_mb: int = 512
    processes: int = 64
    tmp_mb: int = 256
    timeout_seconds: int = 1800

    @classmethod
    def from_env(cls, env: dict[str, str] | os._Environ[str]) -> "SandboxSettings":
        path = tuple(Path(p).resolve() for p in (env.get("HEADWATER_SANDBOX_PATH") or "").split(os.pathsep) if p)
        return cls(
            path=path,
            bwrap=env.get("HEADWATER_SANDBOX_BWRAP") or "bwrap",
            uid=_positive(env, "HEADWATER_SANDBOX_UID", 65534),
            gid=_positive(env, "HEADWATER_SANDBOX_GID", 65534),
            cpu_seconds=_positive(env, "HEADWATER_SANDBOX_CPU_SECONDS", 600),
            memory_mb=_positive(env, "HEADWATER_SANDBOX_MEMORY_MB", 2048),
            file_size_mb=_positive(env, "HEADWATER_SANDBOX_FILE_SIZE_MB", 512),
            processes=_positive(env, "HEADWATER_SANDBOX_PROCESSES", 64),
            tmp_mb=_positive(env, "HEADWATER_SANDBOX_TMP_MB", 256),
            timeout_seconds=_positive(env, "HEADWATER_SANDBOX_TIMEOUT_SECONDS", 1800),
        )

    def environment(self) -> dict[str, str]:
        """These settings as HEADWATER_SANDBOX_* variables (handed to the embedded Dask worker processes)."""
        return {
            "HEADWATER_SANDBOX_PATH": os.pathsep.join(str(p) for p in self.path),
            "HEADWATER_SANDBOX_BWRAP": self.bwrap,
            "HEADWATER_SANDBOX_UID": str(self.uid),
            "HEADWATER_SANDBOX_GID": str(self.gid),
            "HEADWATER_SANDBOX_CPU_SECONDS": str(self.cpu_seconds),
            "HEADWATER_SANDBOX_MEMORY_MB": str(self.memory_mb),
            "HEADWATER_SANDBOX_FILE_SIZE_MB": str(self.file_size_mb),
            "HEADWATER_SANDBOX_PROCESSES": str(self.processes),
            "HEADWATER_SANDBOX_TMP_MB": str(self.tmp_mb),
            "HEADWATER_SANDBOX_TIMEOUT_SECONDS": str(self.timeout_seconds),
        }


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
    sandbox: SandboxSettings = field(default_factory=SandboxSettings)
    audit_linger_ms: float = 2.0
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
        data_dir = Path(env.get("HEADWATER_DATA_DIR") or default_data_dir()).resolve()
        database_url = env.get("HEADWATER_DATABASE_URL") or f"sqlite:///{data_dir / 'headwater.db'}"
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            master_key=env.get("HEADWATER_MASTER_KEY") or None,
            bootstrap_token=env.get("HEADWATER_BOOTSTRAP_TOKEN") or None,
            allow_private_endpoints=_flag(env.get("HEADWATER_ALLOW_PRIVATE_ENDPOINTS")),
            audit_retention_days=int(env.get("HEADWATER_AUDIT_RETENTION_DAYS") or 90),
            sandbox=SandboxSettings.from_env(env),
            audit_linger_ms=float(env.get("HEADWATER_AUDIT_LINGER_MS") or 2.0),
            connector_cache_size=int(env.get("HEADWATER_CONNECTOR_CACHE_SIZE") or 128),
            connector_idle_seconds=float(env.get("HEADWATER_CONNECTOR_IDLE_SECONDS") or 300),
        )

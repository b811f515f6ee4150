"""Configuration from the environment (HEADWATER_*), with embedded defaults: the one module that reads it.

With nothing set, the hub keeps its metadata in SQLite and its hosted data in the
user's data dir (`~/.local/share/headwater` on Linux, by platformdirs), and generates a
master key there on first start. A per-user folder rather than `./.headwater`: every
command finds the same store whatever folder it runs from.

`Settings.from_env` reads every variable once; a bad value is a `SettingsError` naming its
variable. Processes the hub starts (uvicorn workers, embedded Dask workers) receive the
settings explicitly (`Settings.handed_down`, read back by `Settings.inherited`), never by
re-reading variables one by one. The last section is the rest of the process environment
that client libraries read on their own (libpq's PG*, obstore's AWS_*): inspected and
scrubbed here, so no other module touches `os.environ`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import platformdirs

Environ = Mapping[str, str]

#: The one variable through which the hub hands its settings to the processes it starts.
HANDED_DOWN = "HEADWATER_HANDED_DOWN_SETTINGS"
DEFAULT_URL = "http://127.0.0.1:8000"  # the SDK's hub when neither an argument nor HEADWATER_URL names one
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class SettingsError(ValueError):
    """A variable holds a value the hub cannot use; the message names the variable."""


def default_data_dir() -> Path:
    """The user's data dir for headwater (`$XDG_DATA_HOME/headwater`, else `~/.local/share/headwater` on Linux)."""
    return Path(platformdirs.user_data_dir("headwater", appauthor=False))


# ---------------------------------------------------------------------------------------------
# Reading one variable


def _flag(env: Environ, name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise SettingsError(f"{name} must be one of 1, true, yes, on, 0, false, no, off (got {raw!r})")


def _whole(env: Environ, name: str, default: int | None, minimum: int = 1) -> Any:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number (got {raw!r})") from None
    if value < minimum:
        raise SettingsError(f"{name} must be {'positive' if minimum == 1 else f'at least {minimum}'} (got {value})")
    return value


def _number(env: Environ, name: str, default: float, minimum: float = 0.0, strict: bool = False) -> float:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number (got {raw!r})") from None
    if value != value or value < minimum or (strict and value == minimum):
        raise SettingsError(f"{name} must be {'positive' if strict else f'at least {minimum:g}'} (got {raw})")
    return value


def _text(env: Environ, name: str) -> str | None:
    return env.get(name) or None


def _absolute(env: Environ, name: str) -> Path | None:
    raw = _text(env, name)
    if raw is None:
        return None
    if not Path(raw).is_absolute():
        raise SettingsError(f"{name} must be an absolute path (got {raw!r})")
    return Path(raw)


# ---------------------------------------------------------------------------------------------
# The settings


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
    def from_env(cls, env: Environ) -> SandboxSettings:
        path = tuple(Path(p).resolve() for p in (env.get("HEADWATER_SANDBOX_PATH") or "").split(os.pathsep) if p)
        return cls(
            path=path,
            bwrap=env.get("HEADWATER_SANDBOX_BWRAP") or "bwrap",
            uid=_whole(env, "HEADWATER_SANDBOX_UID", 65534),
            gid=_whole(env, "HEADWATER_SANDBOX_GID", 65534),
            cpu_seconds=_whole(env, "HEADWATER_SANDBOX_CPU_SECONDS", 600),
            memory_mb=_whole(env, "HEADWATER_SANDBOX_MEMORY_MB", 2048),
            file_size_mb=_whole(env, "HEADWATER_SANDBOX_FILE_SIZE_MB", 512),
            processes=_whole(env, "HEADWATER_SANDBOX_PROCESSES", 64),
            tmp_mb=_whole(env, "HEADWATER_SANDBOX_TMP_MB", 256),
            timeout_seconds=_whole(env, "HEADWATER_SANDBOX_TIMEOUT_SECONDS", 1800),
        )


@dataclass(frozen=True)
class DaskSettings:
    """Where jobs run: the embedded cluster's shape, or an external cluster and the hub's TLS identity towards it."""

    scheduler: str | None = None
    processes: bool = True  # False: workers are threads of the hub
    workers: int | None = None
    threads: int | None = None
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    warm: bool = True  # start the cluster (and ready its workers) when the hub starts, not on its first job

    @classmethod
    def from_env(cls, env: Environ) -> DaskSettings:
        return cls(
            scheduler=_text(env, "HEADWATER_DASK_SCHEDULER"),
            processes=_flag(env, "HEADWATER_DASK_PROCESSES", True),
            workers=_whole(env, "HEADWATER_DASK_WORKERS", None),
            threads=_whole(env, "HEADWATER_DASK_THREADS", None),
            tls_ca_file=_text(env, "HEADWATER_DASK_TLS_CA_FILE"),
            tls_cert_file=_text(env, "HEADWATER_DASK_TLS_CERT_FILE"),
            tls_key_file=_text(env, "HEADWATER_DASK_TLS_KEY_FILE"),
            warm=_flag(env, "HEADWATER_DASK_WARM", True),
        )

    @property
    def tls_files(self) -> tuple[str, ...]:
        """The TLS files named (secrets of the hub: a sandbox must never see them)."""
        return tuple(p for p in (self.tls_ca_file, self.tls_cert_file, self.tls_key_file) if p)


_STORAGE_BUCKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,220}[A-Za-z0-9]")


@dataclass(frozen=True)
class StorageSettings:
    """Where the hub keeps its own bytes (hosted data, uploads, temporary buckets), and how it reaches them.

    `url` is None (the data dir), a folder path (or `file://` URL), or `s3://BUCKET/PREFIX`. The
    object store's endpoint, region and keys are the operator's, given here, never a user's secret.
    """

    url: str | None = None
    endpoint: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    path_style: bool | None = None

    @property
    def bucket(self) -> str | None:
        """The bucket of an `s3://` URL (None for a folder)."""
        if self.url is None or not self.url.startswith("s3://"):
            return None
        return urlsplit(self.url).netloc

    @property
    def prefix(self) -> str:
        """The key prefix inside the bucket that is the storage's root ("" for the whole bucket)."""
        return urlsplit(self.url or "").path.strip("/") if self.bucket else ""

    @property
    def folder(self) -> Path | None:
        """The folder of a folder URL (None for the default or an object store)."""
        if self.url is None or self.bucket is not None:
            return None
        return Path(urlsplit(self.url).path if self.url.startswith("file://") else self.url)

    @classmethod
    def from_env(cls, env: Environ) -> StorageSettings:
        url = _text(env, "HEADWATER_STORAGE_URL")
        name = "HEADWATER_STORAGE_URL"
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme == "s3":
                segments = parts.path.strip("/").split("/") if parts.path.strip("/") else []
                if not _STORAGE_BUCKET.fullmatch(parts.netloc) or parts.query or parts.fragment or parts.username:
                    raise SettingsError(
                        f"{name} must be s3://BUCKET/PREFIX with a bucket name of 3-222 letters, digits, '.', '-' or '_'"
                    )
                if any(s in {"", ".", ".."} or "\\" in s for s in segments):
                    raise SettingsError(
                        f"{name} must be s3://BUCKET/PREFIX with a plain path as PREFIX (no empty, '.' or '..' segments)"
                    )
            elif parts.scheme == "file" or (parts.scheme == "" and url.startswith("/")):
                url = str(Path(parts.path if parts.scheme else url).resolve())
            else:
                raise SettingsError(
                    f"{name} must be an absolute folder path, a file:// URL or s3://BUCKET/PREFIX (got scheme {parts.scheme!r})"
                )
        endpoint = _text(env, "HEADWATER_STORAGE_ENDPOINT")
        if endpoint is not None:
            parts = urlsplit(endpoint)
            if parts.scheme not in {"http", "https"} or not parts.hostname or parts.username or parts.password:
                raise SettingsError(
                    "HEADWATER_STORAGE_ENDPOINT must be an http:// or https:// URL with a host and no credentials"
                )
            if parts.path not in {"", "/"} or parts.query:
                raise SettingsError("HEADWATER_STORAGE_ENDPOINT must be scheme://host[:port] with no path or query")
            endpoint = endpoint.rstrip("/")
        access, secret = (
            _text(env, "HEADWATER_STORAGE_ACCESS_KEY_ID"),
            _text(env, "HEADWATER_STORAGE_SECRET_ACCESS_KEY"),
        )
        if (access is None) != (secret is None):
            missing, given = (
                ("HEADWATER_STORAGE_SECRET_ACCESS_KEY", "HEADWATER_STORAGE_ACCESS_KEY_ID")
                if secret is None
                else ("HEADWATER_STORAGE_ACCESS_KEY_ID", "HEADWATER_STORAGE_SECRET_ACCESS_KEY")
            )
            raise SettingsError(f"{given} must be set with {missing}: the two go together")
        raw_style = (env.get("HEADWATER_STORAGE_PATH_STYLE") or "").strip()
        return cls(
            url=url,
            endpoint=endpoint,
            region=_text(env, "HEADWATER_STORAGE_REGION"),
            access_key_id=access,
            secret_access_key=secret,
            path_style=_flag(env, "HEADWATER_STORAGE_PATH_STYLE", True) if raw_style else None,
        )


@dataclass(frozen=True)
class Settings:
    """Everything the hub reads from its environment, resolved once."""

    data_dir: Path
    database_url: str
    master_key: str | None = None
    master_key_path: Path | None = None  # HEADWATER_MASTER_KEY_FILE: the key file, if not `master.key` in the data dir
    bootstrap_token: str | None = None
    allow_private_endpoints: bool = False
    max_json_body: int = 1024 * 1024  # bytes of a JSON request body
    chunk_size: int = 1024 * 1024  # bytes a connector reads or writes at a time
    audit_retention_days: int = 90
    sandbox: SandboxSettings = field(default_factory=SandboxSettings)
    dask: DaskSettings = field(default_factory=DaskSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    audit_linger_ms: float = 2.0
    connector_cache_size: int = 128  # opened connections kept per hub process, least recently used dropped first
    connector_idle_seconds: float = 300.0  # an opened connection unused this long is closed
    workers: int | None = None  # processes of `headwater serve` (None: one per CPU, at most 4)
    jobs_lease_seconds: float = 30.0  # a job's driving replica renews its lease; another takes the job once it lapses
    s3_port: int | None = None  # HEADWATER_S3_PORT: every worker also serves the S3 front door on this port (None: off)
    table_export_ttl: float = 60.0  # seconds a staged table export is served before a read exports the table again

    @property
    def hosted_dir(self) -> Path:
        """Where `data://` objects live when the hub's storage is a folder (see `headwater.connectors.storage`)."""
        return (self.storage.folder or self.data_dir) / "hosted"

    @property
    def master_key_file(self) -> Path:
        """The master key's file (unless HEADWATER_MASTER_KEY gives the key): replicas share one path's contents."""
        return self.master_key_path or self.data_dir / "master.key"

    @classmethod
    def from_env(cls, environ: Environ | None = None) -> Settings:
        """The settings of `environ` (the process environment by default); `SettingsError` naming a bad variable."""
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("HEADWATER_DATA_DIR") or default_data_dir()).resolve()
        database_url = env.get("HEADWATER_DATABASE_URL") or f"sqlite:///{data_dir / 'headwater.db'}"
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            master_key=_text(env, "HEADWATER_MASTER_KEY"),
            master_key_path=_absolute(env, "HEADWATER_MASTER_KEY_FILE"),
            bootstrap_token=_text(env, "HEADWATER_BOOTSTRAP_TOKEN"),
            allow_private_endpoints=_flag(env, "HEADWATER_ALLOW_PRIVATE_ENDPOINTS", False),
            max_json_body=_whole(env, "HEADWATER_MAX_JSON_BODY", 1024 * 1024),
            chunk_size=_whole(env, "HEADWATER_CHUNK_SIZE", 1024 * 1024),
            audit_retention_days=_whole(env, "HEADWATER_AUDIT_RETENTION_DAYS", 90, minimum=0),
            sandbox=SandboxSettings.from_env(env),
            dask=DaskSettings.from_env(env),
            storage=StorageSettings.from_env(env),
            audit_linger_ms=_number(env, "HEADWATER_AUDIT_LINGER_MS", 2.0),
            connector_cache_size=_whole(env, "HEADWATER_CONNECTOR_CACHE_SIZE", 128, minimum=0),
            connector_idle_seconds=_number(env, "HEADWATER_CONNECTOR_IDLE_SECONDS", 300.0, strict=True),
            workers=_whole(env, "HEADWATER_WORKERS", None),
            jobs_lease_seconds=_number(env, "HEADWATER_JOBS_LEASE_SECONDS", 30.0, minimum=1.0),
            s3_port=_whole(env, "HEADWATER_S3_PORT", None),
            table_export_ttl=_number(env, "HEADWATER_TABLE_EXPORT_TTL", 60.0),
        )

    # -- handing the settings to the processes the hub starts ---------------------------------

    def handed_down(self) -> dict[str, str]:
        """These settings as the one variable a process the hub starts reads back with `inherited`."""
        return {HANDED_DOWN: json.dumps(asdict(self), default=str)}

    @classmethod
    def inherited(cls, environ: Environ | None = None) -> Settings:
        """The settings the starting process handed down, or (a process nobody handed any to, such
        as a worker of an external Dask cluster) those of its own environment."""
        env = os.environ if environ is None else environ
        raw = env.get(HANDED_DOWN)
        if not raw:
            return cls.from_env(env)
        values = json.loads(raw)
        sandbox, dask = values.pop("sandbox"), values.pop("dask")
        storage = values.pop("storage", None) or {}
        sandbox["path"] = tuple(Path(p) for p in sandbox["path"])
        values["data_dir"] = Path(values["data_dir"])
        if values.get("master_key_path"):
            values["master_key_path"] = Path(values["master_key_path"])
        return cls(
            **values, sandbox=SandboxSettings(**sandbox), dask=DaskSettings(**dask), storage=StorageSettings(**storage)
        )


# ---------------------------------------------------------------------------------------------
# The client SDK's defaults


def client_defaults(url: str | None, token: str | None) -> tuple[str, str | None]:
    """The hub URL and token an SDK client uses: the given ones, else HEADWATER_URL and HEADWATER_TOKEN."""
    return (url or os.environ.get("HEADWATER_URL") or DEFAULT_URL), (token or os.environ.get("HEADWATER_TOKEN") or None)


# ---------------------------------------------------------------------------------------------
# The rest of the process environment: what client libraries would read on their own


def environment_values(names: Iterable[str]) -> dict[str, str]:
    """Those of `names` set in this process's environment now, with their values (read live: libpq
    and obstore read the environment at each connection, so a check must too)."""
    return {name: os.environ[name] for name in names if name in os.environ}


def forget_environment(names: Iterable[str]) -> None:
    """Remove `names` from this process's environment, for the whole process (C libraries such as
    libpq read the process environment, not a copy). Only `Hub.open` calls it: see there why."""
    for name in names:
        os.environ.pop(name, None)

"""Every setting is read from its HEADWATER_* variable, a bad value is refused naming the variable,
and the settings a hub hands to the processes it starts come back whole."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from headwater.settings import (
    DaskSettings,
    SandboxSettings,
    Settings,
    SettingsError,
    client_defaults,
    environment_values,
    forget_environment,
)

# variable, value, the attribute path, the value read
READ = [
    ("HEADWATER_DATABASE_URL", "postgresql://hub@db/hub", "database_url", "postgresql://hub@db/hub"),
    ("HEADWATER_MASTER_KEY", "k1,k2", "master_key", "k1,k2"),
    ("HEADWATER_MASTER_KEY_FILE", "/run/secrets/master.key", "master_key_file", Path("/run/secrets/master.key")),
    ("HEADWATER_BOOTSTRAP_TOKEN", "hw_boot", "bootstrap_token", "hw_boot"),
    ("HEADWATER_ALLOW_PRIVATE_ENDPOINTS", "yes", "allow_private_endpoints", True),
    ("HEADWATER_MAX_JSON_BODY", "2048", "max_json_body", 2048),
    ("HEADWATER_CHUNK_SIZE", "65536", "chunk_size", 65536),
    ("HEADWATER_AUDIT_RETENTION_DAYS", "7", "audit_retention_days", 7),
    ("HEADWATER_AUDIT_LINGER_MS", "0", "audit_linger_ms", 0.0),
    ("HEADWATER_CONNECTOR_CACHE_SIZE", "16", "connector_cache_size", 16),
    ("HEADWATER_CONNECTOR_IDLE_SECONDS", "2.5", "connector_idle_seconds", 2.5),
    ("HEADWATER_JOBS_LEASE_SECONDS", "3", "jobs_lease_seconds", 3.0),
    ("HEADWATER_WORKERS", "3", "workers", 3),
    ("HEADWATER_SANDBOX_BWRAP", "/opt/bwrap", "sandbox.bwrap", "/opt/bwrap"),
    ("HEADWATER_SANDBOX_UID", "4242", "sandbox.uid", 4242),
    ("HEADWATER_SANDBOX_GID", "4243", "sandbox.gid", 4243),
    ("HEADWATER_SANDBOX_CPU_SECONDS", "5", "sandbox.cpu_seconds", 5),
    ("HEADWATER_SANDBOX_MEMORY_MB", "64", "sandbox.memory_mb", 64),
    ("HEADWATER_SANDBOX_FILE_SIZE_MB", "8", "sandbox.file_size_mb", 8),
    ("HEADWATER_SANDBOX_PROCESSES", "4", "sandbox.processes", 4),
    ("HEADWATER_SANDBOX_TMP_MB", "16", "sandbox.tmp_mb", 16),
    ("HEADWATER_SANDBOX_TIMEOUT_SECONDS", "30", "sandbox.timeout_seconds", 30),
    ("HEADWATER_DASK_SCHEDULER", "tls://10.0.0.5:8786", "dask.scheduler", "tls://10.0.0.5:8786"),
    ("HEADWATER_DASK_PROCESSES", "0", "dask.processes", False),
    ("HEADWATER_DASK_WORKERS", "2", "dask.workers", 2),
    ("HEADWATER_DASK_THREADS", "6", "dask.threads", 6),
    ("HEADWATER_DASK_WARM", "off", "dask.warm", False),
    ("HEADWATER_DASK_TLS_CA_FILE", "/etc/hw/ca.pem", "dask.tls_ca_file", "/etc/hw/ca.pem"),
    ("HEADWATER_DASK_TLS_CERT_FILE", "/etc/hw/cert.pem", "dask.tls_cert_file", "/etc/hw/cert.pem"),
    ("HEADWATER_DASK_TLS_KEY_FILE", "/etc/hw/key.pem", "dask.tls_key_file", "/etc/hw/key.pem"),
    ("HEADWATER_STORAGE_URL", "s3://hub-data/replicas/a", "storage.url", "s3://hub-data/replicas/a"),
    ("HEADWATER_STORAGE_ENDPOINT", "http://10.0.0.9:8333/", "storage.endpoint", "http://10.0.0.9:8333"),
    ("HEADWATER_STORAGE_REGION", "eu-west-1", "storage.region", "eu-west-1"),
    ("HEADWATER_STORAGE_PATH_STYLE", "no", "storage.path_style", False),
]


def attribute(settings: Settings, path: str) -> Any:
    value: Any = settings
    for name in path.split("."):
        value = getattr(value, name)
    return value


@pytest.mark.parametrize(("variable", "value", "path", "expected"), READ, ids=[r[0] for r in READ])
def test_each_setting_is_read_from_its_variable(
    tmp_path: Path, variable: str, value: str, path: str, expected: Any
) -> None:
    base = {"HEADWATER_DATA_DIR": str(tmp_path)}
    default = attribute(Settings.from_env(base), path)
    assert default != expected  # the variable, not the default, gave the value
    assert attribute(Settings.from_env({**base, variable: value}), path) == expected


def test_the_data_dir_and_sandbox_path_are_read_as_resolved_paths(tmp_path: Path) -> None:
    (tmp_path / "mods").mkdir()
    settings = Settings.from_env(
        {
            "HEADWATER_DATA_DIR": str(tmp_path / "x" / ".." / "data"),
            "HEADWATER_SANDBOX_PATH": f"{tmp_path / 'mods'}{os.pathsep}{tmp_path / 'more'}",
        }
    )
    assert settings.data_dir == tmp_path / "data"
    assert settings.database_url == f"sqlite:///{tmp_path / 'data' / 'headwater.db'}"
    assert settings.sandbox.path == (tmp_path / "mods", tmp_path / "more")


def test_nothing_set_gives_the_embedded_defaults(tmp_path: Path) -> None:
    settings = Settings.from_env({"HEADWATER_DATA_DIR": str(tmp_path)})
    assert settings == Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'headwater.db'}")
    assert settings.sandbox == SandboxSettings() and settings.dask == DaskSettings()


BAD = [
    ("HEADWATER_MAX_JSON_BODY", "1MB", "whole number"),
    ("HEADWATER_MASTER_KEY_FILE", "secrets/master.key", "absolute path"),
    ("HEADWATER_CHUNK_SIZE", "0", "positive"),
    ("HEADWATER_AUDIT_RETENTION_DAYS", "-1", "at least 0"),
    ("HEADWATER_AUDIT_LINGER_MS", "soon", "a number"),
    ("HEADWATER_AUDIT_LINGER_MS", "-2", "at least 0"),
    ("HEADWATER_CONNECTOR_CACHE_SIZE", "many", "whole number"),
    ("HEADWATER_CONNECTOR_IDLE_SECONDS", "0", "positive"),
    ("HEADWATER_CONNECTOR_IDLE_SECONDS", "nan", "positive"),
    ("HEADWATER_JOBS_LEASE_SECONDS", "0.5", "at least 1"),
    ("HEADWATER_WORKERS", "0", "positive"),
    ("HEADWATER_SANDBOX_UID", "nobody", "whole number"),
    ("HEADWATER_SANDBOX_MEMORY_MB", "-5", "positive"),
    ("HEADWATER_DASK_THREADS", "2.5", "whole number"),
    ("HEADWATER_DASK_WORKERS", "0", "positive"),
    ("HEADWATER_DASK_PROCESSES", "maybe", "one of 1, true"),
    ("HEADWATER_ALLOW_PRIVATE_ENDPOINTS", "enabled", "one of 1, true"),
    ("HEADWATER_DASK_WARM", "2", "one of 1, true"),
    ("HEADWATER_STORAGE_URL", "gs://bucket/x", "s3://BUCKET/PREFIX"),
    ("HEADWATER_STORAGE_URL", "relative/folder", "absolute folder path"),
    ("HEADWATER_STORAGE_URL", "s3://hub-data/x/../b", "plain path"),
    ("HEADWATER_STORAGE_URL", "s3://user:pw@bucket/x", "bucket name"),
    ("HEADWATER_STORAGE_ENDPOINT", "ftp://store", "http:// or https://"),
    ("HEADWATER_STORAGE_ENDPOINT", "https://k:s@store", "no credentials"),
    ("HEADWATER_STORAGE_ACCESS_KEY_ID", "AKIA", "go together"),
    ("HEADWATER_STORAGE_SECRET_ACCESS_KEY", "s3cr3t", "go together"),
    ("HEADWATER_STORAGE_PATH_STYLE", "sometimes", "one of 1, true"),
]


@pytest.mark.parametrize(("variable", "value", "says"), BAD, ids=[f"{r[0]}={r[1]}" for r in BAD])
def test_a_bad_value_is_refused_naming_its_variable(tmp_path: Path, variable: str, value: str, says: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"HEADWATER_DATA_DIR": str(tmp_path), variable: value})
    assert str(caught.value).startswith(f"{variable} must be") and says in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_the_settings_handed_to_a_started_process_come_back_whole(tmp_path: Path) -> None:
    every = {variable: value for variable, value, _, _ in READ}
    settings = Settings.from_env(
        {**every, "HEADWATER_DATA_DIR": str(tmp_path), "HEADWATER_SANDBOX_PATH": str(tmp_path)}
    )
    handed = settings.handed_down()
    assert list(handed) == ["HEADWATER_HANDED_DOWN_SETTINGS"]  # one variable, nothing re-read one by one
    assert Settings.inherited(handed) == settings
    assert Settings.inherited({**handed, "HEADWATER_CHUNK_SIZE": "7"}) == settings  # what was handed wins


def test_the_storage_is_the_data_dir_unless_a_folder_or_bucket_is_named(tmp_path: Path) -> None:
    base = {"HEADWATER_DATA_DIR": str(tmp_path / "data")}
    assert Settings.from_env(base).hosted_dir == tmp_path / "data" / "hosted"
    folder = Settings.from_env({**base, "HEADWATER_STORAGE_URL": f"file://{tmp_path}/store/../shared"})
    assert folder.storage.folder == tmp_path / "shared" and folder.hosted_dir == tmp_path / "shared" / "hosted"
    bucket = Settings.from_env({**base, "HEADWATER_STORAGE_URL": "s3://hub-data/replicas/a/"})
    assert (bucket.storage.bucket, bucket.storage.prefix, bucket.storage.folder) == ("hub-data", "replicas/a", None)


def test_the_storage_keys_are_read_together_and_the_secret_is_never_shown(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "HEADWATER_DATA_DIR": str(tmp_path),
            "HEADWATER_STORAGE_URL": "s3://hub-data",
            "HEADWATER_STORAGE_ACCESS_KEY_ID": "hub-key",
            "HEADWATER_STORAGE_SECRET_ACCESS_KEY": "the-operators-secret",
        }
    )
    assert (settings.storage.access_key_id, settings.storage.secret_access_key) == ("hub-key", "the-operators-secret")
    assert "the-operators-secret" not in repr(settings)
    assert Settings.inherited(settings.handed_down()) == settings


def test_a_process_handed_nothing_reads_its_own_environment(tmp_path: Path) -> None:
    own = {"HEADWATER_DATA_DIR": str(tmp_path), "HEADWATER_DASK_THREADS": "3"}
    assert Settings.inherited(own) == Settings.from_env(own)


def test_the_client_defaults_come_from_headwater_url_and_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEADWATER_URL", raising=False)
    monkeypatch.delenv("HEADWATER_TOKEN", raising=False)
    assert client_defaults(None, None) == ("http://127.0.0.1:8000", None)
    monkeypatch.setenv("HEADWATER_URL", "http://hub:9000")
    monkeypatch.setenv("HEADWATER_TOKEN", "hw_env")
    assert client_defaults(None, None) == ("http://hub:9000", "hw_env")
    assert client_defaults("http://given", "hw_given") == ("http://given", "hw_given")


def test_the_ambient_environment_is_read_live_and_forgotten_for_the_whole_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    names = ("HEADWATER_TEST_AMBIENT_A", "HEADWATER_TEST_AMBIENT_B")
    monkeypatch.setenv(names[0], "secret")
    monkeypatch.setenv(names[1], "")
    assert environment_values(names) == {names[0]: "secret", names[1]: ""}
    forget_environment(names)
    assert environment_values(names) == {}
    assert names[0] not in os.environ


def test_every_process_that_opens_a_hub_drops_the_operators_database_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`Hub.open` (the CLI, `serve` and its workers) and a Dask worker opening its hub from handed-down settings."""
    from headwater.services.hub import Hub
    from headwater.services.jobs import runner

    settings = Settings.from_env({"HEADWATER_DATA_DIR": str(tmp_path)})
    monkeypatch.setenv("PGPASSWORD", "the-operators")
    monkeypatch.setenv("PGSERVICE", "ops")
    hub = Hub.open(settings)
    hub.close()
    assert "PGPASSWORD" not in os.environ and "PGSERVICE" not in os.environ

    monkeypatch.setenv("PGPASSWORD", "the-operators")
    for name, value in settings.handed_down().items():
        monkeypatch.setenv(name, value)
    key = runner.hub_key(settings)
    worker = runner.worker_hub(key)
    try:
        assert worker.settings == settings
        assert "PGPASSWORD" not in os.environ
    finally:
        runner.forget_hub(key)
        worker.close()


def test_replicas_on_one_object_store_are_one_hub_to_the_workers_of_a_shared_cluster(tmp_path: Path) -> None:
    """A task names its hub by a key; replicas with data dirs of their own but one store and one object
    store must give the same key, or a shared cluster's workers would refuse the tasks of all but one."""
    from headwater.services.jobs import runner

    shared = {"HEADWATER_DATABASE_URL": "postgresql://hub:pw@db/hub", "HEADWATER_STORAGE_URL": "s3://bucket/hub"}
    one = Settings.from_env({**shared, "HEADWATER_DATA_DIR": str(tmp_path / "a")})
    other = Settings.from_env({**shared, "HEADWATER_DATA_DIR": str(tmp_path / "b")})
    assert runner.hub_key(one) == runner.hub_key(other)
    elsewhere = Settings.from_env({**shared, "HEADWATER_STORAGE_URL": "s3://bucket/other"})
    assert runner.hub_key(elsewhere) != runner.hub_key(one)
    local = [Settings.from_env({"HEADWATER_DATA_DIR": str(tmp_path / name)}) for name in ("a", "b")]
    assert runner.hub_key(local[0]) != runner.hub_key(local[1])  # a data dir of its own: a hub of its own

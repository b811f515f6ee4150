"""The hub's link and audit keys are shared by every replica through the store, sealed under the master key."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest

from headwater import links
from headwater.services import hub_keys
from headwater.services import secrets as secrets_service
from headwater.services.hub import Hub
from headwater.settings import Settings
from headwater.store.database import Store
from headwater.store.models import HubKey
from headwater.vault import Keyring, Vault, generate_key
from tests.fixtures.hub import RunningHub


def settings_of(data_dir: Path, database_url: str, master: str) -> Settings:
    return Settings.from_env(
        {"HEADWATER_DATA_DIR": str(data_dir), "HEADWATER_DATABASE_URL": database_url, "HEADWATER_MASTER_KEY": master}
    )


def test_a_link_signed_by_one_replica_verifies_on_the_other_and_audit_digests_agree(
    replicas: tuple[RunningHub, RunningHub],
) -> None:
    first, second = replicas
    token = links.signer(first.hub.settings.data_dir).sign("uploads/o/u/file.csv", links.expiry(timedelta(hours=1)))
    assert links.signer(second.hub.settings.data_dir).verify(token).path == "uploads/o/u/file.csv"
    assert first.hub.audit.digest("a token") == second.hub.audit.digest("a token")
    assert not (first.hub.settings.data_dir / "links.key").exists()
    assert not (first.hub.settings.data_dir / "audit.key").exists()


def test_the_keys_are_stored_sealed_not_in_the_clear(replicas: tuple[RunningHub, RunningHub]) -> None:
    first, _ = replicas
    with first.hub.store.session() as session:
        rows = {row.name: row.ciphertext for row in session.query(HubKey)}
    assert set(rows) == {hub_keys.LINKS, hub_keys.AUDIT}
    assert first.hub.audit.key.hex() not in rows[hub_keys.AUDIT]
    assert rows[hub_keys.AUDIT].startswith("v1:")


def test_replicas_creating_the_keys_at_once_all_get_the_one_that_won(fresh_postgres_url: str, tmp_path: Path) -> None:
    store = Store(fresh_postgres_url)
    store.migrate()
    vault = Vault(Keyring.parse(generate_key()))
    found: list[bytes] = []
    start = threading.Barrier(8)

    def create() -> None:
        start.wait()
        found.append(hub_keys.shared_key(store, vault, hub_keys.LINKS, tmp_path))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    store.dispose()
    assert len(found) == 8 and len(set(found)) == 1


def test_a_key_file_from_before_is_imported_so_old_links_and_digests_stay_valid(
    fresh_postgres_url: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "old-hub"
    data_dir.mkdir()
    old_link_key, old_audit_key = b"\x01" * 32, b"\x02" * 32
    (data_dir / "links.key").write_text(old_link_key.hex())
    (data_dir / "audit.key").write_text(old_audit_key.hex())
    old_link = links.Signer(old_link_key).sign("buckets/o/b/x", links.expiry(timedelta(hours=1)))
    master = generate_key()
    hub = Hub.open(settings_of(data_dir, fresh_postgres_url, master))
    try:
        assert hub.audit.key == old_audit_key
        assert links.signer(data_dir).verify(old_link).path == "buckets/o/b/x"
    finally:
        hub.close()
    other = Hub.open(settings_of(tmp_path / "new-replica", fresh_postgres_url, master))
    try:
        assert links.signer(other.settings.data_dir).verify(old_link).path == "buckets/o/b/x"
    finally:
        other.close()


def test_master_key_rotation_reseals_the_shared_keys(fresh_postgres_url: str, tmp_path: Path) -> None:
    old = generate_key()
    hub = Hub.open(settings_of(tmp_path / "a", fresh_postgres_url, old))
    link_key, audit_key = links.signer(hub.settings.data_dir)._key, hub.audit.key
    new = generate_key()
    hub.vault.keyring = Keyring.parse(f"{new},{old}")  # HEADWATER_MASTER_KEY=NEW,OLD on every replica first
    try:
        secrets_service.rotate_master_key(hub.store, hub.vault, new)
    finally:
        hub.close()
    restarted = Hub.open(settings_of(tmp_path / "b", fresh_postgres_url, new))  # the old key is gone
    try:
        assert restarted.audit.key == audit_key
        assert links.signer(restarted.settings.data_dir)._key == link_key
    finally:
        restarted.close()
    with pytest.raises(Exception, match="master key this hub does not hold"):
        Hub.open(settings_of(tmp_path / "c", fresh_postgres_url, old))

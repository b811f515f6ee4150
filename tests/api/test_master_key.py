"""Master-key rotation keeps every secret usable, and a moved ciphertext fails to decrypt."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select, update

from headwater.services import secrets as secrets_service
from headwater.store.models import Secret
from headwater.vault import Keyring, key_id
from tests.fixtures.hub import RunningHub, start_hub


def test_rotation_reencrypts_every_secret_and_they_stay_usable(tmp_path: Path) -> None:
    running = start_hub(tmp_path / "hub")
    try:
        token = running.token()
        with running.client(token) as api:
            for i in range(5):
                api.post("/v1/secrets", json={"id": f"s{i}", "secretType": "generic", "values": {"DISK": str(tmp_path)}}).raise_for_status()
            source = api.post("/v1/sources", json={"protocol": "local", "label": "disk", "params": {"path": {"envKey": "DISK"}}, "envSecretIds": ["s3"]}).json()
            old_key = running.hub.vault.keyring.primary
            count = secrets_service.rotate_master_key(running.hub.store, running.hub.vault)
            assert count == 5
            assert running.hub.vault.keyring.primary != old_key
            assert Keyring.parse(running.hub.settings.master_key_file.read_text()).keys == [running.hub.vault.keyring.primary]
            assert api.post(f"/v1/sources/{source['id']}/test").json()["state"]["code"] == "100"
            with running.hub.store.session() as session:
                for secret in session.scalars(select(Secret)):
                    assert running.hub.vault.key_id_of(secret.ciphertext) != key_id(old_key)
                    secrets_service.credentials(session, running.hub.vault, secret.org_id, secret.secret_id)
    finally:
        running.stop()


def test_a_ciphertext_copied_to_another_secrets_row_fails_to_decrypt(hub_server: RunningHub, tmp_path: Path) -> None:
    token = hub_server.token()
    with hub_server.client(token) as api:
        api.post("/v1/secrets", json={"id": "victim", "secretType": "generic", "values": {"DISK": str(tmp_path)}}).raise_for_status()
        api.post("/v1/secrets", json={"id": "thief", "secretType": "generic", "values": {"DISK": "/nowhere"}}).raise_for_status()
        with hub_server.hub.store.session() as session:
            victim = session.scalar(select(Secret).where(Secret.secret_id == "victim").order_by(Secret.created_at.desc()))
            assert victim is not None
            org_id = victim.org_id
            session.execute(update(Secret).where(Secret.org_id == org_id, Secret.secret_id == "thief").values(ciphertext=victim.ciphertext))
        source = api.post("/v1/sources", json={"protocol": "local", "label": "moved", "params": {"path": {"envKey": "DISK"}}, "envSecretIds": ["thief"]}).json()
        tested = api.post(f"/v1/sources/{source['id']}/test")
        assert tested.status_code == 200
        state = tested.json()["state"]
        assert state["healthy"] is False and "failed to decrypt" in state["reason"]
        assert str(tmp_path) not in tested.text

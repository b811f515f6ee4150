"""Master-key rotation keeps every secret usable, and a moved ciphertext fails to decrypt."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select, update

from headwater.services import secrets as secrets_service
from headwater.store.models import Secret
from headwater.vault import Keyring, Vault, generate_key, key_id
from tests.fixtures.hub import RunningHub, start_hub


def test_rotation_reencrypts_every_secret_and_they_stay_usable(tmp_path: Path) -> None:
    running = start_hub(tmp_path / "hub")
    try:
        token = running.token()
        with running.client(token) as api:
            for i in range(5):
                api.post(
                    "/v1/secrets", json={"id": f"s{i}", "secretType": "generic", "values": {"DISK": str(tmp_path)}}
                ).raise_for_status()
            source = api.post(
                "/v1/sources",
                json={
                    "protocol": "local",
                    "label": "disk",
                    "params": {"path": {"envKey": "DISK"}},
                    "envSecretIds": ["s3"],
                },
            ).json()
            old_key = running.hub.vault.keyring.primary
            count = secrets_service.rotate_master_key(running.hub.store, running.hub.vault)
            assert count == 5
            assert running.hub.vault.keyring.primary != old_key
            assert Keyring.parse(running.hub.settings.master_key_file.read_text()).keys == [
                running.hub.vault.keyring.primary
            ]
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
        api.post(
            "/v1/secrets", json={"id": "victim", "secretType": "generic", "values": {"DISK": str(tmp_path)}}
        ).raise_for_status()
        api.post(
            "/v1/secrets", json={"id": "thief", "secretType": "generic", "values": {"DISK": "/nowhere"}}
        ).raise_for_status()
        with hub_server.hub.store.session() as session:
            victim = session.scalar(
                select(Secret).where(Secret.secret_id == "victim").order_by(Secret.created_at.desc())
            )
            assert victim is not None
            org_id = victim.org_id
            session.execute(
                update(Secret)
                .where(Secret.org_id == org_id, Secret.secret_id == "thief")
                .values(ciphertext=victim.ciphertext)
            )
        source = api.post(
            "/v1/sources",
            json={
                "protocol": "local",
                "label": "moved",
                "params": {"path": {"envKey": "DISK"}},
                "envSecretIds": ["thief"],
            },
        ).json()
        tested = api.post(f"/v1/sources/{source['id']}/test")
        assert tested.status_code == 200
        state = tested.json()["state"]
        assert state["healthy"] is False and "failed to decrypt" in state["reason"]
        assert str(tmp_path) not in tested.text


def test_the_rotation_steps_for_replicas_keep_every_secret_readable_on_every_replica(
    fresh_postgres_url: str, tmp_path: Path
) -> None:
    """The README's steps: replicas on OLD,NEW then NEW,OLD, the rotation once, then NEW alone."""
    old, new = generate_key(), generate_key()
    disk = tmp_path / "disk"
    disk.mkdir()
    (disk / "f.txt").write_bytes(b"x")

    def start(name: str, master: str) -> RunningHub:
        return start_hub(tmp_path / name, fresh_postgres_url, HEADWATER_MASTER_KEY=master)

    def usable(replica: RunningHub, token: str, source_ids: list[str]) -> None:
        with replica.client(token) as api:
            for source_id in source_ids:
                assert api.post(f"/v1/sources/{source_id}/test").json()["state"]["code"] == "100"

    first = start("r1", old)
    token = first.token()
    with first.client(token) as api:
        api.post(
            "/v1/secrets", json={"id": "before", "secretType": "generic", "values": {"DISK": str(disk)}}
        ).raise_for_status()
        sources = [
            api.post(
                "/v1/sources",
                json={
                    "protocol": "local",
                    "label": "before",
                    "params": {"path": {"envKey": "DISK"}},
                    "envSecretIds": ["before"],
                },
            ).json()["id"]
        ]
    first.stop()
    steps = [
        start("r1-step2", f"{old},{new}"),
        start("r2-step3", f"{new},{old}"),
    ]  # one replica restarted ahead of the other
    try:
        for i, replica in enumerate(steps):
            with replica.client(token) as api:
                api.post(
                    "/v1/secrets", json={"id": f"s{i}", "secretType": "generic", "values": {"DISK": str(disk)}}
                ).raise_for_status()
                sources.append(
                    api.post(
                        "/v1/sources",
                        json={
                            "protocol": "local",
                            "label": f"l{i}",
                            "params": {"path": {"envKey": "DISK"}},
                            "envSecretIds": [f"s{i}"],
                        },
                    ).json()["id"]
                )
        for replica in steps:
            usable(replica, token, sources)  # each reads what the other sealed
        rotating = Vault(Keyring.parse(f"{new},{old}"))
        assert secrets_service.rotate_master_key(steps[1].hub.store, rotating, new) == 3
        for replica in steps:
            usable(replica, token, sources)  # still serving while and after the rows were re-sealed
    finally:
        for replica in steps:
            replica.stop()
    last = start("r1-step5", new)
    try:
        usable(last, token, sources)
    finally:
        last.stop()

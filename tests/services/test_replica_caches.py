"""No replica-local truth: two hub replicas on one PostgreSQL store, each with its own caches.

A revoked token, a changed source, a changed secret and a deleted organization member,
each changed through (or beside) one replica, are honoured by the other on its very next
request, although that one had just served the same caller and source from its caches.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
from sqlalchemy import select

from headwater.store.models import Organization, User
from tests.fixtures.hub import RunningHub


def disks(tmp_path: Path) -> tuple[Path, Path]:
    first, second = tmp_path / "disk-a", tmp_path / "disk-b"
    for disk, body in ((first, b"a\n"), (second, b"b\n")):
        disk.mkdir()
        (disk / "file.txt").write_bytes(body)
    return first, second


def read(replica: RunningHub, token: str, label: str = "disk") -> httpx.Response:
    return httpx.get(
        f"{replica.url}/v1/connector/local+{label}/file.txt", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def warm(replica: RunningHub, token: str, body: bytes, label: str = "disk") -> None:
    """Two reads: the second is served from the replica's caches (caller, source row, connector)."""
    for _ in range(2):
        response = read(replica, token, label)
        assert response.status_code == 200 and response.content == body, response.text


def test_a_token_revoked_through_one_replica_is_refused_by_the_other_on_its_next_request(
    replicas: tuple[RunningHub, RunningHub], tmp_path: Path
) -> None:
    first, second = replicas
    a, _ = disks(tmp_path)
    admin = first.token()
    with first.client(admin) as api:
        api.post(
            "/v1/sources", json={"protocol": "local", "label": "disk", "params": {"path": str(a)}}
        ).raise_for_status()
        child = api.post("/v1/tokens", json={}).json()
    warm(second, child["token"], b"a\n")
    with first.client(admin) as api:
        assert api.delete(f"/v1/tokens/{child['id']}").status_code == 204
    assert read(second, child["token"]).status_code == 401


def test_a_source_changed_through_one_replica_is_used_changed_by_the_other(
    replicas: tuple[RunningHub, RunningHub], tmp_path: Path
) -> None:
    first, second = replicas
    a, b = disks(tmp_path)
    admin = first.token()
    with first.client(admin) as api:
        source = api.post("/v1/sources", json={"protocol": "local", "label": "disk", "params": {"path": str(a)}}).json()
        warm(second, admin, b"a\n")
        assert api.patch(f"/v1/sources/{source['id']}", json={"params": {"path": str(b)}}).status_code == 200
    changed = read(second, admin)
    assert changed.status_code == 200 and changed.content == b"b\n"


def test_a_secret_changed_through_one_replica_is_used_changed_by_the_other(
    replicas: tuple[RunningHub, RunningHub], tmp_path: Path
) -> None:
    first, second = replicas
    a, b = disks(tmp_path)
    admin = first.token()
    with first.client(admin) as api:
        api.post(
            "/v1/secrets", json={"id": "paths", "secretType": "generic", "values": {"DISK": str(a)}}
        ).raise_for_status()
        api.post(
            "/v1/sources",
            json={
                "protocol": "local",
                "label": "disk",
                "params": {"path": {"envKey": "DISK"}},
                "envSecretIds": ["paths"],
            },
        ).raise_for_status()
        warm(second, admin, b"a\n")
        assert api.patch("/v1/secrets/paths", json={"values": {"DISK": str(b)}}).status_code == 200
    changed = read(second, admin)
    assert changed.status_code == 200 and changed.content == b"b\n"


def test_a_member_deleted_from_the_organization_is_refused_by_every_replica_on_its_next_request(
    replicas: tuple[RunningHub, RunningHub], tmp_path: Path
) -> None:
    first, second = replicas
    a, _ = disks(tmp_path)
    org = f"org-{uuid.uuid4().hex[:10]}"
    admin = first.token(org=org, user="admin")
    member = first.token(org=org, user="bob", admin=False)
    with first.client(admin) as api:
        api.post(
            "/v1/sources", json={"protocol": "local", "label": "disk", "params": {"path": str(a)}}
        ).raise_for_status()
    warm(first, member, b"a\n")
    warm(second, member, b"a\n")
    with first.hub.store.session() as session:  # no API removes a member yet: the store change any replica would make
        bob = session.scalar(select(User).join(Organization).where(Organization.name == org, User.name == "bob"))
        session.delete(bob)
    assert read(second, member).status_code == 401
    assert read(first, member).status_code == 401
    assert read(second, admin).status_code == 200

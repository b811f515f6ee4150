"""Finding 2: a `local` source can never be pointed at the hub's data dir, by a member or by an admin.

A member PATCHing an admin-made `local` source is refused (admin-only kinds stay admin-only on update); an
admin whose `local` root is, contains or lies inside the data dir gets a 4xx naming the rule; and `master.key`
cannot be downloaded through any of it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.hub import RunningHub

DATA_DIR_RULE = re.compile(r"data[ _-]?dir", re.IGNORECASE)


@pytest.fixture
def org(sqlite_hub: RunningHub) -> str:
    return f"org-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def admin(sqlite_hub: RunningHub, org: str) -> Iterator[httpx.Client]:
    with sqlite_hub.client(sqlite_hub.token(org=org, user="root", admin=True)) as client:
        yield client


@pytest.fixture
def member(sqlite_hub: RunningHub, org: str) -> Iterator[httpx.Client]:
    with sqlite_hub.client(sqlite_hub.token(org=org, user="mia", admin=False)) as client:
        yield client


def local_source(admin: httpx.Client, folder: Path) -> dict[str, object]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ok.txt").write_bytes(b"fine")
    label = f"l{uuid.uuid4().hex[:8]}"
    response = admin.post(
        "/v1/sources", json={"protocol": "local", "label": label, "params": {"path": str(folder)}, "access": "read"}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def master_key_reachable(client: httpx.Client, label: str) -> bool:
    return client.get(f"/v1/connector/local+{label}/master.key").status_code == 200


def test_a_member_cannot_repoint_an_admins_local_source_at_the_data_dir(
    sqlite_hub: RunningHub, admin: httpx.Client, member: httpx.Client, tmp_path: Path
) -> None:
    source = local_source(admin, tmp_path / "shared")
    data_dir = str(sqlite_hub.hub.settings.data_dir)
    response = member.patch(f"/v1/sources/{source['id']}", json={"params": {"path": data_dir}})
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "permission_denied"
    after = admin.get(f"/v1/sources/{source['id']}").json()
    assert after["params"] == source["params"] and after["updatedAt"] == source["updatedAt"]
    assert not master_key_reachable(member, str(source["label"]))
    assert not master_key_reachable(admin, str(source["label"]))


def test_a_member_cannot_delete_or_rename_an_admins_local_source(
    admin: httpx.Client, member: httpx.Client, tmp_path: Path
) -> None:
    source = local_source(admin, tmp_path / "kept")
    assert member.patch(f"/v1/sources/{source['id']}", json={"label": "renamed"}).status_code == 403
    assert member.delete(f"/v1/sources/{source['id']}").status_code == 403
    assert admin.get(f"/v1/sources/{source['id']}").json()["label"] == source["label"]


@pytest.mark.parametrize("where", ["the data dir", "inside the data dir", "a folder containing the data dir"])
def test_an_admin_cannot_create_a_local_source_over_the_data_dir(
    sqlite_hub: RunningHub, admin: httpx.Client, where: str
) -> None:
    data_dir = sqlite_hub.hub.settings.data_dir
    path = {
        "the data dir": data_dir,
        "inside the data dir": data_dir / "hosted",
        "a folder containing the data dir": data_dir.parent,
    }[where]
    label = f"l{uuid.uuid4().hex[:8]}"
    response = admin.post("/v1/sources", json={"protocol": "local", "label": label, "params": {"path": str(path)}})
    assert response.status_code in (400, 422), response.text
    assert DATA_DIR_RULE.search(response.text), response.text
    assert admin.get("/v1/sources").json()["sources"] == []
    assert not master_key_reachable(admin, label)


@pytest.mark.parametrize("where", ["the data dir", "inside the data dir", "a folder containing the data dir"])
def test_an_admin_cannot_repoint_a_local_source_at_the_data_dir(
    sqlite_hub: RunningHub, admin: httpx.Client, tmp_path: Path, where: str
) -> None:
    data_dir = sqlite_hub.hub.settings.data_dir
    path = {
        "the data dir": data_dir,
        "inside the data dir": data_dir / "hosted",
        "a folder containing the data dir": data_dir.parent,
    }[where]
    source = local_source(admin, tmp_path / "mine")
    response = admin.patch(f"/v1/sources/{source['id']}", json={"params": {"path": str(path)}})
    assert response.status_code in (400, 422), response.text
    assert DATA_DIR_RULE.search(response.text), response.text
    assert admin.get(f"/v1/sources/{source['id']}").json()["params"] == source["params"]
    assert not master_key_reachable(admin, str(source["label"]))

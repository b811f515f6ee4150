"""`headwater keys create|list|revoke` against a real hub, and `secrets rotate-master-key` re-sealing key secrets:
the secret is printed once, as shell exports, and never by `list`, `revoke` or an error."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from headwater.cli.main import app
from headwater.errors import AccessKeyUnknown
from headwater.services import access_keys, tokens
from headwater.services.authorization import Narrowing
from headwater.services.hub import Hub
from headwater.settings import Settings
from tests.fixtures.hub import RunningHub


def invoke(running: RunningHub, token: str, *args: str) -> Result:
    env = {
        "HEADWATER_URL": running.url,
        "HEADWATER_TOKEN": token,
        "HEADWATER_MASTER_KEY": "",
        "HEADWATER_DATABASE_URL": "",
        "HEADWATER_BOOTSTRAP_TOKEN": "",
    }
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)


def test_keys_create_prints_the_secret_once_as_exports_and_list_and_revoke_never(sqlite_hub: RunningHub) -> None:
    org = f"cli-keys-{uuid.uuid4().hex[:8]}"
    token = sqlite_hub.token(org=org)
    with sqlite_hub.client(token) as api:
        source = api.post("/v1/sources", json={"protocol": "synthetic", "label": "syn"}).json()
    created = invoke(
        sqlite_hub,
        token,
        "keys",
        "create",
        "--name",
        "laptop",
        "--read-only",
        "--source",
        "synthetic+syn",
        "--prefix",
        "synthetic+syn://people/",
        "--expires-in",
        "1d",
    )
    assert created.exit_code == 0, created.stderr
    lines = created.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith("export AWS_ACCESS_KEY_ID=HW")
    assert lines[1].startswith("export AWS_SECRET_ACCESS_KEY=")
    key_id, secret = lines[0].split("=", 1)[1], lines[1].split("=", 1)[1]
    assert len(key_id) == 20 and len(secret) == 40
    assert key_id in created.stderr and "shown this once" in created.stderr and "read-only" in created.stderr
    assert secret not in created.stderr

    listed = invoke(sqlite_hub, token, "keys", "list")
    assert listed.exit_code == 0 and key_id in listed.stdout and "laptop" in listed.stdout
    as_json = json.loads(invoke(sqlite_hub, token, "keys", "list", "--json").stdout)
    (entry,) = [k for k in as_json if k["accessKeyId"] == key_id]
    assert (
        entry["readOnly"] and entry["sourceIds"] == [source["id"]] and entry["pathPrefix"] == "synthetic+syn://people/"
    )

    revoked = invoke(sqlite_hub, token, "keys", "revoke", key_id)
    assert revoked.exit_code == 0 and f"Revoked access key {key_id}" in revoked.stderr
    again = invoke(sqlite_hub, token, "keys", "revoke", key_id)
    assert again.exit_code == 1 and again.stderr.startswith("error: ") and "Traceback" not in again.stderr
    with pytest.raises(AccessKeyUnknown):
        access_keys.resolve_blocking(sqlite_hub.hub, key_id)
    bad = invoke(sqlite_hub, token, "keys", "create", "--expires-in", "soon")
    assert bad.exit_code == 1 and "expiresIn" in bad.stderr

    everything = [created, listed, revoked, again, bad, invoke(sqlite_hub, token, "keys", "list", "--json")]
    assert sum(r.stdout.count(secret) + r.stderr.count(secret) for r in everything) == 1
    assert all(secret not in line for line in sqlite_hub.logs.lines)


def test_rotate_master_key_reseals_access_key_secrets(tmp_path: Path) -> None:
    settings = Settings.from_env({"HEADWATER_DATA_DIR": str(tmp_path)})
    hub = Hub.open(settings)
    with hub.store.session() as session:
        _, value = tokens.create_token(session, org_name="acme", user_name="a")
    caller = tokens.sign_in(hub, value)
    view, secret = access_keys.create_blocking(hub, caller, name="k", narrowing=Narrowing())
    hub.close()
    env = {"HEADWATER_DATA_DIR": str(tmp_path), "HEADWATER_MASTER_KEY": "", "HEADWATER_DATABASE_URL": ""}
    rotated = CliRunner().invoke(app, ["secrets", "rotate-master-key"], env=env)
    assert rotated.exit_code == 0, rotated.stderr
    assert secret not in rotated.stdout + rotated.stderr
    new_key = settings.master_key_file.read_text().strip()
    only_new = Hub.open(Settings.from_env({"HEADWATER_DATA_DIR": str(tmp_path), "HEADWATER_MASTER_KEY": new_key}))
    try:
        assert access_keys.resolve_blocking(only_new, view.id)[1] == secret
    finally:
        only_new.close()

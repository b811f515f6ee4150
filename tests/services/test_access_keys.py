"""S3 access keys: narrowed like the token that issues them and never broader, revoked and expired at once
(even with the resolution cached), their secrets sealed in the store and re-sealed by master-key rotation."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from headwater.errors import AccessKeyExpired, AccessKeyUnknown, NotFound, PermissionDenied, Unauthenticated
from headwater.services import access_keys, tokens
from headwater.services import secrets as secrets_service
from headwater.services.authorization import Narrowing
from headwater.services.context import Caller
from headwater.store.models import now
from headwater.vault import key_id
from tests.fixtures.hub import RunningHub, start_hub
from tests.fixtures.loops import run_coroutine


def caller_of(running: RunningHub, org: str, user: str = "alice", admin: bool = False, **narrowing: object) -> Caller:
    return tokens.sign_in(running.hub, running.token(org=org, user=user, admin=admin, **narrowing))


def new_org() -> str:
    return f"keys-{uuid.uuid4().hex[:10]}"


def create(running: RunningHub, caller: Caller, **narrowing: object) -> tuple[access_keys.AccessKeyView, str]:
    return run_coroutine(
        access_keys.create(running.hub, caller, name="laptop", narrowing=Narrowing(**narrowing))  # type: ignore[arg-type]
    )


def resolve(running: RunningHub, key: str) -> tuple[Caller, str]:
    return run_coroutine(access_keys.resolve(running.hub, key))


def test_a_key_has_an_aws_shaped_id_and_secret_and_resolves_to_its_own_narrowed_caller(sqlite_hub: RunningHub) -> None:
    owner = caller_of(sqlite_hub, new_org(), admin=True)
    view, secret = create(sqlite_hub, owner, read_only=True)
    assert len(view.id) == 20 and view.id.startswith("HW") and view.id.isupper() and view.id.isalnum()
    assert len(secret) == 40
    acting, resolved_secret = resolve(sqlite_hub, view.id)
    assert resolved_secret == secret
    assert acting.token_id == view.token_id != owner.token_id
    assert (acting.org_id, acting.user_id) == (owner.org_id, owner.user_id)
    assert acting.read_only and not acting.admin  # an admin's key is never an admin


def test_a_narrowed_token_s_key_inherits_every_narrowing(sqlite_hub: RunningHub) -> None:
    until = now() + timedelta(hours=1)
    narrowed = caller_of(
        sqlite_hub,
        new_org(),
        read_only=True,
        source_ids=("s-1", "s-2"),
        path_prefix="s3+lake://b/team/",
        expires_at=until,
    )
    view, _ = create(sqlite_hub, narrowed)
    assert view.read_only and view.source_ids == ("s-1", "s-2") and view.path_prefix == "s3+lake://b/team/"
    assert view.expires_at == until
    acting, _ = resolve(sqlite_hub, view.id)
    assert acting.read_only and acting.source_ids == ("s-1", "s-2") and acting.path_prefix == "s3+lake://b/team/"
    assert acting.expires_at == until
    narrower, _ = create(sqlite_hub, narrowed, source_ids=("s-1",), path_prefix="s3+lake://b/team/sub/")
    assert narrower.source_ids == ("s-1",) and narrower.path_prefix == "s3+lake://b/team/sub/"


@pytest.mark.parametrize(
    "wanted",
    [
        {"source_ids": ("s-1", "s-3")},
        {"path_prefix": "s3+lake://b/other/"},
        {"expires_at": now() + timedelta(days=30)},
    ],
    ids=["more sources", "another prefix", "longer-lived"],
)
def test_a_key_is_never_broader_than_the_token_that_issues_it(
    sqlite_hub: RunningHub, wanted: dict[str, object]
) -> None:
    narrowed = caller_of(
        sqlite_hub,
        new_org(),
        source_ids=("s-1", "s-2"),
        path_prefix="s3+lake://b/team/",
        expires_at=now() + timedelta(days=1),
    )
    with pytest.raises(PermissionDenied):
        create(sqlite_hub, narrowed, **wanted)


def test_a_revoked_key_is_unknown_at_once_even_with_its_resolution_cached(sqlite_hub: RunningHub) -> None:
    owner = caller_of(sqlite_hub, new_org())
    view, _ = create(sqlite_hub, owner)
    resolve(sqlite_hub, view.id)
    assert sqlite_hub.hub.access_keys.get(view.id) is not None  # warm
    run_coroutine(access_keys.revoke(sqlite_hub.hub, owner, view.id))
    with pytest.raises(AccessKeyUnknown):
        resolve(sqlite_hub, view.id)
    assert [k.id for k in run_coroutine(access_keys.list_keys(sqlite_hub.hub, owner))] == []


def test_revoking_the_backing_token_elsewhere_is_honoured_through_the_warm_cache(sqlite_hub: RunningHub) -> None:
    """Another process revokes the key's token (or an ancestor): this process's cache entry is refused by the stamp."""
    owner_token = sqlite_hub.token(org=new_org(), admin=False)
    owner = tokens.sign_in(sqlite_hub.hub, owner_token)
    view, _ = create(sqlite_hub, owner)
    resolve(sqlite_hub, view.id)
    tokens.revoke_token(sqlite_hub.hub, owner, owner.token_id)  # the parent: its children die with it
    assert sqlite_hub.hub.access_keys.get(view.id) is not None  # still cached, but its stamp is old
    with pytest.raises(AccessKeyUnknown):
        resolve(sqlite_hub, view.id)


def test_an_expired_key_is_refused_as_expired(sqlite_hub: RunningHub) -> None:
    owner = caller_of(sqlite_hub, new_org())
    view, _ = create(sqlite_hub, owner, expires_at=now() + timedelta(seconds=1.5))
    resolve(sqlite_hub, view.id)
    time.sleep(max(0.0, (view.expires_at - now()).total_seconds()) + 0.1)  # type: ignore[operator]
    with pytest.raises(AccessKeyExpired):
        resolve(sqlite_hub, view.id)


@pytest.mark.parametrize("presented", ["HWAAAAAAAAAAAAAAAAAA", "AKIAIOSFODNN7EXAMPLE", "", "hw" + "a" * 18, "x" * 5000])
def test_an_unknown_or_malformed_key_id_is_unknown(sqlite_hub: RunningHub, presented: str) -> None:
    with pytest.raises(AccessKeyUnknown):
        resolve(sqlite_hub, presented)


def test_members_see_and_revoke_their_own_keys_and_admins_the_organization_s(sqlite_hub: RunningHub) -> None:
    org = new_org()
    alice, bob = caller_of(sqlite_hub, org, "alice"), caller_of(sqlite_hub, org, "bob")
    admin = caller_of(sqlite_hub, org, "root", admin=True)
    a, _ = create(sqlite_hub, alice)
    b, _ = create(sqlite_hub, bob)

    def listed(caller: Caller) -> set[str]:
        return {k.id for k in run_coroutine(access_keys.list_keys(sqlite_hub.hub, caller))}

    assert listed(alice) == {a.id} and listed(bob) == {b.id} and listed(admin) == {a.id, b.id}
    assert listed(caller_of(sqlite_hub, new_org(), admin=True)) == set()
    with pytest.raises(NotFound):
        run_coroutine(access_keys.revoke(sqlite_hub.hub, alice, b.id))
    resolve(sqlite_hub, b.id)  # untouched
    run_coroutine(access_keys.revoke(sqlite_hub.hub, admin, b.id))
    with pytest.raises(AccessKeyUnknown):
        resolve(sqlite_hub, b.id)


def test_the_secret_is_sealed_in_the_store_never_plaintext(sqlite_hub: RunningHub) -> None:
    view, secret = create(sqlite_hub, caller_of(sqlite_hub, new_org()))
    with sqlite_hub.hub.store.engine.connect() as connection:
        row = connection.execute(text("SELECT * FROM access_keys WHERE id = :id"), {"id": view.id}).mappings().one()
    stored = " ".join(str(value) for value in row.values())
    assert secret not in stored
    assert row["ciphertext"].startswith("v1:")
    assert sqlite_hub.hub.vault.open_access_key(row["ciphertext"], org_id=row["org_id"], key_id=view.id) == secret


def test_master_key_rotation_reseals_access_key_secrets(tmp_path: Path) -> None:
    running = start_hub(tmp_path / "hub")
    try:
        view, secret = create(running, caller_of(running, new_org()))
        old = running.hub.vault.keyring.primary
        secrets_service.rotate_master_key(running.hub.store, running.hub.vault)
        with running.hub.store.engine.connect() as connection:
            sealed = connection.execute(
                text("SELECT ciphertext FROM access_keys WHERE id = :id"), {"id": view.id}
            ).one()[0]
        assert running.hub.vault.key_id_of(sealed) == key_id(running.hub.vault.keyring.primary) != key_id(old)
        running.hub.access_keys.clear()
        assert resolve(running, view.id)[1] == secret
    finally:
        running.stop()


def test_key_refusals_are_401s_of_the_one_error_hierarchy() -> None:
    for error in (AccessKeyUnknown("unknown"), AccessKeyExpired("expired")):
        assert isinstance(error, Unauthenticated) and error.status == 401
    assert AccessKeyUnknown.code != AccessKeyExpired.code  # the S3 side tells InvalidAccessKeyId from ExpiredToken

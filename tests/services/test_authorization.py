"""Specification of the one authorization module: what each kind of caller may do."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

import headwater
from headwater.connectors import catalogue
from headwater.errors import InvalidInput, NotFound, PermissionDenied
from headwater.services import authorization
from headwater.services.authorization import Action, Narrowing
from headwater.services.context import Caller

ORG = "org-1"


def caller(**kw: object) -> Caller:
    base: dict[str, object] = {
        "org_id": ORG,
        "org_name": "acme",
        "user_id": "u1",
        "user_name": "alice",
        "token_id": "t1",
    }
    return Caller(**{**base, **kw})  # type: ignore[arg-type]


def source(
    id: str = "s1", protocol: str = "s3", label: str = "lake", org_id: str = ORG, **kw: object
) -> SimpleNamespace:
    fields: dict[str, object] = {"secret_id": None, "env_secret_ids": [], "access": "read", "path_restrictions": ["*"]}
    return SimpleNamespace(id=id, protocol=protocol, label=label, org_id=org_id, **{**fields, **kw})


MEMBER = caller()
ADMIN = caller(admin=True)
READ_ONLY = caller(read_only=True)
SOURCES = caller(source_ids=("s1",))
PREFIX = caller(path_prefix="s3+lake://bucket/team/")
NARROWED = [READ_ONLY, SOURCES, PREFIX]


@pytest.mark.parametrize("who", [MEMBER, ADMIN])
def test_full_tokens_may_configure_test_run_and_connect(who: Caller) -> None:
    for action in Action:
        authorization.require(who, action, "things")


@pytest.mark.parametrize("who", NARROWED)
def test_narrowed_tokens_never_configure_or_open_ad_hoc_connections(who: Caller) -> None:
    for action in (Action.CONFIGURE, Action.CONNECT):
        with pytest.raises(PermissionDenied):
            authorization.require(who, action, "things")
    authorization.require(who, Action.VIEW, "things")


def test_a_read_only_token_cannot_test_or_run_but_a_source_narrowed_one_can() -> None:
    for action in (Action.TEST, Action.RUN):
        with pytest.raises(PermissionDenied, match="read-only"):
            authorization.require(READ_ONLY, action, "things")
        authorization.require(SOURCES, action, "things")


def test_admin_only_kinds_are_refused_to_members_on_create_and_update(tmp_path: Path) -> None:
    local = catalogue.get("local")
    with pytest.raises(PermissionDenied, match="administrator"):
        authorization.may_configure_source(MEMBER, local, {"path": str(tmp_path)}, tmp_path / "hub")
    authorization.may_configure_source(ADMIN, local, {"path": str(tmp_path / "files")}, tmp_path / "hub")


@pytest.mark.parametrize("root", ["hub", "hub/hosted", "hub/hosted/../..", "."])
def test_a_local_root_may_not_be_inside_or_contain_the_data_dir(tmp_path: Path, root: str) -> None:
    with pytest.raises(InvalidInput, match="data dir"):
        authorization.may_configure_source(
            ADMIN, catalogue.get("local"), {"path": str(tmp_path / root)}, tmp_path / "hub"
        )


def test_a_source_narrowed_token_sees_only_its_sources() -> None:
    assert authorization.source_visible(SOURCES, source("s1"))
    assert not authorization.source_visible(SOURCES, source("s2"))
    assert authorization.source_visible(MEMBER, source("s2"))


def test_a_prefix_narrowed_token_sees_only_the_connection_of_its_prefix() -> None:
    assert authorization.source_visible(PREFIX, source("s1", "s3", "lake"))
    assert not authorization.source_visible(PREFIX, source("s2", "s3", "other"))
    assert not authorization.source_visible(caller(path_prefix="data://.my/team/"), source("s1"))


def test_nothing_of_another_organization_is_visible() -> None:
    assert not authorization.source_visible(ADMIN, source(org_id="org-2"))


def test_a_narrowed_token_sees_only_secrets_its_sources_use() -> None:
    users = [source("s1", secret_id="key-1"), source("s2", secret_id="key-2")]
    assert authorization.secret_visible(SOURCES, "key-1", users)
    assert not authorization.secret_visible(SOURCES, "key-2", users)
    assert authorization.secret_visible(MEMBER, "key-2", users)


def test_hosted_data_is_refused_to_a_source_narrowed_token() -> None:
    with pytest.raises(PermissionDenied, match="hosted data"):
        authorization.hosted_rights(SOURCES)
    rights = authorization.hosted_rights(caller(source_ids=(), path_prefix="data://.my/out/"))
    assert rights.token_prefix == "out/"


def test_a_source_narrowed_token_cannot_send_a_job_to_hosted_data() -> None:
    with pytest.raises(PermissionDenied, match="hosted data"):
        authorization.job_prefix("data://acme/out/", SOURCES)


LATER = datetime.now(UTC) + timedelta(hours=1)


def test_a_child_inherits_its_parents_expiry_and_may_not_outlive_it() -> None:
    parent = caller(expires_at=LATER)
    assert authorization.child_narrowing(parent, admin=False, other_user=False, wanted=Narrowing()).expires_at == LATER
    with pytest.raises(PermissionDenied, match="outlive"):
        authorization.child_narrowing(
            parent, admin=False, other_user=False, wanted=Narrowing(expires_at=LATER + timedelta(seconds=1))
        )


def test_a_child_is_never_broader_than_its_parent() -> None:
    with pytest.raises(PermissionDenied):
        authorization.child_narrowing(READ_ONLY, admin=False, other_user=False, wanted=Narrowing())
    with pytest.raises(PermissionDenied):
        authorization.child_narrowing(SOURCES, admin=False, other_user=False, wanted=Narrowing(source_ids=("s1", "s2")))
    with pytest.raises(PermissionDenied):
        authorization.child_narrowing(
            PREFIX, admin=False, other_user=False, wanted=Narrowing(path_prefix="s3+lake://bucket/")
        )
    with pytest.raises(PermissionDenied):
        authorization.child_narrowing(MEMBER, admin=True, other_user=False, wanted=Narrowing())
    with pytest.raises(PermissionDenied):
        authorization.child_narrowing(
            caller(admin=True, read_only=True), admin=True, other_user=False, wanted=Narrowing(read_only=True)
        )
    ok = authorization.child_narrowing(
        PREFIX, admin=False, other_user=False, wanted=Narrowing(path_prefix="s3+lake://bucket/team/a/")
    )
    assert ok.path_prefix == "s3+lake://bucket/team/a/"


segment = st.text(alphabet="abc", min_size=1, max_size=3)


@given(st.lists(segment, min_size=1, max_size=4), st.lists(segment, min_size=1, max_size=4))
def test_a_prefix_child_is_granted_exactly_when_it_lies_under_the_parents_prefix(
    parent: list[str], child: list[str]
) -> None:
    parent_prefix, child_prefix = "s3+lake://" + "/".join(parent) + "/", "s3+lake://" + "/".join(child) + "/"
    who = caller(path_prefix=parent_prefix)
    wanted = Narrowing(path_prefix=child_prefix)
    if child_prefix.startswith(parent_prefix):
        authorization.child_narrowing(who, admin=False, other_user=False, wanted=wanted)
    else:
        with pytest.raises(PermissionDenied):
            authorization.child_narrowing(who, admin=False, other_user=False, wanted=wanted)


def test_audit_scope_is_the_organization_the_user_or_the_token() -> None:
    assert authorization.audit_scope(ADMIN) == authorization.AuditScope(ORG)
    assert authorization.audit_scope(MEMBER) == authorization.AuditScope(ORG, user_id="u1")
    for who in NARROWED:
        assert authorization.audit_scope(who) == authorization.AuditScope(ORG, token_id="t1")


def test_an_invisible_source_has_no_data_rights() -> None:
    with pytest.raises(NotFound):
        authorization.source_rights(SOURCES, source("s2"), catalogue.get("s3"), "s3+lake")  # type: ignore[arg-type]


# -- the one place: nothing outside `services/authorization.py` reads a caller's rights to decide --

RIGHT_FIELDS = {"admin", "read_only", "source_ids", "path_prefix", "expires_at"}
#: Places that show a caller its own narrowing (presentation, not decisions).
PRESENTATION = {"api/routers/tokens.py", "api/portal/router.py"}


def _reads_of_rights(tree: ast.AST) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.ctx, ast.Load)
        and node.attr in RIGHT_FIELDS
        and isinstance(node.value, ast.Name)
        and node.value.id in {"caller", "creator", "who", "identity_caller"}
    ]


def test_no_module_but_authorization_reads_a_callers_rights() -> None:
    package = Path(headwater.__file__).parent
    offenders: list[str] = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package).as_posix()
        if relative in PRESENTATION | {"services/authorization.py"}:
            continue
        offenders += [f"{relative}:{line}" for line in _reads_of_rights(ast.parse(path.read_text()))]
    assert offenders == [], f"rights decided outside services/authorization.py: {offenders}"


def test_the_rights_scan_finds_a_decision_when_there_is_one() -> None:
    assert _reads_of_rights(ast.parse("if caller.read_only:\n    pass\n")) == [1]

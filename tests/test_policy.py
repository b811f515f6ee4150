"""Specification of path restrictions and access modes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headwater import policy
from headwater.errors import InvalidInput, NotSupported, PermissionDenied
from headwater.policy import Access, Operation, Rights


def test_exact_pattern_is_that_one_file() -> None:
    assert policy.allowed("bucket/team.jpg", ["bucket/team.jpg"])
    assert not policy.allowed("bucket/team.jpg2", ["bucket/team.jpg"])
    assert not policy.allowed("bucket/other.jpg", ["bucket/team.jpg"])


def test_star_suffix_matches_everything_below_folder() -> None:
    assert policy.allowed("bucket/a", ["bucket/*"])
    assert policy.allowed("bucket/deep/down/x", ["bucket/*"])


def test_folder_star_does_not_match_a_sibling_with_the_same_prefix() -> None:
    assert not policy.allowed("bucket-evil/a", ["bucket/*"])
    assert not policy.allowed("bucket", ["bucket/*"])


def test_bare_star_suffix_matches_every_path_starting_with_it() -> None:
    assert policy.allowed("bucket-evil/a", ["bucket*"])
    assert policy.allowed("bucket", ["bucket*"])
    assert not policy.allowed("buck", ["bucket*"])


def test_star_alone_matches_everything() -> None:
    assert policy.allowed("", ["*"]) and policy.allowed("any/thing", ["*"])


def test_star_in_the_middle_is_refused() -> None:
    with pytest.raises(InvalidInput):
        policy.validate_pattern("bucket/*/x")


def test_patterns_with_traversal_are_refused() -> None:
    with pytest.raises(InvalidInput):
        policy.validate_pattern("bucket/../*")


def test_listing_the_way_to_an_allowed_file_is_allowed_but_shows_only_reachable_entries() -> None:
    patterns = ["bucket/team/*"]
    assert policy.reachable("", patterns) and policy.reachable("bucket", patterns)
    assert not policy.reachable("other", patterns)
    assert policy.visible("bucket", "team", True, patterns)
    assert not policy.visible("bucket", "payroll", True, patterns)
    assert not policy.visible("bucket", "team.csv", False, patterns)


def rights(**kw: object) -> Rights:
    base: dict[str, object] = {"access": Access.READ, "restrictions": ("*",)}
    base.update(kw)
    return Rights(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("op", [Operation.WRITE, Operation.DELETE, Operation.MKDIR])
def test_read_access_refuses_every_writing_operation(op: Operation) -> None:
    with pytest.raises(PermissionDenied, match="read-only"):
        policy.authorize(op, "bucket/x", rights())


def test_read_write_access_allows_writes_inside_restrictions_only() -> None:
    r = rights(access=Access.READ_WRITE, restrictions=("bucket/*",))
    policy.authorize(Operation.WRITE, "bucket/x", r)
    with pytest.raises(PermissionDenied, match="path restrictions"):
        policy.authorize(Operation.WRITE, "bucket-evil/x", r)


def test_input_only_kinds_refuse_writes_and_output_only_kinds_refuse_reads() -> None:
    with pytest.raises(NotSupported):
        policy.authorize(Operation.WRITE, "x", rights(access=Access.READ_WRITE, writable=False))
    with pytest.raises(NotSupported):
        policy.authorize(Operation.READ, "x", rights(readable=False))


def test_read_only_token_refuses_writes_even_on_read_write_connection() -> None:
    with pytest.raises(PermissionDenied, match="token is read-only"):
        policy.authorize(Operation.WRITE, "x", rights(access=Access.READ_WRITE, token_read_only=True))


def test_token_prefix_confines_reads() -> None:
    r = rights(token_prefix="bucket/team/")
    policy.authorize(Operation.READ, "bucket/team/a", r)
    policy.authorize(Operation.LIST, "bucket", r)
    with pytest.raises(PermissionDenied):
        policy.authorize(Operation.READ, "bucket/teammate", r)


names = st.text(alphabet="ab-/*", min_size=1, max_size=10)


@settings(max_examples=500, deadline=None)
@given(pattern=st.text(alphabet="ab-/", min_size=1, max_size=8), path=st.text(alphabet="ab-/", min_size=0, max_size=12))
def test_folder_star_pattern_is_exactly_the_paths_below_that_folder(pattern: str, path: str) -> None:
    folder = pattern.strip("/")
    if not folder or "//" in folder:
        return
    assert policy.matches(folder + "/*", path) == path.startswith(folder + "/")


@settings(max_examples=500, deadline=None)
@given(pattern=st.text(alphabet="ab-/", min_size=1, max_size=8), path=st.text(alphabet="ab-/", min_size=0, max_size=12))
def test_whatever_is_allowed_is_also_reachable_for_listing(pattern: str, path: str) -> None:
    for p in (pattern, pattern + "*"):
        if policy.matches(p, path):
            assert policy.may_reach(p, path)


def test_output_only_kinds_may_still_be_listed() -> None:
    policy.authorize(Operation.LIST, "out", rights(readable=False))

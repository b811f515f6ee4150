"""Specification of the one address parser: what it accepts, and that nothing it accepts escapes a root."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headwater.addresses import Address, decode_path, normalise_path, parse_address, parse_connection
from headwater.errors import InvalidInput


def test_connection_address_splits_protocol_label_and_path() -> None:
    assert parse_address("s3+prod://bucket/dir/file.csv") == Address("s3", "prod", "bucket/dir/file.csv")


def test_hosted_address_keeps_the_organization_as_first_segment() -> None:
    assert parse_address("data://acme/coll/f.txt") == Address("data", None, "acme/coll/f.txt")


def test_bare_path_is_hosted_data() -> None:
    assert parse_address("/acme/coll/f.txt") == Address("data", None, "acme/coll/f.txt")


def test_single_slash_form_is_accepted_as_proxies_merge_slashes() -> None:
    assert parse_address("s3+prod:/bucket/key") == Address("s3", "prod", "bucket/key")


def test_protocol_without_label_means_the_default_connection() -> None:
    assert parse_address("s3://bucket/key").label == "default"


def test_trailing_slash_marks_a_directory() -> None:
    address = parse_address("s3+prod://bucket/dir/")
    assert address.path == "bucket/dir" and address.is_dir


def test_root_of_a_connection_is_the_empty_path() -> None:
    assert parse_address("s3+prod://").path == ""


def test_address_renders_back_to_its_text() -> None:
    assert str(parse_address("s3+prod://bucket/x y+ü.txt")) == "s3+prod://bucket/x y+ü.txt"


@pytest.mark.parametrize(
    "text",
    [
        "s3+prod://bucket/../other",
        "s3+prod://bucket/./x",
        "s3+prod://bucket//x",
        "s3+prod://bucket\\x",
        "s3+prod://bucket/a\x00b",
        "s3+prod://bucket/a\nb",
        "s3+prod://bucket/\uff0e\uff0e/x",
        "s3+PROD://bucket",
        "data+x://acme/c",
        "s3+prod://" + "a" * 256,
        "s3+prod://" + "/".join(["abcdefgh"] * 200),
    ],
)
def test_paths_that_could_escape_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_address(text)


@pytest.mark.parametrize("raw", ["a%2Fb", "a%2fb", "a%5Cb", "a%00b", "%C3%28"])
def test_encoded_separators_nul_and_bad_utf8_are_refused_before_decoding(raw: str) -> None:
    with pytest.raises(InvalidInput):
        decode_path(raw)


def test_percent_decoding_happens_once_and_keeps_plus() -> None:
    assert decode_path("x%20y+%C3%BC%2541") == "x y+ü%41"


def test_connection_part_of_the_connector_route() -> None:
    assert parse_connection("s3+prod") == ("s3", "prod")
    assert parse_connection("data") == ("data", None)
    with pytest.raises(InvalidInput):
        parse_connection("s3+Bad Label")


segment = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), min_codepoint=0, max_codepoint=0x2FFF), min_size=0, max_size=20
)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.one_of(segment, st.sampled_from(["..", ".", "", "\\", "%2F", "\uff0e\uff0e", "a/../b"])), max_size=8)
)
def test_no_accepted_path_lies_outside_the_root(segments: list[str]) -> None:
    raw = "/".join(segments)
    try:
        path, _ = normalise_path(decode_path(raw))
    except InvalidInput:
        return
    root = PurePosixPath("/root")
    joined = root / path if path else root
    # Purely lexical: the normalised path never climbs out of the root, and has no dot segments.
    assert ".." not in PurePosixPath(path).parts
    assert "." not in path.split("/")
    assert str(joined).startswith("/root")
    assert "\\" not in path and "\x00" not in path


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="abcxyz-_.0123456789", min_size=1, max_size=8), min_size=1, max_size=5))
def test_plain_names_round_trip(segments: list[str]) -> None:
    if any(s in {".", ".."} for s in segments):
        return
    path = "/".join(segments)
    assert parse_address(f"s3+lab://{path}").path == path


def test_upper_case_protocols_are_normalised_to_lowercase() -> None:
    assert parse_address("S3+lake://my_bucket/my_file.csv") == Address("s3", "lake", "my_bucket/my_file.csv")
    assert parse_address("DATA://acme/c/f") == Address("data", None, "acme/c/f")
    assert parse_connection("Postgres+db") == ("postgres", "db")


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["s3", "aws", "gcp", "storj", "url", "postgres", "mysql", "local", "data"]).flatmap(
        lambda name: st.tuples(st.just(name), st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
    ),
    st.lists(st.text(alphabet="abcxyz-_.0123456789", min_size=1, max_size=8), max_size=4),
)
def test_protocols_are_case_insensitive(protocol_case: tuple[str, list[bool]], segments: list[str]) -> None:
    protocol, upper = protocol_case
    written = "".join(c.upper() if u else c for c, u in zip(protocol, upper, strict=True))
    if any(s in {".", ".."} for s in segments):
        return
    path = "/".join(segments)
    label = "" if protocol == "data" else "+lake"
    assert parse_address(f"{written}{label}://{path}") == parse_address(f"{protocol}{label}://{path}")
    assert str(parse_address(f"{written}{label}://{path}")).startswith(f"{protocol}")
    if protocol != "data":
        assert parse_connection(f"{written}+lake") == (protocol, "lake")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("s3+lake//bucket/x", "missing the ':' after 's3+lake': write s3+lake://bucket/x"),
        ("s3+lake:bucket/x", "needs '://' after 's3+lake': write s3+lake://bucket/x"),
        ("s3-lake://bucket/x", "invalid scheme"),
    ],
)
def test_a_malformed_scheme_says_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(says)):
        parse_address(text)


# -- `.my`: the caller's organization ----------------------------------------------------------

org_name = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,62}", fullmatch=True)
plain_segments = st.lists(st.text(alphabet="abcxyz-_0123456789", min_size=1, max_size=8), max_size=4)


@pytest.mark.parametrize(
    ("text", "resolved"),
    [
        ("data://.my/coll/a.csv", "data://acme/coll/a.csv"),
        ("data://.my/coll/", "data://acme/coll/"),
        ("data://.my/", "data://acme/"),
        ("data://.my", "data://acme"),
        (".my/coll/a.csv", "data://acme/coll/a.csv"),
        ("data://other/coll/a.csv", "data://other/coll/a.csv"),
        ("data://coll/.my/a.csv", "data://coll/.my/a.csv"),  # only the organization segment is the alias
        ("data://.mine/a", "data://.mine/a"),
        ("s3+lake://.my/a", "s3+lake://.my/a"),  # a bucket named `.my` is just a bucket
    ],
)
def test_my_is_the_callers_organization_in_hosted_addresses_only(text: str, resolved: str) -> None:
    assert str(parse_address(text).resolve_my("acme")) == resolved


@settings(max_examples=300, deadline=None)
@given(org_name, plain_segments, st.booleans())
def test_resolving_my_is_writing_the_organization(org: str, segments: list[str], is_dir: bool) -> None:
    path = "/".join(segments)
    suffix = "/" if is_dir and path else ""
    mine = parse_address(f"data://.my/{path}{suffix}" if path else "data://.my")
    spelled = parse_address(f"data://{org}/{path}{suffix}" if path else f"data://{org}")
    resolved = mine.resolve_my(org)
    assert resolved == spelled
    assert resolved.resolve_my(org) == resolved  # resolving twice changes nothing
    assert parse_address(str(resolved)) == resolved  # the result is a normalised address


@settings(max_examples=200, deadline=None)
@given(org_name, st.sampled_from(["s3+lake", "postgres+db", "local+in"]), plain_segments)
def test_connection_addresses_never_change(org: str, connection: str, segments: list[str]) -> None:
    address = parse_address(f"{connection}://.my/{'/'.join(segments)}")
    assert address.resolve_my(org) == address


def test_no_module_but_the_parser_resolves_my() -> None:
    """The alias is spelled in `headwater.addresses` alone (elsewhere only inside ACL strings such as `algo://.my/*`)."""
    package = Path(__file__).resolve().parents[1] / "headwater"
    offenders = []
    for module in package.rglob("*.py"):
        if module.name == "addresses.py" and module.parent == package:
            continue
        for number, line in enumerate(module.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if re.search(r"""["']\.my["'/]""", code):
                offenders.append(f"{module.relative_to(package)}:{number}: {line.strip()}")
    assert offenders == []

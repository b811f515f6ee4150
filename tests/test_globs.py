"""The glob matcher: the same answers as a regular-expression reference on small inputs, in linear steps."""

from __future__ import annotations

import re
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headwater.errors import InvalidInput
from headwater.globs import MAX_GLOB_CHARS, MAX_GLOBSTARS, Glob, _parse, compile_glob


def reference(pattern: str) -> re.Pattern[str]:
    """The regular expression the hub used to compile globs to (classes kept within a segment)."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            close = pattern.find("]", i + 1)
            body = pattern[i + 1 : close]
            out.append("(?!/)[^" + body[1:] + "]" if body.startswith("!") else "(?!/)[" + body + "]")
            i = close
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL)


ALPHABET = "ab./"
pieces = st.sampled_from(["a", "b", ".", "/", "*", "?", "**", "**/", "[ab]", "[!a]", "[a-c]"])
patterns = st.lists(pieces, max_size=7).map("".join)
paths = st.text(alphabet=ALPHABET, max_size=12)


@settings(max_examples=3000, deadline=None)
@given(patterns, paths)
def test_a_glob_answers_as_the_regular_expression_reference_does(pattern: str, path: str) -> None:
    expected = reference(pattern).fullmatch(path) is not None
    assert compile_glob(pattern).match(path) == expected
    assert Glob(pattern, _parse(pattern)).match_counting(path)[0] == expected


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("*.csv", "a.csv", True),
        ("*.csv", "raw/a.csv", False),
        ("**/*.csv", "a.csv", True),
        ("**/*.csv", "raw/deep/a.csv", True),
        ("raw/**", "raw/a/b", True),
        ("?.txt", "a.txt", True),
        ("?.txt", "/.txt", False),
        ("[0-9].csv", "7.csv", True),
        ("[!0-9].csv", "x.csv", True),
        ("[!0-9].csv", "/.csv", False),
        ("[^0-9].csv", "3.csv", False),
        ("a**b", "a/x/b", True),
    ],
)
def test_wildcards_keep_their_documented_meaning(pattern: str, path: str, expected: bool) -> None:
    assert compile_glob(pattern).match(path) is expected


@pytest.mark.timeout(30)
def test_sixteen_levels_of_globstar_against_a_deep_non_matching_path_cost_linear_steps() -> None:
    pattern = "**/" * 16 + "x.csv"
    counts = []
    for depth in (50, 100, 200, 400):
        fresh = Glob(pattern, _parse(pattern))  # no cached states: the worst case for every character
        matched, steps = fresh.match_counting("a/" * depth + "y.csv")
        assert not matched
        counts.append(steps)
        assert steps <= (2 * depth + 6) * 4 * (len(fresh.nodes) + 1)
    # doubling the path at most doubles the work (plus a constant): linear, not exponential
    for shorter, longer in pairwise(counts):
        assert longer <= 2 * shorter + 100


def test_a_warm_glob_takes_one_step_per_character() -> None:
    glob = compile_glob("**/" * 16 + "*.csv")
    path = "d/" * 300 + "y.parquet"
    glob.match(path)
    assert glob.match_counting(path)[1] <= len(path) + 64


@pytest.mark.parametrize(
    ("pattern", "named"),
    [
        ("a" * (MAX_GLOB_CHARS + 1), f"{MAX_GLOB_CHARS} characters"),
        ("**/" * (MAX_GLOBSTARS + 1), f"{MAX_GLOBSTARS} '**'"),
        ("[abc", "unclosed"),
        ("[]x", "empty character class"),
        ("[!]x", "empty character class"),
        ("[z-a]", "reversed range"),
    ],
)
def test_a_glob_beyond_its_bounds_or_malformed_is_refused_naming_why(pattern: str, named: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(named)):
        compile_glob(pattern)

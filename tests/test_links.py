"""Signed links: what a link grants, and that anything else is refused as invalid (never a crash)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from headwater.errors import LinkExpired, LinkInvalid
from headwater.links import AREAS, Signer

SIGNER = Signer(b"k" * 32)
AREA = sorted(AREAS)[0]


def test_a_signed_link_verifies_to_its_path() -> None:
    token = SIGNER.sign(f"{AREA}/report.csv", datetime.now(UTC) + timedelta(minutes=5))
    assert SIGNER.verify(token).path == f"{AREA}/report.csv"


def test_an_expired_link_is_refused_as_expired() -> None:
    token = SIGNER.sign(f"{AREA}/report.csv", datetime.now(UTC) + timedelta(seconds=1))
    with pytest.raises(LinkExpired):
        SIGNER.verify(token, now=datetime.now(UTC) + timedelta(minutes=1))


def test_a_link_signed_with_another_key_is_invalid() -> None:
    token = Signer(b"o" * 32).sign(f"{AREA}/report.csv", datetime.now(UTC) + timedelta(minutes=5))
    with pytest.raises(LinkInvalid):
        SIGNER.verify(token)


@given(st.text())
def test_any_other_text_is_refused_as_invalid_never_a_crash(token: str) -> None:
    with pytest.raises(LinkInvalid):
        SIGNER.verify(token)


@given(st.text(min_size=1))
def test_a_non_ascii_signature_is_invalid(mac: str) -> None:
    payload = SIGNER.sign(f"{AREA}/report.csv", datetime.now(UTC) + timedelta(minutes=5)).partition(".")[0]
    with pytest.raises(LinkInvalid):
        SIGNER.verify(f"{payload}.é{mac}")

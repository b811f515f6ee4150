"""The one way moments are written: ISO 8601 in UTC with a Z."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from headwater.errors import InvalidInput
from headwater.times import iso, parse_duration


def test_an_aware_moment_is_written_in_utc_with_a_z() -> None:
    moment = datetime(2026, 1, 2, 5, 4, 5, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert iso(moment) == "2026-01-02T03:04:05.123456Z"


def test_a_utc_moment_keeps_its_wall_time() -> None:
    assert iso(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05Z"


def test_no_moment_is_written_as_none() -> None:
    assert iso(None) is None


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("90s", 90), ("30m", 1800), ("12h", 43200), ("1d", 86400), ("2W", 1209600)]
)
def test_a_length_of_time_is_read_in_its_unit(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "d", "1y", "-1d", "0", "1.5h", "99999w", "1d2h"])
def test_a_length_of_time_that_is_not_one_is_refused_by_name(text: str) -> None:
    with pytest.raises(InvalidInput, match="expiresIn"):
        parse_duration(text, "expiresIn")

"""The one way moments are written: ISO 8601 in UTC with a Z."""

from datetime import UTC, datetime, timedelta, timezone

from headwater.times import iso


def test_an_aware_moment_is_written_in_utc_with_a_z() -> None:
    moment = datetime(2026, 1, 2, 5, 4, 5, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert iso(moment) == "2026-01-02T03:04:05.123456Z"


def test_a_utc_moment_keeps_its_wall_time() -> None:
    assert iso(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05Z"


def test_no_moment_is_written_as_none() -> None:
    assert iso(None) is None

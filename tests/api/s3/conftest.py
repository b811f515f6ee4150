"""The S3 front door's fixtures (tests/fixtures/s3_front.py), for every test of this folder."""

from tests.fixtures.s3_front import org, s3_front  # noqa: F401 - fixtures

"""Fixtures start real servers on loopback: the hub itself, PostgreSQL, MariaDB, S3, HTTP."""

pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.hub",
    "tests.fixtures.http_server",
    "tests.fixtures.seaweedfs",
    "tests.fixtures.databases",
    "tests.fixtures.browser",
]

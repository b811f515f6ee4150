"""Fixtures start real servers on loopback: the hub itself, PostgreSQL, MariaDB, S3, HTTP."""

import os

# Test hubs choose their executor after they start (`driver.configure`): none starts one at hub start.
os.environ.setdefault("HEADWATER_DASK_WARM", "0")

pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.hub",
    "tests.fixtures.replicas",
    "tests.fixtures.http_server",
    "tests.fixtures.seaweedfs",
    "tests.fixtures.databases",
    "tests.fixtures.third_party_kind",
    "tests.fixtures.request_recorder",
    "tests.fixtures.store_files",
    "tests.fixtures.machine_services",
]

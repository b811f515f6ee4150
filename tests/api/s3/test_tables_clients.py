"""The AWS CLI and rclone copy a PostgreSQL schema's tables out of its table bucket, and agree with it afterwards.

Both compare a listing's sizes with the files they fetched (`aws s3 sync` to skip what it has, `rclone
check` to verify): a table bucket's listing gives each table file its staged copy's size.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.api.test_database_api import add_database
from tests.fixtures.databases import ScratchDatabase, pg_connect
from tests.fixtures.s3_front import Org, S3Front


@pytest.fixture
def schema(org: Org, pg_db: ScratchDatabase) -> Iterator[tuple[str, str]]:
    """A schema of two tables in a PostgreSQL connection of the org: (bucket, schema)."""
    name = f"s_{uuid.uuid4().hex[:8]}"
    with pg_connect(pg_db) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
        for table in ("a", "b"):
            conn.execute(
                f"CREATE TABLE {name}.{table} AS SELECT g AS id, 'x' || g AS v FROM generate_series(1, 3000) g"
            )
    label = f"pg{uuid.uuid4().hex[:8]}"
    add_database(org.api, pg_db, label)
    yield f"{label}.postgres", name
    with pg_connect(pg_db) as conn:
        conn.execute(f"DROP SCHEMA {name} CASCADE")


def run(*argv: str, env: dict[str, str]) -> str:
    done = subprocess.run(argv, env={**os.environ, **env}, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout + done.stderr


FILES = ["a.csv", "a.jsonl", "a.parquet", "b.csv", "b.jsonl", "b.parquet"]


def test_the_aws_cli_lists_and_syncs_a_schema(
    s3_front: S3Front, org: Org, schema: tuple[str, str], tmp_path: Path
) -> None:
    bucket, name = schema
    key = s3_front.account(org.token)
    env = {"AWS_ACCESS_KEY_ID": key.key_id, "AWS_SECRET_ACCESS_KEY": key.secret, "AWS_DEFAULT_REGION": "us-east-1"}
    aws = ("aws", "--endpoint-url", s3_front.url, "s3")
    listed = run(*aws, "ls", f"s3://{bucket}/{name}/", env=env).splitlines()
    sizes = {line.split()[-1]: int(line.split()[-2]) for line in listed if line.strip()}
    assert sorted(sizes) == FILES and all(size > 0 for size in sizes.values())
    run(*aws, "sync", f"s3://{bucket}/{name}/", str(tmp_path), env=env)
    assert {p.name: p.stat().st_size for p in tmp_path.iterdir()} == sizes
    assert "download" not in run(*aws, "sync", f"s3://{bucket}/{name}/", str(tmp_path), env=env)  # nothing new
    assert pq.read_table(tmp_path / "a.parquet").num_rows == 3000


def test_rclone_copies_a_schema_and_checks_it(
    s3_front: S3Front, org: Org, schema: tuple[str, str], tmp_path: Path
) -> None:
    bucket, name = schema
    key = s3_front.account(org.token)
    env = {
        "RCLONE_CONFIG": str(tmp_path / "none.conf"),
        "RCLONE_CONFIG_HUB_TYPE": "s3",
        "RCLONE_CONFIG_HUB_PROVIDER": "Other",
        "RCLONE_CONFIG_HUB_ACCESS_KEY_ID": key.key_id,
        "RCLONE_CONFIG_HUB_SECRET_ACCESS_KEY": key.secret,
        "RCLONE_CONFIG_HUB_ENDPOINT": s3_front.url,
        "RCLONE_CONFIG_HUB_FORCE_PATH_STYLE": "true",
        "RCLONE_CONFIG_HUB_REGION": "us-east-1",
    }
    out = tmp_path / "copy"
    run("rclone", "copy", f"hub:{bucket}/{name}", str(out), env=env)
    assert sorted(p.name for p in out.iterdir()) == FILES
    checked = run("rclone", "check", f"hub:{bucket}/{name}", str(out), env=env)
    assert "0 differences found" in checked and "6 matching files" in checked

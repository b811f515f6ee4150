"""A kind from another package registers through the `headwater.kinds` entry points like the built-ins:
the catalogue and the hub's API show it, a source of it serves data, it passes the contract, and the
entry points the catalogue must refuse are logged and skipped without disturbing any built-in."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from headwater.connectors import catalogue, s3
from headwater.connectors.base import Connector
from headwater.connectors.kind import BuildContext
from tests.connectors.contract import Sample, Traits, contract
from tests.fixtures.hub import RunningHub
from tests.fixtures.third_party_kind import DISTRIBUTION

pytestmark = [pytest.mark.usefixtures("third_party_kind")]
REPO = Path(__file__).resolve().parents[2]
BUILT_IN = {"aws", "bucket", "bypass", "file", "gcp", "local", "mysql", "postgres", "s3", "storj", "synthetic", "url"}


def test_the_catalogue_adds_the_kind_and_refuses_the_bad_entry_points_by_name(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger=catalogue.__name__):
        catalogue.refresh()
    assert {k.name for k in catalogue.kinds()} == BUILT_IN | {"greeting"}
    assert catalogue.get("s3") is s3.S3  # the impostor did not displace the built-in
    assert catalogue.get("greeting").title == "Greeting"
    lines = [r.getMessage() for r in caplog.records]
    assert (
        f"kind 's3' of package {DISTRIBUTION!r} is refused: it takes the name 's3' of the built-in kind 's3'" in lines
    )
    assert any(
        line.startswith(f"kind 'broken' of package {DISTRIBUTION!r} is refused: it failed to load (ModuleNotFoundError")
        for line in lines
    )
    assert f"kind 'notakind' of package {DISTRIBUTION!r} is refused: it is object, not a headwater Kind" in lines
    assert f"kind 'greeting' registered by package {DISTRIBUTION!r}" in lines
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 3 and all(r.levelno == logging.ERROR for r in refusals)


def test_a_fresh_process_finds_the_kind_on_its_path_without_crashing(third_party_kind: Path) -> None:
    """As a hub started with the package on PYTHONPATH sees it: no refresh, the bad entry points only logged."""
    script = "from headwater.connectors import catalogue; print(' '.join(k.name for k in catalogue.kinds())); print(catalogue.get('s3').title)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(third_party_kind), str(REPO)])}
    done = subprocess.run(
        [sys.executable, "-c", script], check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    names, title = done.stdout.splitlines()
    assert set(names.split()) == BUILT_IN | {"greeting"} and title == "S3-compatible storage"
    assert "takes the name 's3' of the built-in kind 's3'" in done.stderr


def test_the_hub_lists_the_kind_with_its_schema_and_serves_a_source_of_it(sqlite_hub: RunningHub) -> None:
    with sqlite_hub.client(sqlite_hub.token()) as api:
        listed = {k["kind"]: k for k in api.get("/v1/connectors").json()["connectors"]}
        greeting = listed["greeting"]
        assert listed["s3"]["title"] == "S3-compatible storage"
        assert greeting["input"] is True and greeting["output"] is False and greeting["credentials"] == "none"
        schema = greeting["paramsSchema"]  # what the portal builds the New data source form from
        assert schema["required"] == ["greeting"]
        assert schema["properties"]["repeat"]["description"] == "How many lines of it the file holds."
        assert api.get("/v1/connectors/greeting").json() == greeting

        refused = api.post(
            "/v1/sources", json={"protocol": "greeting", "label": "hi", "params": {"greeting": "hi", "repeat": 0}}
        )
        assert refused.status_code == 400 and "repeat" in refused.json()["error"]["message"]
        created = api.post(
            "/v1/sources",
            json={"protocol": "greeting", "label": "hi", "params": {"greeting": "hello there", "repeat": 2}},
        )
        assert created.status_code == 201, created.text
        assert api.get("/v1/connector/greeting+hi/hello.txt").content == b"hello there\nhello there\n"
        listing = api.get("/v1/connector/greeting+hi/").json()
        assert [f["filename"] for f in listing["files"]] == ["hello.txt"]
        write = api.put("/v1/connector/greeting+hi/new.txt", content=b"x")
        assert write.status_code == 405 and write.json()["error"]["code"] == "not_supported"


GREETING_TRAITS = Traits(output=False, directories=False)


@pytest.fixture
async def connector(tmp_path: Path) -> AsyncIterator[Connector]:
    kind = catalogue.get("greeting")
    conn = kind.build(kind.params.model_validate({"greeting": "hello from outside"}), None, BuildContext(tmp_path))
    try:
        yield conn
    finally:
        await conn.close()


@pytest.mark.anyio
class TestGreetingContract(*contract(GREETING_TRAITS)):  # type: ignore[misc]
    traits = GREETING_TRAITS

    @pytest.fixture
    def sample(self) -> Sample:
        return Sample("hello.txt", b"hello from outside\n" * 3)

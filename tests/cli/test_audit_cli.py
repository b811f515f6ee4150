"""`headwater audit tail` against a real hub."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from typer.testing import CliRunner

from headwater.cli.main import app
from tests.fixtures.hub import RunningHub


def test_audit_tail_shows_the_latest_events_newest_first_and_filters(sqlite_hub: RunningHub, tmp_path: Path) -> None:
    token = sqlite_hub.token(org=f"audit-{uuid.uuid4().hex[:8]}")
    with sqlite_hub.client(token) as api:
        api.post(
            "/v1/sources", json={"protocol": "local", "label": "lake", "params": {"path": str(tmp_path)}}
        ).raise_for_status()
        api.put("/v1/connector/local+lake/x.txt", content=b"x")
        api.get("/v1/sources")
    env = {"HEADWATER_URL": sqlite_hub.url, "HEADWATER_TOKEN": token}
    result = CliRunner().invoke(app, ["audit", "tail", "-n", "2", "--json"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    events = [json.loads(chunk) for chunk in result.stdout.replace("}\n{", "}\x00{").split("\x00")]
    assert [e["operation"] for e in events] == ["list_sources", "data.write"]
    refused = CliRunner().invoke(app, ["audit", "tail", "--outcome", "refused"], env=env, catch_exceptions=False)
    assert refused.exit_code == 0 and "data.write" in refused.stdout and "list_sources" not in refused.stdout
    assert token not in result.stdout + refused.stdout

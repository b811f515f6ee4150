"""`GET /v1/jobs/catalog`: the blocks a job may use, with params schemas that say exactly what each block accepts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from headwater.errors import InvalidInput
from headwater.services.jobs import apps, assemblers, catalog, planning
from tests.fixtures.hub import RunningHub

#: One value for every param of every block: a block's schema must name exactly these.
SAMPLES: dict[str, dict[str, Any]] = {
    "copy": {"verify": "checksum"},
    "convert": {"to": "parquet", "from": "csv"},
    "python": {"function": "tools.text:upper", "params": {"x": 1}, "suffix": ".txt"},
    "object": {},
    "size": {"bytes": 1024},
    "rows": {"rows": 100, "format": "jsonl"},
    "passthrough": {},
    "concatenate": {"name": "all.csv"},
    "zip": {"name": "all.zip", "compression": "store"},
}

CHECKS = (
    [(b, lambda name, p: apps.get(name).check_params(p)) for b in catalog.APPS]
    + [(b, planning.check_params) for b in catalog.PARTITIONERS]
    + [(b, assemblers.check_params) for b in catalog.ASSEMBLERS]
)


def test_the_catalog_lists_every_block_the_job_engine_knows() -> None:
    assert [b.name for b in catalog.APPS] == list(apps.APPS)
    assert [b.name for b in catalog.PARTITIONERS] == list(planning.PARTITIONERS)
    assert [b.name for b in catalog.ASSEMBLERS] == list(assemblers.ASSEMBLERS)


@pytest.mark.parametrize(("block", "check"), CHECKS, ids=[b.name for b, _ in CHECKS])
def test_each_schema_names_exactly_the_params_its_block_accepts(block: catalog.Block, check: Any) -> None:
    sample = SAMPLES[block.name]
    assert set(block.schema()["properties"]) == set(sample)
    block.params.model_validate(sample)
    check(block.name, dict(sample))
    with pytest.raises(ValidationError):
        block.params.model_validate({**sample, "unknown": 1})
    with pytest.raises(InvalidInput):
        check(block.name, {**sample, "unknown": 1})
    for name in block.schema().get("required", []):
        missing = {k: v for k, v in sample.items() if k != name}
        with pytest.raises(ValidationError):
            block.params.model_validate(missing)
        with pytest.raises(InvalidInput):
            check(block.name, missing)


def test_the_catalog_route_serves_the_blocks_and_the_job_requests_schema(
    sqlite_hub: RunningHub, tmp_path: Path
) -> None:
    token = sqlite_hub.token()
    with sqlite_hub.client(token) as api:
        body = api.get("/v1/jobs/catalog").json()
        assert [a["name"] for a in body["apps"]] == ["copy", "convert", "python"]
        assert {"source", "destination", "app", "partitioner", "assembler", "params"} <= set(
            body["requestSchema"]["properties"]
        )
        rows = next(p for p in body["partitioners"] if p["name"] == "rows")
        assert rows["paramsSchema"]["required"] == ["rows"] and rows["title"] and rows["description"]

        # A job built from the schemas' own names is accepted.
        (tmp_path / "in").mkdir()
        (tmp_path / "in" / "a.csv").write_text("a\n1\n")
        for label in ("in", "out"):
            made = api.post(
                "/v1/sources",
                json={
                    "protocol": "local",
                    "label": label,
                    "params": {"path": str(tmp_path / "in")},
                    "access": "read-write",
                },
            )
            assert made.status_code == 201, made.text
        job = api.post(
            "/v1/jobs",
            json={
                "source": "local+in://*.csv",
                "destination": "local+out://converted/",
                "app": "convert",
                "partitioner": "rows",
                "assembler": "concatenate",
                "params": {
                    "app": SAMPLES["convert"],
                    "partitioner": SAMPLES["rows"] | {"format": "csv"},
                    "assembler": {"name": "all.parquet"},
                },
            },
        )
        assert job.status_code == 201, job.text

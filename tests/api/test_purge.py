"""The hub's purge of hosted files, run as it starts: abandoned uploads and the files of deleted sources go, live ones stay."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from headwater.connectors.hosted_kinds import ORPHAN_GRACE, UPLOAD_TTL
from tests.fixtures.hub import start_hub


def _meta(data_dir: Path, upload: dict[str, object]) -> Path:
    return next(data_dir.glob(f"uploads/*/{upload['uploadId']}/meta.json"))


def test_a_starting_hub_purges_abandoned_uploads_and_the_files_of_deleted_sources_but_keeps_live_ones(
    tmp_path: Path,
) -> None:
    first = start_hub(tmp_path)
    try:
        token = first.token()
        with first.client(token) as api:
            abandoned = api.post("/v1/uploads", json={"filename": "a.csv"}).json()
            fresh = api.post("/v1/uploads", json={"filename": "b.csv"}).json()
            live = api.put("/v1/uploads/c.csv", content=b"kept").json()
            orphan = api.put("/v1/uploads/d.csv", content=b"gone").json()
            assert api.delete(f"/v1/sources/{orphan['source']['id']}").status_code == 204
    finally:
        first.stop()

    long_ago = datetime.now(UTC) - UPLOAD_TTL - timedelta(hours=1)
    meta = _meta(tmp_path, abandoned)
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "created_at": long_ago.isoformat()}))
    past = time.time() - ORPHAN_GRACE.total_seconds() - 60
    os.utime(_meta(tmp_path, orphan), (past, past))

    second = start_hub(tmp_path)
    try:
        with second.client(token) as api:
            deadline = time.monotonic() + 20
            while api.get(f"/v1/uploads/{abandoned['uploadId']}").status_code != 404 and time.monotonic() < deadline:
                time.sleep(0.2)
            while api.get(f"/v1/uploads/{orphan['uploadId']}").status_code != 404 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert api.get(f"/v1/uploads/{abandoned['uploadId']}").status_code == 404
            assert api.get(f"/v1/uploads/{orphan['uploadId']}").status_code == 404
            assert api.get(f"/v1/uploads/{fresh['uploadId']}").json()["state"] == "open"
            kept = api.get(f"/v1/uploads/{live['uploadId']}").json()
            assert kept["state"] == "complete" and api.get(kept["tempUrl"]).content == b"kept"
    finally:
        second.stop()

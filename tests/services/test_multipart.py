"""The staging of S3 multipart uploads: abandoned uploads are dropped by the retention duty, live ones kept."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from headwater.connectors.storage import FolderStorage
from headwater.services import multipart


def staged(storage: FolderStorage, upload: str, started: datetime) -> None:
    prefix = f"{multipart.ROOT}/org1/{upload}"
    storage.write_small(f"{prefix}/meta.json", json.dumps({"started": started.isoformat()}).encode())
    storage.write_small(f"{prefix}/00001.part", b"part")
    storage.write_small(f"{prefix}/00001.json", b"{}")


def test_uploads_begun_longer_ago_than_the_ttl_are_dropped_and_others_kept(tmp_path: Path) -> None:
    storage = FolderStorage(tmp_path)
    now = datetime.now(UTC)
    staged(storage, "old", now - multipart.UPLOAD_TTL - timedelta(minutes=1))
    staged(storage, "new", now - timedelta(hours=1))
    assert multipart.purge_abandoned(storage, now) == 3
    left = sorted(s.key for s in storage.walk(multipart.ROOT))
    assert left == [f"{multipart.ROOT}/org1/new/{name}" for name in ("00001.json", "00001.part", "meta.json")]


def test_an_upload_without_its_meta_is_judged_by_its_files(tmp_path: Path) -> None:
    storage = FolderStorage(tmp_path)
    storage.write_small(f"{multipart.ROOT}/org1/orphan/00001.part", b"x")
    assert multipart.purge_abandoned(storage, datetime.now(UTC)) == 0
    assert multipart.purge_abandoned(storage, datetime.now(UTC) + multipart.UPLOAD_TTL) == 1


def test_part_completions_are_checked() -> None:
    parts = [multipart.Part(1, "a" * 32, multipart.MIN_PART_SIZE), multipart.Part(2, "b" * 32, 1)]
    assert multipart.chosen(parts, [(1, f'"{"a" * 32}"'), (2, "b" * 32)]) == parts
    for wanted, error in (
        ([(2, "b" * 32), (1, "a" * 32)], multipart.InvalidPartOrder),
        ([(3, "c" * 32)], multipart.InvalidPart),
        ([], Exception),
    ):
        try:
            multipart.chosen(parts, wanted)
        except error:
            continue
        raise AssertionError(f"{wanted} was accepted")
    expected = multipart.final_etag(parts)
    assert expected.endswith("-2") and len(expected) == 34

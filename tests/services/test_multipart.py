"""The records of S3 multipart uploads: abandoned uploads are dropped by the retention duty, live ones kept."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from headwater.connectors.storage import FolderStorage
from headwater.errors import NotFound, UpstreamUnavailable
from headwater.services import multipart
from tests.fixtures.loops import run_coroutine


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
    assert run_coroutine(multipart.purge_abandoned(storage, now)) == 3
    left = sorted(s.key for s in storage.walk(multipart.ROOT))
    assert left == [f"{multipart.ROOT}/org1/new/{name}" for name in ("00001.json", "00001.part", "meta.json")]


def test_an_upload_without_its_meta_is_judged_by_its_files(tmp_path: Path) -> None:
    storage = FolderStorage(tmp_path)
    storage.write_small(f"{multipart.ROOT}/org1/orphan/00001.part", b"x")
    assert run_coroutine(multipart.purge_abandoned(storage, datetime.now(UTC))) == 0
    assert run_coroutine(multipart.purge_abandoned(storage, datetime.now(UTC) + multipart.UPLOAD_TTL)) == 1


def passed_through(storage: FolderStorage, upload: str, started: datetime) -> None:
    backend = {"bucket": "b", "key": "k", "upload_id": f"backend-{upload}"}
    meta = {"started": started.isoformat(), "source_id": "s1", "path": "k", "backend": backend}
    storage.write_small(f"{multipart.ROOT}/org1/{upload}/meta.json", json.dumps(meta).encode())


def test_an_abandoned_backend_upload_is_aborted_before_its_record_goes(tmp_path: Path) -> None:
    storage = FolderStorage(tmp_path)
    old = datetime.now(UTC) - multipart.UPLOAD_TTL - timedelta(minutes=1)
    passed_through(storage, "gone", old)
    passed_through(storage, "failing", old)
    aborted: list[tuple[str, str]] = []

    async def abort(org_id: str, meta: dict[str, Any]) -> None:
        if meta["backend"]["upload_id"] == "backend-failing":
            raise UpstreamUnavailable("the backend is down")
        aborted.append((org_id, meta["backend"]["upload_id"]))

    assert run_coroutine(multipart.purge_abandoned(storage, None, abort)) == 1
    assert aborted == [("org1", "backend-gone")]
    left = [s.key for s in storage.walk(multipart.ROOT)]
    assert left == [f"{multipart.ROOT}/org1/failing/meta.json"]  # its abort failed: it waits for the next round


def test_a_backend_upload_that_cannot_be_aborted_any_more_is_forgotten_and_one_never_tried_is_kept(
    tmp_path: Path,
) -> None:
    storage = FolderStorage(tmp_path)
    passed_through(storage, "u", datetime.now(UTC) - multipart.UPLOAD_TTL - timedelta(minutes=1))
    assert run_coroutine(multipart.purge_abandoned(storage)) == 0  # no way to abort it: kept

    async def source_gone(org_id: str, meta: dict[str, Any]) -> None:
        raise NotFound("the upload's source no longer exists")

    assert run_coroutine(multipart.purge_abandoned(storage, None, source_gone)) == 1
    assert list(storage.walk(multipart.ROOT)) == []


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

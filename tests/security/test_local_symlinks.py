"""Finding 13: a symlink inside a `local` root cannot lead past the source's path restrictions.

The old connector checked a resolved path only against the root, so with restrictions `pub/*` a link
`pub/link -> ../private/secret.txt` served the private file. Now rights are decided on where a path
really leads as well: such a link is refused (403) for reading, writing and through a linked folder,
and listings leave it out; a link that stays inside the restrictions still works.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from headwater.services.jobs import driver
from tests.fixtures.hub import RunningHub
from tests.services.jobs.helpers import THREADS, files_under, local_source, wait_for

SECRET = b"private salary table"


@dataclass
class Linked:
    api: httpx.Client
    root: Path
    url: str


@pytest.fixture
def linked(sqlite_hub: RunningHub, tmp_path: Path) -> Iterator[Linked]:
    root = tmp_path / "share"
    (root / "pub").mkdir(parents=True)
    (root / "private").mkdir()
    (root / "pub" / "ok.txt").write_bytes(b"public")
    (root / "private" / "secret.txt").write_bytes(SECRET)
    (root / "pub" / "link").symlink_to("../private/secret.txt")
    (root / "pub" / "dirlink").symlink_to("../private", target_is_directory=True)
    (root / "pub" / "alias.txt").symlink_to("ok.txt")
    engine = driver.engine_for(sqlite_hub.hub)
    if engine._executor is None and engine.config is None:
        driver.configure(sqlite_hub.hub, THREADS)
    with sqlite_hub.client(sqlite_hub.token()) as api:
        label = f"l{uuid.uuid4().hex[:8]}"
        body = {
            "protocol": "local",
            "label": label,
            "params": {"path": str(root)},
            "pathRestrictions": ["pub/*"],
            "access": "read-write",
        }
        assert api.post("/v1/sources", json=body).status_code == 201
        yield Linked(api, root, f"/v1/connector/local+{label}")


def test_a_link_to_a_file_outside_the_restrictions_is_refused(linked: Linked) -> None:
    for response in (linked.api.get(f"{linked.url}/pub/link"), linked.api.head(f"{linked.url}/pub/link")):
        assert response.status_code == 403
        assert SECRET not in response.content
    assert "link" in linked.api.get(f"{linked.url}/pub/link").json()["error"]["message"]


def test_a_linked_folder_outside_the_restrictions_is_refused(linked: Linked) -> None:
    response = linked.api.get(f"{linked.url}/pub/dirlink/secret.txt")
    assert response.status_code == 403 and SECRET not in response.content
    assert linked.api.get(f"{linked.url}/pub/dirlink/").status_code == 403


def test_writes_through_links_are_refused_and_change_nothing(linked: Linked) -> None:
    assert linked.api.put(f"{linked.url}/pub/link", content=b"overwritten").status_code == 403
    assert linked.api.put(f"{linked.url}/pub/dirlink/planted.txt", content=b"planted").status_code == 403
    assert linked.api.delete(f"{linked.url}/pub/dirlink/secret.txt").status_code == 403
    assert (linked.root / "private" / "secret.txt").read_bytes() == SECRET
    assert not (linked.root / "private" / "planted.txt").exists()


def test_listings_leave_out_links_that_lead_outside_the_restrictions(linked: Linked) -> None:
    listing = linked.api.get(f"{linked.url}/pub/").json()
    assert sorted(f["filename"] for f in listing["files"]) == ["alias.txt", "ok.txt"]
    assert listing["folders"] == []


def test_a_link_that_stays_inside_the_restrictions_still_works(linked: Linked) -> None:
    assert linked.api.get(f"{linked.url}/pub/alias.txt").content == b"public"


def test_a_job_over_the_folder_copies_nothing_behind_a_link(linked: Linked, tmp_path: Path) -> None:
    dst = local_source(linked.api, tmp_path / "out")
    connection = linked.url.removeprefix("/v1/connector/")
    job = linked.api.post("/v1/jobs", json={"source": f"{connection}://pub/", "destination": f"{dst}://copy/"})
    assert job.status_code == 201, job.text
    assert linked.api.post(f"/v1/jobs/{job.json()['id']}/run").status_code == 200
    wait_for(linked.api, job.json()["id"])
    copied = files_under(tmp_path / "out")
    assert SECRET not in copied.values() and set(copied) <= {"copy/ok.txt", "copy/alias.txt"}

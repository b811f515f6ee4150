"""The audit and jobs pages in Chromium: newest first in fixed pages, a job's detail, a job created from the portal."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, expect

from headwater.services.jobs import driver
from tests.fixtures.browser import LAPTOP, PHONE
from tests.fixtures.hub import RunningHub
from tests.portal.conftest import Portal
from tests.services.jobs.helpers import THREADS, local_source, wait_for

WRITES = 30


def words_whole_on_both_widths(portal: Portal, where: Locator) -> None:
    portal.assert_words_whole(where)
    portal.page.set_viewport_size(PHONE)
    try:
        portal.assert_words_whole(where)
    finally:
        portal.page.set_viewport_size(LAPTOP)


def test_the_audit_page_shows_the_newest_events_first_in_pages_of_fixed_size(portal: Portal, tmp_path: Path) -> None:
    page = portal.page
    token = portal.hub.token(user="ada")
    with portal.hub.client(token) as api:
        disk = local_source(api, tmp_path / "disk", label="disk")
        shelf = local_source(api, tmp_path / "shelf", access="read", label="shelf")
        for i in range(WRITES):
            assert api.put(f"/v1/connector/{disk}/reports/2026/quarterly/n{i:02d}.txt", content=b"x").status_code == 200
        assert api.put(f"/v1/connector/{shelf}/refused.txt", content=b"x").status_code == 403
    portal.sign_in(token)
    page.get_by_role("link", name="Audit").click()
    portal.heading("Audit")
    audit = page.get_by_role("table", name="Audit events")
    rows = audit.locator("tbody tr.event")
    expect(rows).to_have_count(25)
    times = rows.locator("time").evaluate_all("(els) => els.map((e) => e.getAttribute('datetime'))")
    assert times == sorted(times, reverse=True), "the newest event is not first"

    page.get_by_label("Operation").fill("data.write")
    page.get_by_role("button", name="Apply filters").click()
    expect(rows.first).to_contain_text("refused.txt")  # the last write, refused, is the newest
    expect(rows.nth(1)).to_contain_text("n29.txt")
    expect(rows).to_have_count(25)
    expect(rows.nth(24)).to_contain_text("n06.txt")

    # The reason is shown on demand, without growing the row until asked.
    reason = audit.get_by_text(re.compile("local\\+shelf is read-only"))
    expect(reason).to_be_hidden()
    why = rows.first.get_by_role("button", name=re.compile("^Why"))
    expect(why).to_have_attribute("aria-expanded", "false")
    why.click()
    expect(reason).to_be_visible()
    expect(why).to_have_attribute("aria-expanded", "true")
    expect(
        rows.nth(1).get_by_role("button", name=re.compile("^More"))
    ).to_be_visible()  # an allowed event has no reason
    words_whole_on_both_widths(portal, audit)
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 3000, f"one audit page is {height}px tall"
    portal.snap("audit-newest", shot=True)

    # Older, then back to newer: fixed pages, nothing repeated or lost.
    page.get_by_role("link", name="Older →").click()
    expect(rows).to_have_count(6)
    expect(rows.first).to_contain_text("n05.txt")
    expect(rows.last).to_contain_text("n00.txt")
    expect(page.get_by_role("link", name="Older →")).to_have_count(0)
    portal.snap("audit-older", shot=True)
    page.get_by_role("link", name="← Newer").click()
    expect(rows.first).to_contain_text("refused.txt")
    expect(rows).to_have_count(25)
    expect(page.get_by_role("link", name="← Newer")).to_have_count(0)
    portal.assert_never_shown(token)


@pytest.fixture
def running_jobs(portal: Portal) -> Iterator[Portal]:
    """Jobs on the portal's hub run in threads (fast to start)."""
    engine = driver.engine_for(portal.hub.hub)
    if engine._executor is None and engine.config is None:
        driver.configure(portal.hub.hub, THREADS)
    yield portal


def test_a_job_is_created_from_the_portal_and_its_detail_shows_progress_results_and_errors(
    running_jobs: Portal, tmp_path: Path
) -> None:
    portal = running_jobs
    page = portal.page
    token = portal.hub.token()
    for name in ("a", "b"):
        (tmp_path / "in").mkdir(exist_ok=True)
        (tmp_path / "in" / f"{name}.csv").write_text(f"letter,n\n{name},1\n{name},2\n")
    (tmp_path / "in" / "notes.bin").write_bytes(b"\x00\x01 not a table")
    with portal.hub.client(token) as api:
        source = local_source(api, tmp_path / "in", access="read", label="in")
        out = local_source(api, tmp_path / "out", label="out")
        broken = api.post(
            "/v1/jobs",
            json={
                "source": f"{source}://notes.bin",
                "destination": f"{out}://broken/",
                "app": "convert",
                "params": {"app": {"to": "jsonl"}},
                "name": "broken",
                "run": True,
            },
        )
        assert broken.status_code == 201, broken.text
        assert wait_for(api, broken.json()["id"])["state"] == "failed"

    portal.sign_in(token)
    page.get_by_role("link", name="Jobs").click()
    portal.heading("Jobs")
    page.get_by_role("link", name="New job").click()
    portal.heading("New job")
    page.get_by_label("Source (required)").fill("local+in://*.csv")
    page.get_by_label("Destination (required)").fill("local+out://tables/")
    page.get_by_label("App", exact=True).select_option("convert")
    work = page.get_by_role("group", name="Work")
    work.get_by_label("To (required)").select_option("jsonl")
    page.get_by_label("Assembler", exact=True).select_option("concatenate")
    work.get_by_label("Name").fill("all.jsonl")
    page.get_by_label("Job name").fill("to-jsonl")
    expect(page.get_by_label("Run it now")).to_be_checked()
    portal.snap("job-new", shot=True)
    page.get_by_role("button", name="Create job").click()
    portal.heading("to-jsonl")
    expect(portal.flash()).to_contain_text("Created to-jsonl and started it")

    # The detail refreshes itself until the job is complete; then its results link to the file.
    expect(page.locator(".state .badge")).to_have_text("complete", timeout=60_000)
    expect(page.locator(".state")).to_contain_text("2 of 2 partitions")
    results = page.get_by_role("table", name="Results")
    expect(results).to_contain_text("all.jsonl")
    with page.expect_download() as download:
        results.get_by_role("link", name="Download all.jsonl").click()
    lines = [json.loads(line) for line in Path(download.value.path()).read_text().splitlines()]
    assert sorted((r["letter"], r["n"]) for r in lines) == [("a", 1), ("a", 2), ("b", 1), ("b", 2)]
    assert (tmp_path / "out" / "tables" / "all.jsonl").exists()
    expect(page.get_by_role("main")).to_contain_text("convert")
    expect(page.get_by_role("main")).to_contain_text("concatenate")
    portal.snap("job-detail", shot=True)

    # The list opens each job; its state badges keep whole words.
    page.get_by_role("link", name="All jobs").click()
    portal.heading("Jobs")
    jobs = page.get_by_role("table", name="Jobs")
    expect(jobs.get_by_role("row", name=re.compile("to-jsonl"))).to_contain_text("complete")
    expect(jobs.get_by_role("row", name=re.compile("broken"))).to_contain_text("failed")
    words_whole_on_both_widths(portal, jobs)
    portal.snap("jobs", shot=True)
    jobs.get_by_role("link", name="broken").click()
    portal.heading("broken")
    expect(page.locator(".state .badge")).to_have_text("failed")
    expect(page.locator(".state .error")).to_contain_text("from")
    expect(page.get_by_role("region", name="Errors")).to_contain_text("notes.bin")
    portal.snap("job-failed", shot=True)

    # A job the API refuses shows the API's message on the form.
    page.get_by_role("link", name="All jobs").click()
    page.get_by_role("link", name="New job").click()
    page.get_by_label("Source (required)").fill("local+in://*.csv")
    page.get_by_label("Destination (required)").fill("local+in://copies/")
    page.get_by_role("button", name="Create job").click()
    expect(page.get_by_role("alert")).to_contain_text(re.compile(r"\S"))
    portal.snap("job-new-refused", shot=True)
    portal.assert_never_shown(token)


def test_a_read_only_token_sees_the_jobs_but_no_new_job_button(portal: Portal, sqlite_hub: RunningHub) -> None:
    portal.sign_in(sqlite_hub.token(read_only=True))
    expect(portal.page.get_by_role("link", name="Jobs")).to_be_visible()
    portal.goto("jobs")
    portal.heading("Jobs")
    expect(portal.page.get_by_role("link", name="New job")).to_have_count(0)  # a read-only token creates no job

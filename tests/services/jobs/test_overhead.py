"""What keeps jobs cheap: a cluster warm when the hub serves, small partitions sharing tasks, batched records."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from headwater.services.jobs import driver, runner
from headwater.services.jobs.spec import PartState
from headwater.store.models import JobPartition
from tests.fixtures.hub import start_hub
from tests.services.jobs.helpers import create_job, files_under, local_source, threaded_hub, wait_for


def partition(index: int, **spec: object) -> JobPartition:
    return JobPartition(
        job_id="j",
        index=index,
        spec={"path": f"{index}.csv", **spec},
        output=f"{index}.out",
        state=PartState.PENDING.value,
        attempts=0,
    )


def test_a_hub_starts_its_executor_and_readies_its_workers_before_any_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEADWATER_DASK_WARM", "1")
    monkeypatch.setenv("HEADWATER_DASK_PROCESSES", "0")
    monkeypatch.setenv("HEADWATER_DASK_THREADS", "2")
    running = start_hub(tmp_path / "hub")
    try:
        engine = driver.engine_for(running.hub)
        deadline = time.monotonic() + 30
        while engine._executor is None:
            assert time.monotonic() < deadline, "the executor did not start with the hub"
            time.sleep(0.05)
        assert engine.executor.slots() == 2
    finally:
        running.stop()


def test_small_partitions_share_tasks_while_every_worker_thread_keeps_work() -> None:
    small = [partition(i, size=100_000) for i in range(200)]
    tasks = driver.groups(small, slots=4)
    assert sorted(p.index for task in tasks for p in task) == list(range(200))  # each partition in one task
    assert len(tasks) >= 4 * driver.TASKS_PER_SLOT
    assert max(len(task) for task in tasks) > 1


def test_large_or_unsized_partitions_get_a_task_each() -> None:
    large = [partition(i, size=driver.TASK_BYTES) for i in range(10)] + [partition(10 + i) for i in range(10)]
    assert [len(task) for task in driver.groups(large, slots=1)] == [1] * 20


def test_a_task_never_holds_more_bytes_than_the_task_budget() -> None:
    parts = [partition(i, start=0, end=driver.TASK_BYTES // 3) for i in range(30)]
    for task in driver.groups(parts, slots=1):
        assert sum(p.spec["end"] for p in task) <= driver.TASK_BYTES


def test_a_batched_job_writes_each_output_once_and_records_each_partition_in_few_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    applied: list[int] = []
    real = runner.records.apply

    def counting(store, job_id, changes):  # type: ignore[no-untyped-def]
        changes = list(changes)
        applied.append(len(changes))
        return real(store, job_id, changes)

    monkeypatch.setattr(runner.records, "apply", counting)
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(40):
        (folder / f"{i}.csv").write_text("a,b\n" + "".join(f"{j},{j * 2}\n" for j in range(50)))
    hub = threaded_hub(tmp_path / "hub", threads=2)  # 2 worker threads: 40 partitions make 4 tasks or more
    with hub.client(hub.token()) as api:
        src = local_source(api, folder, access="read")
        dst = local_source(api, tmp_path / "out")
        job = create_job(api, f"{src}://*.csv", f"{dst}://", app="convert", params={"app": {"to": "jsonl"}}, run=True)
        done = wait_for(api, job["id"])
        assert done["state"] == "complete", done["errorMessage"]
        assert done["progress"]["partitionsDone"] == 40
    hub.stop()
    outputs = files_under(tmp_path / "out")
    assert sorted(outputs) == sorted(f"{i}.jsonl" for i in range(40))
    assert all(body.count(b"\n") == 50 for body in outputs.values())
    assert sum(applied) == 80  # a claim and an outcome for each partition,
    assert len(applied) < 80  # in fewer transactions than changes

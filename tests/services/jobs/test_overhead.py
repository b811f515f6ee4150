"""What keeps jobs cheap: a cluster warm when the hub serves, small partitions sharing tasks, batched records."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import event

from headwater.services.jobs import driver, records, runner
from headwater.services.jobs.spec import PartState
from headwater.store.database import Store
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


@pytest.mark.parametrize(("count", "slots"), [(200, 2), (10, 2), (37, 4), (1000, 3)])
def test_small_partitions_make_tasks_the_worker_threads_share_evenly(count: int, slots: int) -> None:
    tasks = driver.groups([partition(i, size=50_000) for i in range(count)], slots=slots)
    sizes = [len(task) for task in tasks]
    assert [p.index for task in tasks for p in task] == list(range(count))  # in order, each once
    assert len(tasks) % slots == 0  # every thread runs as many tasks: none is left with a last one alone
    assert max(sizes) - min(sizes) <= 1


ASSEMBLIES: list[str] = []  # module-level: Dask ships the task function by reference, so its worker threads append here
REAL_ASSEMBLY = runner.run_assembly


def recorded_assembly(key: str, job_id: str, generation: int) -> dict[str, object]:
    ASSEMBLIES.append(job_id)
    return REAL_ASSEMBLY(key, job_id, generation)


def test_a_pass_through_job_completes_with_no_assembly_task(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assemblies = ASSEMBLIES
    assemblies.clear()
    monkeypatch.setattr(runner, "run_assembly", recorded_assembly)
    csv_inputs(tmp_path / "in", 6)
    hub = threaded_hub(tmp_path / "hub", threads=2)
    with hub.client(hub.token()) as api:
        src = local_source(api, tmp_path / "in", access="read")
        dst = local_source(api, tmp_path / "out")
        passing = create_job(
            api, f"{src}://*.csv", f"{dst}://a/", app="convert", params={"app": {"to": "jsonl"}}, run=True
        )
        done = wait_for(api, passing["id"])
        assert done["state"] == "complete", done["errorMessage"]
        results = api.get(f"/v1/jobs/{passing['id']}/results").json()["results"]
        assert sorted(r["name"] for r in results) == [f"{i:02d}.jsonl" for i in range(6)]
        assert sorted(files_under(tmp_path / "out")) == [f"a/{i:02d}.jsonl" for i in range(6)]
        assert assemblies == []  # the driver listed the outputs itself
        joined = create_job(
            api,
            f"{src}://*.csv",
            f"{dst}://b/",
            app="copy",
            assembler="concatenate",
            params={"assembler": {"name": "all.csv"}},
            run=True,
        )
        done = wait_for(api, joined["id"])
        assert done["state"] == "complete", done["errorMessage"]
        assert assemblies == [joined["id"]]  # what is assembled still runs as a task
    hub.stop()


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


def partition_writes(store: Store) -> list[tuple[int, str]]:
    """Every UPDATE of one partition row the store executes, as (index, state written), in order."""
    seen: list[tuple[int, str]] = []

    @event.listens_for(store.engine, "before_cursor_execute")
    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if not statement.lstrip().upper().startswith(f"UPDATE {JobPartition.__tablename__.upper()}"):
            return
        for values in context.compiled_parameters:
            if "w_index" in values:
                seen.append((values["w_index"], values["state"]))

    return seen


def csv_inputs(folder: Path, count: int, broken: int | None = None) -> None:
    folder.mkdir()
    for i in range(count):
        body = "a,b\n1,2,3\n" if i == broken else "a,b\n" + "".join(f"{j},{j * 2}\n" for j in range(50))
        (folder / f"{i:02d}.csv").write_text(body)


def test_each_partition_is_written_once_running_and_once_done_in_the_store(tmp_path: Path) -> None:
    hub = threaded_hub(tmp_path / "hub", threads=2)  # small partitions: several share each task
    writes = partition_writes(hub.hub.store)
    csv_inputs(tmp_path / "in", 40)
    with hub.client(hub.token()) as api:
        src = local_source(api, tmp_path / "in", access="read")
        dst = local_source(api, tmp_path / "out")
        job = create_job(api, f"{src}://*.csv", f"{dst}://", app="convert", params={"app": {"to": "parquet"}}, run=True)
        done = wait_for(api, job["id"])
        assert done["state"] == "complete", done["errorMessage"]
    hub.stop()
    assert sorted(writes) == sorted(
        [(i, PartState.RUNNING.value) for i in range(40)] + [(i, PartState.DONE.value) for i in range(40)]
    )
    assert len(files_under(tmp_path / "out")) == 40


def test_a_partition_that_fails_in_a_shared_task_is_recorded_apart_from_its_neighbours(tmp_path: Path) -> None:
    hub = threaded_hub(tmp_path / "hub", threads=1)  # one task at a time, each of several partitions
    csv_inputs(tmp_path / "in", 12, broken=5)
    with hub.client(hub.token()) as api:
        src = local_source(api, tmp_path / "in", access="read")
        dst = local_source(api, tmp_path / "out")
        job = create_job(api, f"{src}://*.csv", f"{dst}://", app="convert", params={"app": {"to": "jsonl"}}, run=True)
        done = wait_for(api, job["id"])
        assert done["state"] == "failed"
        assert done["errorMessage"].startswith("partition 5 failed: ")
        parts = {p.index: p for p in records.partitions(hub.hub.store, job["id"])}
    hub.stop()
    assert parts[5].state == PartState.FAILED.value and parts[5].error
    task = next(t for t in driver.groups(list(parts.values()), slots=1) if any(p.index == 5 for p in t))
    assert len(task) > 1  # the broken partition shared its task
    for p in task:
        if p.index < 5:  # ran before it in the same task: done, with their own figures, no error
            assert p.state == PartState.DONE.value and p.bytes_out > 0 and not p.error
        elif p.index > 5:  # ran after it: each done or, had the job's failure stopped them first, not started
            assert p.state in (PartState.DONE.value, PartState.PENDING.value, PartState.CANCELED.value) and not p.error

"""The executor: CPU-bound tasks never outnumber the cores, tasks that wait use every worker thread."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from headwater.services.jobs.executor import DaskExecutor, ExecutorConfig
from headwater.settings import Settings

CORES = os.cpu_count() or 1

_running = 0
_most = 0
_lock = threading.Lock()


def busy(seconds: float) -> int:
    """A task that counts how many of its kind run at once."""
    global _running, _most
    with _lock:
        _running += 1
        _most = max(_most, _running)
    time.sleep(seconds)
    with _lock:
        _running -= 1
    return 1


def most_at_once(executor: DaskExecutor, tasks: int, cpu: bool) -> int:
    global _most
    _most = 0
    batch = executor.batch()
    for i in range(tasks):
        batch.submit(busy, 0.2, key=f"busy-{cpu}-{i}", cpu=cpu)
    while batch.outstanding:
        for _, result, error in batch.finished(1.0):
            assert error is None and result == 1
    return _most


@pytest.fixture
def executor(tmp_path: Path) -> Iterator[DaskExecutor]:
    # more worker threads than cores: the workers' threads are for tasks that wait
    config = ExecutorConfig(processes=False, workers=1, threads=CORES + 2)
    running = DaskExecutor(config, Settings.from_env({"HEADWATER_DATA_DIR": str(tmp_path)}))
    try:
        yield running
    finally:
        running.close()


def test_cpu_bound_tasks_run_at_most_one_a_core(executor: DaskExecutor) -> None:
    assert executor.slots(cpu=True) == CORES
    assert most_at_once(executor, 3 * (CORES + 2), cpu=True) <= CORES


def test_tasks_that_wait_use_every_worker_thread(executor: DaskExecutor) -> None:
    assert executor.slots() == CORES + 2
    assert most_at_once(executor, 3 * (CORES + 2), cpu=False) > CORES

"""A test that restarts a shared service runs alone: it waits for the tests running in other test processes."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures import machine_services

HOLD = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_SH if sys.argv[2] == "shared" else fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(float(sys.argv[3]))
"""


def hold(path: Path, mode: str, seconds: float) -> subprocess.Popen[str]:
    """Another test process holding the services lock for `seconds`, once it has it."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), mode, str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process


def test_an_exclusive_test_starts_only_once_other_processes_tests_have_ended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(machine_services, "LOCKS", tmp_path)
    other = hold(tmp_path / "services", "shared", 1.5)
    started = time.monotonic()
    with machine_services.machine_lock(exclusive=True):
        waited = time.monotonic() - started
    other.wait(10)
    assert waited >= 1.0


def test_ordinary_tests_wait_while_an_exclusive_one_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(machine_services, "LOCKS", tmp_path)
    other = hold(tmp_path / "services", "exclusive", 1.5)
    started = time.monotonic()
    with machine_services.machine_lock(exclusive=False):
        waited = time.monotonic() - started
    other.wait(10)
    assert waited >= 1.0


def test_ordinary_tests_share_the_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(machine_services, "LOCKS", tmp_path)
    other = hold(tmp_path / "services", "shared", 5)
    started = time.monotonic()
    with machine_services.machine_lock(exclusive=False):
        waited = time.monotonic() - started
    other.kill()
    other.wait(10)
    assert waited < 1.0

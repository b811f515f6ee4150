"""The 60-second variant of the load benchmark: 50 clients against one hub, no errors, flat memory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# A whole hub driven hard and timed: such runs share one test process in a parallel suite, one after the other.
pytestmark = pytest.mark.xdist_group("whole_hub_under_load")

BENCH = Path(__file__).resolve().parents[2] / "bench" / "load.py"


@pytest.mark.slow
def test_fifty_clients_for_a_minute_get_no_errors_and_memory_stays_flat() -> None:
    completed = subprocess.run(
        [sys.executable, str(BENCH), "--clients", "50", "--duration", "60", "--json"],
        check=False,
        capture_output=True,
        text=True,
        timeout=240,
    )
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert completed.returncode == 0 and result["errors"] == 0, result
    assert result["requests"] > 500, result
    assert result["rss_end_mib"] - result["rss_warm_mib"] < 64, result

"""The sandboxed side of a `python` app: set the limits, then run the user's function from stdin to stdout.

Runs inside bubblewrap, already under the sandbox's own uid (see `sandbox`). It imports
only the standard library, so the sandbox needs no view of the hub's code, and the user's
module is imported here, never in the hub. A failure ends with one line on stderr,
`MARK Type: message (at file:line)`, which the hub turns into the partition's error;
no traceback (it would show paths) leaves the sandbox.

Run as `python -I child.py LIMITS_JSON MODULE:FUNCTION PARAMS_JSON PATH_JSON`, or with
`--probe` alone to check that the sandbox works.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import sys
import traceback
from typing import Any

MARK = "headwater-sandbox-error:"
MEBIBYTE = 1024 * 1024


def limit(limits: dict[str, int]) -> None:
    """Lower this process's limits (soft and hard alike, so the function cannot raise them again)."""
    cpu = limits["cpu_seconds"]
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))  # SIGXCPU at the limit, SIGKILL a second later
    for kind, value in (
        (resource.RLIMIT_AS, limits["memory_mb"] * MEBIBYTE),
        (resource.RLIMIT_FSIZE, limits["file_size_mb"] * MEBIBYTE),
        (resource.RLIMIT_NPROC, limits["processes"]),
        (resource.RLIMIT_CORE, 0),
    ):
        resource.setrlimit(kind, (value, value))


def report(exc: BaseException) -> None:
    """One line naming the error and the innermost frame's file name and line, no directory."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno})" if frames else ""
    text = " ".join(str(exc).split())[:500]
    sys.stderr.write(f"\n{MARK} {type(exc).__name__}{': ' + text if text else ''}{where}\n")


def probe() -> int:
    """What the hub's start-up check runs: succeed only without root and with the limits in place."""
    limit({"cpu_seconds": 5, "memory_mb": 512, "file_size_mb": 1, "processes": 64})
    if os.getuid() == 0 or os.geteuid() == 0 or os.getgid() == 0:
        sys.stderr.write("the sandboxed process still runs as root\n")
        return 1
    sys.stdout.write("ok\n")
    sys.stdout.flush()
    return 0


def main(argv: list[str]) -> int:
    if argv == ["--probe"]:
        return probe()
    limits, ref, params, path = json.loads(argv[0]), argv[1], json.loads(argv[2]), json.loads(argv[3])
    limit(limits)
    out = os.fdopen(os.dup(1), "wb", buffering=1 << 20)
    os.dup2(2, 1)  # stray prints go to stderr, never into the output
    sys.stdout = sys.stderr
    sys.path[:0] = path
    try:
        module_name, _, attribute = ref.partition(":")
        function: Any = getattr(importlib.import_module(module_name), attribute)
        function(sys.stdin.buffer, out, **params)
        out.flush()
    except BaseException as exc:
        report(exc)
        return 1
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stderr.flush()
    os._exit(code)  # no interpreter shutdown: threads the function left behind cannot keep the sandbox alive

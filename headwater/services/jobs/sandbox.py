"""Run a user function in a child process: input on its stdin, output on its stdout, nothing else.

The child gets a scrubbed environment (no HEADWATER_*, no cloud or database
variables: only PATH, locale and the interpreter's module path), a fresh temporary
working directory, and none of the hub's state: no store, no vault, no connector.
Whatever it prints goes to stderr, whose tail lands in the job's log. The output is
committed only when the function returns and the child exits 0.

Run as `python -m headwater.services.jobs.sandbox module:function '{"params": ...}'`.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio

from headwater.connectors.base import Entry
from headwater.services.jobs.streams import AppFailed, leaf

STDERR_TAIL = 4000
KEPT_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "SYSTEMROOT")


def child_env() -> dict[str, str]:
    env = {name: os.environ[name] for name in KEPT_ENV if name in os.environ}
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


async def run(
    function: str,
    params: dict[str, Any],
    chunks: AsyncIterator[bytes],
    write: Callable[[AsyncIterator[bytes]], Awaitable[Entry]],
) -> Entry:
    """Stream `chunks` through `function` in a child process into `write`; raise `AppFailed` if it fails."""
    command = [sys.executable, "-m", "headwater.services.jobs.sandbox", function, json.dumps(params)]
    errors = bytearray()
    with tempfile.TemporaryDirectory(prefix="headwater-app-") as workdir:
        process = await anyio.open_process(command, env=child_env(), cwd=workdir, start_new_session=True)
        assert process.stdin is not None and process.stdout is not None and process.stderr is not None
        try:
            async with anyio.create_task_group() as group:

                async def feed() -> None:
                    assert process.stdin is not None
                    try:
                        async for chunk in chunks:
                            await process.stdin.send(chunk)
                    except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                        pass  # the function stopped reading: its exit status decides
                    finally:
                        await process.stdin.aclose()

                async def drain() -> None:
                    assert process.stderr is not None
                    async for chunk in process.stderr:
                        errors.extend(chunk)
                        del errors[:-STDERR_TAIL]

                async def output() -> AsyncIterator[bytes]:
                    assert process.stdout is not None
                    async for chunk in process.stdout:
                        yield chunk
                    code = await process.wait()
                    if code != 0:
                        tail = errors.decode(errors="replace").strip().splitlines()[-5:]
                        raise AppFailed(f"{function} exited with status {code}: {' | '.join(tail)}"[:2000])

                group.start_soon(feed)
                group.start_soon(drain)
                entry = await write(output())
        except BaseExceptionGroup as group_error:
            raise leaf(group_error) from None
        finally:
            if process.returncode is None:
                process.kill()
                with anyio.CancelScope(shield=True):
                    await process.wait()
    return entry


def main(argv: list[str]) -> int:
    """The child's side: import the function and call it with stdin and stdout as binary streams."""
    ref, raw = argv[0], argv[1] if len(argv) > 1 else "{}"
    module_name, _, attribute = ref.partition(":")
    out = os.fdopen(os.dup(1), "wb", buffering=1 << 20)
    os.dup2(2, 1)  # stray prints go to stderr, never into the output
    sys.stdout = sys.stderr
    function = getattr(importlib.import_module(module_name), attribute)
    params = json.loads(raw)
    function(sys.stdin.buffer, out, **params)
    out.flush()
    out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


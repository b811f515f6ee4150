"""`jobs_app.upper:run`: upper-cases its input, streaming; `fail` makes it fail halfway."""

from __future__ import annotations

import os
from typing import BinaryIO


def run(source: BinaryIO, sink: BinaryIO, fail: bool = False, prefix: str = "") -> None:
    if prefix:
        sink.write(prefix.encode())
    while chunk := source.read(64 * 1024):
        sink.write(chunk.upper())
        if fail:
            raise RuntimeError("asked to fail")


def environment(source: BinaryIO, sink: BinaryIO) -> None:
    """Writes the names of the environment variables it can see (to prove no credential reaches it)."""
    source.read()
    sink.write("\n".join(sorted(os.environ)).encode())


def slow(source: BinaryIO, sink: BinaryIO, delay: float = 0.05, chunk: int = 1024) -> None:
    """Copies its input in small chunks, sleeping between them (a job that takes a while)."""
    import time

    while data := source.read(chunk):
        sink.write(data)
        sink.flush()
        time.sleep(delay)

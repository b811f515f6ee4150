"""`identity:run`: copies its input to its output; the jobs benchmark's trivial `python` app."""

from __future__ import annotations

from typing import BinaryIO


def run(source: BinaryIO, sink: BinaryIO) -> None:
    while chunk := source.read(1 << 20):
        sink.write(chunk)

"""Blocking reads of async byte streams: the one bridge from the event loop to code that reads
files (pyarrow's readers, database loaders, the apps of a job), which runs in threads of its own.

`bridge` pulls an async stream's chunks from any thread, one at a time, so memory stays bounded
by a chunk (`bridge_ahead` pulls the first chunk or so before the thread starts: a small stream
crosses no thread boundary at all); `ChunkReader` is a readable file over any iterator of chunks.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterable, Iterator
from typing import Any

import anyio.from_thread
import anyio.lowlevel
from anyio.lowlevel import EventLoopToken


def bridge(chunks: AsyncIterable[bytes], token: EventLoopToken | None = None) -> Iterator[bytes]:
    """The non-empty chunks of an async stream, pulled from a thread (`token`: the stream's event
    loop, needed when the thread was not started by that loop)."""
    iterator = chunks.__aiter__()

    async def pull() -> bytes | None:
        try:
            return await iterator.__anext__()
        except StopAsyncIteration:
            return None

    while True:
        chunk = anyio.from_thread.run(pull, token=token)
        if chunk is None:
            return
        if chunk:
            yield chunk


class Ahead(Iterator[bytes]):
    """The chunks of a stream whose head was pulled in its loop: the head from memory, then the rest
    pulled from the thread reading it. `whole()` is the stream's bytes when it ended within the head."""

    def __init__(self, head: list[bytes], rest: Iterator[bytes] | None) -> None:
        self._head = head
        self._rest = rest

    @property
    def ended(self) -> bool:
        """Whether the whole stream is in the head (no chunk is taken from it yet)."""
        return self._rest is None

    def whole(self) -> bytes:
        """All of a stream that ended within its head (joined by the caller's thread, not the loop)."""
        if self._rest is not None:
            raise ValueError("the stream did not end within what was read ahead")
        return self._head[0] if len(self._head) == 1 else b"".join(self._head)

    def __next__(self) -> bytes:
        if self._head:
            return self._head.pop(0)
        if self._rest is None:
            raise StopIteration
        return next(self._rest)


async def bridge_ahead(chunks: AsyncIterable[bytes], ahead: int) -> Ahead:
    """`bridge` over a stream whose first `ahead` bytes (or a chunk more) are pulled now, in the loop: a
    stream that ends within them is then read from a thread with no hop back to the loop (a small file
    costs its reader none). Call it in the stream's event loop."""
    iterator = chunks.__aiter__()
    head: list[bytes] = []
    size = 0
    while size < ahead:
        try:
            chunk = await iterator.__anext__()
        except StopAsyncIteration:
            return Ahead(head, None)
        if chunk:
            head.append(chunk)
            size += len(chunk)
    return Ahead(head, bridge(iterator, anyio.lowlevel.current_token()))


class ChunkReader(io.RawIOBase):
    """A readable file over an iterator of byte chunks.

    A read fills the whole buffer unless the stream ends (pyarrow takes a short read for the end
    of a block), holding at most one chunk beyond what was asked for.
    """

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._held = memoryview(b"")
        self._eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        view = memoryview(target).cast("B")
        filled = 0
        while filled < len(view):
            if not self._held:
                if self._eof:
                    break
                try:
                    self._held = memoryview(next(self._chunks)).cast("B")
                except StopIteration:
                    self._eof = True
                    break
            size = min(len(view) - filled, len(self._held))
            view[filled : filled + size] = self._held[:size]
            self._held = self._held[size:]
            filled += size
        return filled

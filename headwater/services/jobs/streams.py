"""Byte streams between the async connectors and the blocking code of apps (pyarrow, user functions).

An app runs in a worker thread of the partition's event loop. It reads its input
through `connectors.blocking` (pulling the connector's async chunks) and writes through
`ChunkWriter` (pushing chunks to the destination's atomic write). Memory is
bounded by a few chunks. An output stream only ends cleanly with an explicit
end marker, so an app that fails never commits a partial output.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import anyio
import anyio.lowlevel
from anyio.abc import ObjectSendStream

T = TypeVar("T")
QUEUE = 2
_END = object()


class AppFailed(Exception):
    """The app stopped without finishing its output; nothing was committed."""


def leaf(exc: BaseException) -> BaseException:
    """The first real error inside (nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


class ChunkWriter(io.RawIOBase):
    """A blocking writer that hands chunks of `chunk_size` to an async consumer."""

    def __init__(self, send: ObjectSendStream[Any], chunk_size: int, token: Any = None) -> None:
        self._send = send
        self._token = token
        self._chunk_size = chunk_size
        self._pending: list[bytes] = []  # joined once when handed on: each byte is copied twice, not three times
        self._size = 0
        self.position = 0

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def write(self, data: Any) -> int:
        raw = bytes(data)  # the writer may reuse its buffer once this returns
        self._pending.append(raw)
        self._size += len(raw)
        self.position += len(raw)
        if self._size >= self._chunk_size:
            self.flush_pending()
        return len(raw)

    def take_pending(self) -> bytes:
        """What was written and not yet handed on (the caller hands it on)."""
        chunk = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending, self._size = [], 0
        return chunk

    def flush_pending(self) -> None:
        if self._pending:
            anyio.from_thread.run(self._send.send, self.take_pending(), token=self._token)

    def close(self) -> None:  # closing the app's handle must not end the stream: `finish` does
        pass


async def _ended(receive: Any) -> AsyncIterator[bytes]:
    async for item in receive:
        if item is _END:
            return
        yield item
    raise AppFailed("the app stopped before finishing its output")


async def through_thread(
    work: Callable[[ChunkWriter], T],
    consume: Callable[[AsyncIterator[bytes]], Awaitable[Any]],
    chunk_size: int,
) -> tuple[T, Any]:
    """Run blocking `work(writer)` in a thread while `consume` streams what it writes; return both results."""
    send, receive = anyio.create_memory_object_stream[Any](QUEUE)
    outcome: dict[str, Any] = {}
    token = anyio.lowlevel.current_token()

    def blocking() -> tuple[T, bytes]:
        writer = ChunkWriter(send, chunk_size, token)
        return work(writer), writer.take_pending()

    async def produce() -> None:
        try:
            result, last = await anyio.to_thread.run_sync(blocking)
            if last:  # the last chunk and the end go from the loop: no hop back into it from the thread
                await send.send(last)
            await send.send(_END)
            outcome["work"] = result
        finally:
            send.close()  # without the end marker first, the consumer raises instead of committing

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(produce)
            async with receive:
                outcome["consume"] = await consume(_ended(receive))
    except BaseExceptionGroup as group_error:
        raise leaf(group_error) from None
    return outcome["work"], outcome["consume"]


class Meter:
    """Counts the bytes (and the SHA-256) of a stream as it passes."""

    def __init__(self, digest: bool = False) -> None:
        self.bytes = 0
        self._hash = hashlib.sha256() if digest else None

    @property
    def sha256(self) -> str | None:
        return self._hash.hexdigest() if self._hash is not None else None

    async def wrap(
        self, chunks: AsyncIterator[bytes], check: Callable[[], Awaitable[None]] | None = None
    ) -> AsyncIterator[bytes]:
        async for chunk in chunks:
            if check is not None:
                await check()
            self.bytes += len(chunk)
            if self._hash is not None:
                self._hash.update(chunk)
            yield chunk

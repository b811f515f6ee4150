"""Read an async iterator ahead of its consumer.

`first_chunk` and `resumed`: a byte stream's first chunk is pulled before a response starts, so a
failure at the start (missing, refused, a bad query) is still an error status; then the stream
goes on from it, and is released however it ends.

`Ahead`: one item ahead, so a backend's next request overlaps the work on this one. obstore's streams fetch their next page only when asked; a listing that turns each page into
entries would wait for the backend and then work, one after the other. `Ahead` asks for the first
item at once and for the next one as soon as it hands over the current one: one request in flight,
never more, so a consumer that stops early has cost the backend at most one request it did not need.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Ahead(Generic[T]):
    """`source`'s items, the next one fetched while the current one is used, as long as `wanted()`
    says more will be wanted (after that, the next is fetched only when asked for).

    A failure of `source` is raised where its item would have come. `aclose` stops the fetching.
    """

    def __init__(self, source: AsyncIterator[T], wanted: Callable[[], bool] = lambda: True) -> None:
        self._source = source
        self._wanted = wanted
        self._pending: asyncio.Future[T] | None = asyncio.ensure_future(source.__anext__())

    def __aiter__(self) -> Ahead[T]:
        return self

    async def __anext__(self) -> T:
        pending, self._pending = self._pending, None
        item = await (pending if pending is not None else self._source.__anext__())
        if self._wanted():
            self._pending = asyncio.ensure_future(self._source.__anext__())
        return item

    async def aclose(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None


async def first_chunk(chunks: AsyncIterator[bytes], release: Callable[[], Awaitable[None]]) -> bytes:
    """The stream's first chunk (`b""` if it is empty); `release` runs when pulling it fails."""
    try:
        return await chunks.__anext__()
    except StopAsyncIteration:
        return b""
    except BaseException:
        await release()
        raise


async def resumed(
    first: bytes, rest: AsyncIterator[bytes], release: Callable[[], Awaitable[None]]
) -> AsyncIterator[bytes]:
    """`first`, then the rest of the stream; `release` runs however it ends (a client that left included)."""
    try:
        if first:
            yield first
        async for chunk in rest:
            yield chunk
    finally:
        await release()

"""Read an async iterator one item ahead of its consumer, so a backend's next request overlaps the work on this one.

obstore's streams fetch their next page only when asked; a listing that turns each page into
entries would wait for the backend and then work, one after the other. `ahead` asks for the next
item as soon as it hands over the current one: one request in flight, never more, so a consumer
that stops early has cost the backend at most one request it did not need.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

T = TypeVar("T")


async def ahead(source: AsyncIterator[T], wanted: Callable[[], bool] = lambda: True) -> AsyncIterator[T]:
    """Yield `source`'s items, fetching the next one while the current one is used, as long as
    `wanted()` says more will be wanted (after that, the next is fetched only when asked for).

    A failure of `source` is raised where its item would have come.
    """
    pending: asyncio.Future[T] | None = asyncio.ensure_future(source.__anext__())
    try:
        while True:
            try:
                item = await (pending if pending is not None else source.__anext__())
            except StopAsyncIteration:
                return
            pending = asyncio.ensure_future(source.__anext__()) if wanted() else None
            yield item
    finally:
        if pending is not None:
            pending.cancel()

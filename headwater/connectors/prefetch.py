"""Read an async iterator ahead of its consumer, so a backend's next request overlaps the work on this item.

obstore's streams fetch their next page only when asked; a listing that turns each page into
entries would wait for the backend and then work, one after the other. `ahead` asks for the next
item while the consumer handles the current one, holding at most `depth` items besides it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


async def ahead(source: AsyncIterator[T], depth: int = 1) -> AsyncIterator[T]:
    """Yield `source`'s items, fetching the next ones (up to `depth` waiting) while the current one is used.

    A failure of `source` is raised where its item would have come; a consumer that stops early
    stops the fetching too.
    """
    queue: asyncio.Queue[tuple[object, BaseException | None]] = asyncio.Queue(maxsize=depth)

    async def pump() -> None:
        try:
            async for item in source:
                await queue.put((item, None))
        except Exception as exc:
            await queue.put((_DONE, exc))
            return
        await queue.put((_DONE, None))

    task = asyncio.ensure_future(pump())
    try:
        while True:
            item, error = await queue.get()
            if item is _DONE:
                if error is not None:
                    raise error
                return
            yield item  # type: ignore[misc]
    finally:
        task.cancel()  # never awaited: it holds nothing but the source, and ends at its next step

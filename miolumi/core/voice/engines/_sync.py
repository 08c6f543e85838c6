"""Run a blocking synthesis iterator in worker threads, one item at a time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


async def iterate_in_thread(make: Callable[[], Iterator[T]]) -> AsyncIterator[T]:
    """Yield the items of the iterator ``make()`` returns, each computed off the event loop.

    The iterator is made and its first item computed in one trip to a worker thread, so
    the first audio does not wait for an extra thread hop.
    """

    def start() -> tuple[Iterator[T], object]:
        iterator = make()
        return iterator, next(iterator, _DONE)

    iterator, item = await asyncio.to_thread(start)
    while item is not _DONE:
        yield item  # type: ignore[misc]
        item = await asyncio.to_thread(next, iterator, _DONE)

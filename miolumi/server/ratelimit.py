"""Per-user rate limits with the ``limits`` package (moving window).

Counters live in memory by default (per worker); ``MIOLUMI_RATE_LIMIT_STORAGE`` points
them at a shared store such as Redis so every worker counts together.
"""

from __future__ import annotations

import time

from limits import RateLimitItem, parse_many
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from miolumi.errors import ConfigError, RateLimitedError


class RateLimiter:
    """Admits or refuses one user's request against every configured limit."""

    def __init__(self, *, limit: str, storage: str) -> None:
        try:
            self._items: list[RateLimitItem] = parse_many(limit)
            backend = storage_from_string(_async_scheme(storage))
        except ValueError as exc:
            raise ConfigError(
                f"Cannot use the rate limit {limit!r} with storage {storage!r}: {exc}. "
                "Set MIOLUMI_RATE_LIMIT like '120/minute' and MIOLUMI_RATE_LIMIT_STORAGE "
                "like memory:// or redis://host:6379."
            ) from exc
        self._limit = limit
        self._limiter = MovingWindowRateLimiter(backend)

    async def hit(self, user_id: str) -> None:
        """Count one request of ``user_id``; raise `RateLimitedError` when over a limit."""
        for item in self._items:
            if not await self._limiter.hit(item, "user", user_id):
                stats = await self._limiter.get_window_stats(item, "user", user_id)
                raise RateLimitedError(
                    limit=self._limit, retry_after=max(1.0, stats.reset_time - time.time())
                )


def _async_scheme(url: str) -> str:
    """``limits`` names its asyncio storages ``async+<scheme>``."""
    return url if url.startswith("async+") else f"async+{url}"

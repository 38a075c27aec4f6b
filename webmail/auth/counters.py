"""Counting in Redis over a window that starts with the first count: sign-in starts per
network, per national id."""

from __future__ import annotations

from redis.asyncio import Redis


async def count_one(redis: Redis, key: str, window_seconds: int) -> int:
    """Adds one to ``key``; the count since the window began (it ends ``window_seconds``
    after the first count, later counts do not push it back)."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, window_seconds, nx=True)
        count, _ = await pipe.execute()
    return int(count)

"""Failed-attempt limits kept in PostgreSQL, so every API process counts the same attempts.

A bucket (``signin_account``, ``signin_address``, ``token_client``, ``token_address``) and a key
(an email as typed, an address, a client id) name a counter. Keys are stored as SHA-256: the
table must not become a list of the emails people tried.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from auth.hashing import digest
from auth.store import Executor


@dataclass(frozen=True)
class Limit:
    bucket: str
    key: str
    max_failures: int


class FailureLimiter:
    def __init__(
        self,
        executor: Callable[[], Executor],
        window: timedelta,
        now: Callable[[], datetime],
    ) -> None:
        self._executor = executor
        self._window = window
        self._now = now

    async def retry_after(self, limits: Sequence[Limit]) -> int | None:
        """Seconds until every limit allows another attempt; ``None`` when they all do now."""
        now = self._now()
        wait = 0.0
        for limit in limits:
            # The max_failures-th most recent failure in the window: once it leaves the
            # window, fewer than max_failures remain.
            oldest_blocking = await self._executor().fetchval(
                "SELECT attempted_at FROM auth_failed_attempt"
                " WHERE bucket = $1 AND key_hash = $2 AND attempted_at > $3"
                " ORDER BY attempted_at DESC OFFSET $4 LIMIT 1",
                limit.bucket,
                digest(limit.key),
                now - self._window,
                max(limit.max_failures - 1, 0),
            )
            if oldest_blocking is not None:
                wait = max(wait, (oldest_blocking + self._window - now).total_seconds())
        return max(1, math.ceil(wait)) if wait > 0 else None

    async def record_failure(self, limits: Sequence[Limit]) -> None:
        """Count a failure in each bucket, and forget this key's failures past the window."""
        if not limits:
            return
        now = self._now()
        buckets = [limit.bucket for limit in limits]
        keys = [digest(limit.key) for limit in limits]
        await self._executor().execute(
            "WITH expired AS (DELETE FROM auth_failed_attempt a USING"
            " unnest($1::text[], $2::text[]) AS k(bucket, key_hash)"
            " WHERE a.bucket = k.bucket AND a.key_hash = k.key_hash AND a.attempted_at <= $4)"
            " INSERT INTO auth_failed_attempt (bucket, key_hash, attempted_at)"
            " SELECT bucket, key_hash, $3"
            " FROM unnest($1::text[], $2::text[]) AS k(bucket, key_hash)",
            buckets,
            keys,
            now,
            now - self._window,
        )

    async def forget(self, limit: Limit) -> None:
        """A success clears its own counter (an account that signed in starts afresh)."""
        await self._executor().execute(
            "DELETE FROM auth_failed_attempt WHERE bucket = $1 AND key_hash = $2",
            limit.bucket,
            digest(limit.key),
        )

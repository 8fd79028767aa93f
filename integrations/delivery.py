"""What an outbound call raises when the peer answered, but not with a 2xx."""

from __future__ import annotations

from datetime import timedelta


class DeliveryRefused(Exception):
    """The peer answered, but not with a 2xx. ``retry_after``: the peer asked not to be tried
    again before this long (``Retry-After``); the worker waits at least that."""

    def __init__(self, message: str, *, retry_after: timedelta | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after

"""Database trouble as every web entry point sees it: which errors mean the database is
unreachable (a 503 to retry) or refused a value (bad input), how long to wait, and a log that
warns once when an outage starts and once when it ends."""

from __future__ import annotations

import logging

import asyncpg

RETRY_AFTER_SECONDS = 5
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.ConnectionFailureError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    OSError,
    TimeoutError,
)


def database_unavailable(error: BaseException | None) -> bool:
    """The database cannot be reached (down, restarting, out of connections, pool timeout):
    a 503 to retry, not a bug."""
    seen = 0
    while error is not None and seen < 8:
        if unstorable_value(error):
            return False
        if isinstance(error, _UNAVAILABLE):
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


def unstorable_value(error: BaseException | None) -> bool:
    """PostgreSQL or its driver refused a value (out of range, NUL in text): bad input that an
    entry-point check missed, answered as such rather than as a bug."""
    return isinstance(
        error,
        asyncpg.exceptions.DataError | asyncpg.exceptions._base.DataError | OverflowError,
    )


class OutageLog:
    """One warning when the database becomes unreachable, one when it answers again: a
    request failing during an outage is expected, and logs nothing of its own."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self.down = False

    def failed(self, error: BaseException) -> None:
        if not self.down:
            self.down = True
            self._logger.warning("the database is unreachable (%s); answering 503", error)

    def filter(self, record: logging.LogRecord) -> bool:
        """For asyncpg's pool logger: its reconnect attempts add nothing during an outage."""
        return not self.down

    def succeeded(self) -> None:
        if self.down:
            self.down = False
            self._logger.warning("the database answers again")

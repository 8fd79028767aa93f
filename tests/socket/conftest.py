"""The socket suite: HTTP over real TCP against one real ``provision serve`` process.

The e2e tests call the app in-process (``httpx.ASGITransport``), which skips the HTTP server:
framing, keep-alive, pipelining, half-sent or malformed requests, concurrent connections.
These tests start ``provision serve`` once per session on 127.0.0.1 and a free port, against
the session's migrated database (``DATABASE_URL``), and talk to it with raw sockets
(``raw_http``, byte-exact) and httpx over TCP. They assert what uvicorn and the app do today.
Every socket operation has a timeout, so a hang fails one test in seconds. Alone:
``.venv/bin/python -m pytest tests/socket`` (about 10 s, most of it starting the server).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from provision_process import Served, environment, mint_token, serving


@pytest.fixture(scope="session")
def serve_env(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    # No embedded PostgreSQL may start: the data directory must stay unused.
    return environment(tmp_path_factory.mktemp("socket") / "unused-data", database_url)


@pytest.fixture(scope="session")
def served(serve_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The one ``provision serve`` of the session, stopped by SIGTERM at its end."""
    with serving(
        serve_env, tmp_path_factory.mktemp("serve"), stop=signal.SIGTERM, exit_code=0
    ) as server:
        yield server


@pytest.fixture(scope="session")
def port(served: Served) -> int:
    return served.port


@pytest.fixture(scope="session")
def staff_token(served: Served, serve_env: dict[str, str]) -> str:
    """A token from ``provision token issue`` on the same database, every staff scope."""
    return mint_token(serve_env, subject="socket:staff")

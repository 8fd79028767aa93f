"""While PostgreSQL is unreachable the API answers 503 with ``Retry-After`` (GraphQL:
``SERVICE_UNAVAILABLE``), logs one warning when the outage starts and one when it ends - not a
traceback per request - and serves again once the database is back. The outage is real: the
app reaches the session's server through a TCP relay that the test cuts and restores."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx
import pytest

from api.app import create_app
from api.settings import Settings

from bearer import bearer, token_for
from clocks import SESSION_CLOCK

COUNT = "{ subscriptions { totalCount } }"


class Relay:
    """A TCP port that forwards to the PostgreSQL server (unix socket or TCP)."""

    def __init__(self, dsn: str) -> None:
        parts = urlsplit(dsn)
        query = parse_qs(parts.query)
        self._host = parts.hostname or query.get("host", ["localhost"])[0]
        self._port = parts.port or int(query.get("port", ["5432"])[0])
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    def dsn_for(self, dsn: str) -> str:
        parts = urlsplit(dsn)
        user = parts.username or "postgres"
        auth = f"{user}:{parts.password}" if parts.password else user
        return urlunsplit(("postgresql", f"{auth}@127.0.0.1:{self.port}", parts.path, "", ""))

    async def _upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._host.startswith("/"):
            return await asyncio.open_unix_connection(f"{self._host}/.s.PGSQL.{self._port}")
        return await asyncio.open_connection(self._host, self._port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await self._upstream()
        self._writers |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, ConnectionError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()
        await self._server.wait_closed()


def _outage_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "provision.database"]


async def test_an_outage_is_a_503_logged_once(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    relay = Relay(database_url)
    await relay.start()
    app = create_app(
        Settings(
            database_url=relay.dsn_for(database_url),
            pool_max=2,
            gc_interval=0,
            gitlab_com_admin_email="outage@gitlab.test",
            gitlab_com_admin_token="outage-token",
        ),
        clock=SESSION_CLOCK,
    )
    admin = {"X-Admin-Email": "outage@gitlab.test", "X-Admin-Token": "outage-token"}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://provision.test",
            headers={**bearer(token_for(app)), **admin},
        ) as http:

            async def count() -> httpx.Response:
                return await http.post("/graphql", json={"query": COUNT})

            assert (await count()).status_code == 200
            caplog.set_level(logging.INFO)
            caplog.clear()
            await relay.cut()
            for _ in range(12):
                response = await count()
                assert response.status_code == 503, response.text
                assert int(response.headers["retry-after"]) > 0
                body: Any = response.json()
                assert [e["extensions"]["code"] for e in body["errors"]] == ["SERVICE_UNAVAILABLE"]
            for _ in range(4):
                response = await http.get(
                    "/api/v1/gitlab/namespaces/trials/eligibility",
                    params={"namespace_ids[]": "7"},
                )
                assert response.status_code == 503, response.text
                assert int(response.headers["retry-after"]) > 0
                assert response.json()["errors"]
            assert len(_outage_records(caplog)) == 1
            assert [r for r in caplog.records if r.exc_info] == []
            assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []

            await relay.start()
            recovered = await count()
            assert recovered.status_code == 200, recovered.text
            assert "errors" not in recovered.json()
            assert len(_outage_records(caplog)) == 2
            assert (await count()).status_code == 200
            assert len(_outage_records(caplog)) == 2
    await relay.cut()

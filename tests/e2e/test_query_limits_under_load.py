"""Over a real socket: /healthz keeps answering while 20 fan-out documents arrive at once."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from test_query_limits import fan_out

from api.app import create_app
from api.settings import Settings

from clocks import SESSION_CLOCK

ATTACKS = 20


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def served(database_url: str) -> Iterator[str]:
    port = _free_port()
    app = create_app(
        Settings(database_url=database_url, pool_max=2, gc_interval=0), clock=SESSION_CLOCK
    )
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.mark.timeout(60)
async def test_healthz_answers_during_parallel_fan_out_attacks(served: str) -> None:
    documents = [fan_out(variant) for variant in ("named", "inline", "aliases", "directives")]
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=served, timeout=10) as http:
        assert (await http.get("/healthz")).status_code == 200
        done = asyncio.Event()

        async def probe() -> None:
            while not done.is_set():
                started = time.perf_counter()
                response = await http.get("/healthz")
                latencies.append(time.perf_counter() - started)
                assert response.status_code == 200
                await asyncio.sleep(0.01)

        async def attack(i: int) -> int:
            query = documents[i % len(documents)]
            response = await http.post("/graphql", json={"query": query})
            return response.status_code

        prober = asyncio.create_task(probe())
        started = time.perf_counter()
        statuses = await asyncio.gather(*(attack(i) for i in range(ATTACKS)))
        attacks_took = time.perf_counter() - started
        done.set()
        await prober
    assert all(status in (200, 400) for status in statuses)
    assert attacks_took < 10
    assert latencies
    assert max(latencies) < 0.5, f"/healthz: max {max(latencies):.3f} s"

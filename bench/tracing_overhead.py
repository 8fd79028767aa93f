"""Tracing's cost per request: the same GraphQL request in process, tracing off and on.

Off is what runs without ``OTEL_EXPORTER_OTLP_ENDPOINT`` (no OpenTelemetry object at all); on
is the real instrumentation (the ASGI middleware, asyncpg's and httpx's instrumentors) with the
SDK's batch processor, exporting to memory so that no collector's speed is measured (the export
runs on the processor's thread anyway). The request reads a page of customers (two SQL
statements) as staff, through ``httpx.ASGITransport``, so the numbers are per request of one
process without a socket. Prints the median and p90 of each and the difference.

Run from the repository root: ``python bench/tracing_overhead.py [--requests 2000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import httpx
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from read_throughput import mint_staff_token
from seed import bench_database

from api.app import create_app
from api.settings import Settings
from persistence.migrations import migrate

QUERY = {"query": "query Bench { customers(first: 10) { edges { node { id company } } } }"}


async def timings(dsn: str, token: str, requests: int, provider: Any) -> list[float]:
    app = create_app(Settings(database_url=dsn, graphiql=False), tracer_provider=provider)
    seconds = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", headers=headers
        ) as client:
            for index in range(requests + requests // 10):
                started = time.perf_counter()
                response = await client.post("/graphql", json=QUERY)
                elapsed = time.perf_counter() - started
                assert response.status_code == 200
                assert "errors" not in response.json()
                if index >= requests // 10:  # the first tenth warms up
                    seconds.append(elapsed)
    return seconds


def summary(name: str, seconds: list[float]) -> float:
    ordered = sorted(seconds)
    median = statistics.median(ordered) * 1000
    p90 = ordered[int(len(ordered) * 0.9)] * 1000
    print(f"{name:<5} median {median:.3f} ms  p90 {p90:.3f} ms  ({len(ordered)} requests)")
    return median


async def main(requests: int) -> None:
    with bench_database() as dsn:
        await migrate(dsn)
        token = await mint_staff_token(dsn)
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(exporter))
        # Alternated, twice each, so that a warmer cache does not favour either.
        off: list[float] = []
        on: list[float] = []
        for _ in range(2):
            off += await timings(dsn, token, requests // 2, None)
            on += await timings(dsn, token, requests // 2, provider)
            exporter.clear()
        provider.shutdown()
        base = summary("off", off)
        traced = summary("on", on)
        print(f"tracing adds {traced - base:.3f} ms per request ({(traced / base - 1):.1%})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    asyncio.run(main(parser.parse_args().requests))

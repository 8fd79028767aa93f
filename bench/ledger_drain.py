"""Ledger drain rate: rows per minute that 2 ``provision worker`` processes complete.

Starts 2 workers (default settings but for the ones given below) against one database, commits
N HTTP_PING rows in one transaction, and times until every row is SUCCEEDED. Each row's step
POSTs to a fake peer (a small ASGI app on a real socket, in a thread of this process) that
counts deliveries by event id, so the run also checks that every row ran exactly once.
Run from the repository root: ``python bench/ledger_drain.py`` (see bench/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import uvicorn
from seed import bench_database
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from domain.model.provision_event import ProvisionEvent
from integrations.clock import SystemClock
from integrations.http_ping import HTTP_PING_KIND
from persistence.database import Database
from persistence.ledger import PostgresOutbox
from persistence.migrations import migrate
from persistence.unit_of_work import PostgresUnitOfWork

TARGET_ROWS_PER_MINUTE = 10_000
WORKERS = 2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def serve_peer(port: int, deliveries: Counter[str]) -> uvicorn.Server:
    async def ping(request: Request) -> Response:
        deliveries[(await request.json())["event_id"]] += 1
        return Response("ok")

    config = uvicorn.Config(
        Starlette(routes=[Route("/ping", ping, methods=["POST"])]),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        ws="none",
        backlog=2048,
    )
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the peer did not start")
        time.sleep(0.02)
    return server


def start_workers(dsn: str, folder: Path, concurrency: int) -> list[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if k != "PICCOLO_CONF"}
    env.update(
        DATABASE_URL=dsn,
        PROVISION_WORKER_CONCURRENCY=str(concurrency),
        PROVISION_LOG_LEVEL="warning",
    )
    processes = []
    for n in range(WORKERS):
        log = (folder / f"worker-{n}.log").open("wb")
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "api.cli.main", "worker"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    deadline = time.monotonic() + 60
    for n, process in enumerate(processes):
        while " started: " not in (folder / f"worker-{n}.log").read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((folder / f"worker-{n}.log").read_text())
            time.sleep(0.05)
    return processes


async def drain(dsn: str, rows: int, url: str) -> float:
    """Commit ``rows`` events at once; seconds until all succeeded."""
    db = Database(dsn, pool_min=1, pool_max=2)
    await db.start()
    try:
        now = SystemClock().now()
        events = [
            ProvisionEvent.new(
                HTTP_PING_KIND, {"url": url, "body": {"n": n}}, now=now, max_attempts=8
            )
            for n in range(rows)
        ]
        async with PostgresUnitOfWork(db) as uow:
            assert isinstance(uow.outbox, PostgresOutbox)
            await uow.outbox.record_many(events)
            await uow.commit()
        started = time.monotonic()
        last_report = started
        while True:
            done = await db.fetchval(
                "SELECT count(*) FROM provision_event WHERE status = 'SUCCEEDED'"
            )
            if done == rows:
                return time.monotonic() - started
            if time.monotonic() - last_report > 2:
                last_report = time.monotonic()
                print(f"  {done:,} of {rows:,} done", file=sys.stderr)
            if time.monotonic() - started > 600:
                raise RuntimeError(f"only {done} of {rows} rows done in 10 minutes")
            await asyncio.sleep(0.1)
    finally:
        await db.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000, help="rows to drain (20,000)")
    parser.add_argument(
        "--concurrency", type=int, default=16, help="steps in flight per worker (16)"
    )
    args = parser.parse_args(argv)
    port = free_port()
    deliveries: Counter[str] = Counter()
    peer = serve_peer(port, deliveries)
    with bench_database() as dsn, tempfile.TemporaryDirectory() as logs:
        asyncio.run(migrate(dsn))
        processes = start_workers(dsn, Path(logs), args.concurrency)
        try:
            print(f"draining {args.rows:,} rows with {WORKERS} workers…", file=sys.stderr)
            seconds = asyncio.run(drain(dsn, args.rows, f"http://127.0.0.1:{port}/ping"))
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                process.wait(timeout=60)
    peer.should_exit = True
    rate = args.rows / seconds * 60
    exactly_once = len(deliveries) == args.rows and set(deliveries.values()) == {1}
    print(
        f"{args.rows:,} HTTP_PING rows, {WORKERS} workers x {args.concurrency} in flight:"
        f" {seconds:.1f} s"
    )
    verdict = "PASS" if rate >= TARGET_ROWS_PER_MINUTE else "FAIL"
    print(f"rows drained per minute = {rate:,.0f}  target >= {TARGET_ROWS_PER_MINUTE:,}  {verdict}")
    print(f"every row delivered exactly once: {'PASS' if exactly_once else 'FAIL'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

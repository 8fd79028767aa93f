"""Webhook deliveries per minute: 2 ``provision worker`` processes to a local receiver.

Registers one endpoint (``http://127.0.0.1:<port>/hook``, loopback allowed for the run),
commits N WEBHOOK_DELIVERY rows spread over S subscriptions (so the per-subscription FIFO
lanes are in play: at most one delivery per lane in flight) in one transaction, and times
until every row is SUCCEEDED. The receiver (a small ASGI app on a real socket, in a thread of
this process) verifies each request with the ``standardwebhooks`` package and counts
deliveries by ``webhook-id``, so the run also checks every event arrived exactly once and in
order per subscription. Run from the repository root: ``python bench/webhook_deliveries.py``.
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
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import uvicorn
from seed import bench_database
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from domain.model.webhook import (
    WebhookEndpoint,
    WebhookEventType,
    delivery_row,
    message,
    new_secret,
)
from integrations.clock import SystemClock
from persistence.database import Database
from persistence.ledger import PostgresOutbox
from persistence.migrations import migrate
from persistence.repositories import PostgresWebhookEndpoints

TARGET_PER_MINUTE = 10_000
WORKERS = 2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Receiver:
    def __init__(self, secret: str) -> None:
        self.hook = Webhook(secret)
        self.deliveries: Counter[str] = Counter()
        self.order: dict[str, list[int]] = defaultdict(list)
        self.refused = 0
        self.lock = threading.Lock()

    async def receive(self, request: Request) -> Response:
        body = await request.body()
        try:
            event = self.hook.verify(body, dict(request.headers))
        except WebhookVerificationError:
            self.refused += 1
            return Response(status_code=400)
        with self.lock:
            self.deliveries[request.headers["webhook-id"]] += 1
            data = event["data"]
            self.order[data["subscription"]["id"]].append(data["seq"])
        return Response(status_code=204)


def serve(port: int, receiver: Receiver) -> uvicorn.Server:
    config = uvicorn.Config(
        Starlette(routes=[Route("/hook", receiver.receive, methods=["POST"])]),
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
            raise RuntimeError("the receiver did not start")
        time.sleep(0.02)
    return server


def start_workers(dsn: str, folder: Path, concurrency: int) -> list[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if k != "PICCOLO_CONF"}
    env.update(
        DATABASE_URL=dsn,
        PROVISION_WORKER_CONCURRENCY=str(concurrency),
        PROVISION_WEBHOOKS_ALLOW_HTTP_LOOPBACK="true",
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


async def record(dsn: str, url: str, rows: int, subscriptions: int) -> tuple[str, list[str]]:
    """The endpoint and its rows, committed; (its secret, the rows' webhook-ids)."""
    db = Database(dsn, pool_min=1, pool_max=2)
    await db.start()
    try:
        now = SystemClock().now()
        endpoint = WebhookEndpoint(
            url=url, event_types=tuple(WebhookEventType), secret=new_secret(), created_at=now
        )
        await PostgresWebhookEndpoints(db).add(endpoint)
        subs = [uuid.uuid4() for _ in range(subscriptions)]
        events = []
        for n in range(rows):
            sub = subs[n % subscriptions]
            body = message(
                WebhookEventType.SUBSCRIPTION_CHANGED,
                now,
                {"subscription": {"id": str(sub)}, "seq": n // subscriptions},
            )
            events.append(
                delivery_row(endpoint.id, WebhookEventType.SUBSCRIPTION_CHANGED, body, now, 50, sub)
            )
        async with db.engine.transaction():
            await PostgresOutbox(db).record_many(events)
        return endpoint.secret, [f"msg_{e.id.hex}" for e in events]
    finally:
        await db.stop()


async def wait_done(dsn: str, rows: int) -> float:
    db = Database(dsn, pool_min=1, pool_max=2)
    await db.start()
    try:
        started = time.monotonic()
        last_report = started
        while True:
            done = await db.fetchval(
                "SELECT count(*) FROM provision_event WHERE kind = 'WEBHOOK_DELIVERY'"
                " AND status = 'SUCCEEDED'"
            )
            if done == rows:
                return time.monotonic() - started
            if time.monotonic() - last_report > 2:
                last_report = time.monotonic()
                print(f"  {done:,} of {rows:,} delivered", file=sys.stderr)
            if time.monotonic() - started > 600:
                raise RuntimeError(f"only {done} of {rows} delivered in 10 minutes")
            await asyncio.sleep(0.1)
    finally:
        await db.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000, help="deliveries (20,000)")
    parser.add_argument(
        "--subscriptions", type=int, default=2_000, help="FIFO lanes they spread over (2,000)"
    )
    parser.add_argument("--concurrency", type=int, default=32, help="in flight per worker (32)")
    args = parser.parse_args(argv)
    port = free_port()
    with bench_database() as dsn, tempfile.TemporaryDirectory() as logs:
        asyncio.run(migrate(dsn))
        url = f"http://127.0.0.1:{port}/hook"
        # The rows first, then the workers: all of them are due when the workers start.
        secret, ids = asyncio.run(record(dsn, url, args.rows, args.subscriptions))
        receiver = Receiver(secret)
        server = serve(port, receiver)
        processes = start_workers(dsn, Path(logs), args.concurrency)
        try:
            print(f"delivering {args.rows:,} events with {WORKERS} workers…", file=sys.stderr)
            seconds = asyncio.run(wait_done(dsn, args.rows))
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                process.wait(timeout=60)
            server.should_exit = True
    rate = args.rows / seconds * 60
    once = set(receiver.deliveries) == set(ids) and set(receiver.deliveries.values()) == {1}
    in_order = all(seqs == sorted(seqs) for seqs in receiver.order.values())
    print(
        f"{args.rows:,} deliveries over {args.subscriptions:,} subscriptions,"
        f" {WORKERS} workers x {args.concurrency} in flight: {seconds:.1f} s"
    )
    verdict = "PASS" if rate >= TARGET_PER_MINUTE else "FAIL"
    print(
        f"webhook deliveries per minute = {rate:,.0f}  target >= {TARGET_PER_MINUTE:,}  {verdict}"
    )
    print(
        f"the receiver counted {sum(receiver.deliveries.values()):,} verified deliveries"
        f" ({receiver.refused} refused); each event exactly once: {'PASS' if once else 'FAIL'};"
        f" in order per subscription: {'PASS' if in_order else 'FAIL'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

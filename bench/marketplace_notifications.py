"""Marketplace notifications applied per second, end to end.

Serves Provision (``provision serve``, one process) and starts 2 ``provision worker``
processes on one database with a Stripe-style offer mapped, then POSTs signed
``customer.subscription.created`` and ``.updated`` events for N subscriptions (8 requests in
flight) and times from the first POST until every inbox row is settled: each event stored
(inbox row and ledger row in one transaction), claimed, applied through the subscription use
cases (customer and subscription created, then the seats changed) and settled. Checks that N
subscriptions exist, each with the updated seats, and that no event went DEAD.
Run from the repository root: ``python bench/marketplace_notifications.py`` (bench/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
from seed import bench_database

from domain.model.enums import Deployment, Plan
from domain.model.marketplace import Marketplace, OfferMapping
from integrations.clock import SystemClock
from persistence.database import Database
from persistence.marketplace import PostgresOfferMappings
from persistence.migrations import migrate

TARGET_PER_SECOND = 200
WORKERS = 2
SECRET = "whsec_bench"
IN_FLIGHT = 8


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _env(dsn: str, concurrency: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PICCOLO_CONF"}
    env.update(
        DATABASE_URL=dsn,
        PROVISION_STRIPE_WEBHOOK_SECRET=SECRET,
        PROVISION_WORKER_CONCURRENCY=str(concurrency),
        PROVISION_WORKER_POLL_SECONDS="0.05",
        PROVISION_LOG_LEVEL="warning",
    )
    return env


def _up(ready: str) -> bool:
    if ready.startswith("http"):
        try:
            return httpx.get(ready, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False
    return False


def start(
    command: list[str], env: dict[str, str], log: Path, ready: str
) -> subprocess.Popen[bytes]:
    """Start a ``provision`` command; ready when ``ready`` answers 200 (a URL) or appears
    in its log."""
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli.main", *command],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while not (_up(ready) or (not ready.startswith("http") and ready in log.read_text())):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait(timeout=10)
            raise RuntimeError(log.read_text())
        time.sleep(0.05)
    return process


def event(n: int, kind: str, created: int, quantity: int) -> bytes:
    return orjson.dumps(
        {
            "id": f"evt_{kind.rsplit('.', 1)[-1]}_{n}",
            "type": kind,
            "created": created,
            "data": {
                "object": {
                    "id": f"sub_{n}",
                    "customer": f"cus_{n}",
                    "status": "active",
                    "items": {
                        "data": [
                            {"quantity": quantity, "price": {"id": "price_1", "product": "prod_1"}}
                        ]
                    },
                    "metadata": {
                        "company": f"Company {n}",
                        "contact_name": "Ada",
                        "contact_email": f"ada{n}@example.test",
                    },
                }
            },
        }
    )


def signed(body: bytes) -> dict[str, str]:
    t = int(time.time())
    digest = hmac.new(SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return {"stripe-signature": f"t={t},v1={digest}", "content-type": "application/json"}


def raw_request(body: bytes) -> bytes:
    """The POST as bytes, signed now (HTTP/1.1, kept alive)."""
    head = "".join(f"{name}: {value}\r\n" for name, value in signed(body).items())
    return (
        b"POST /marketplaces/stripe/events HTTP/1.1\r\nhost: 127.0.0.1\r\n"
        + head.encode()
        + b"content-length: %d\r\n\r\n" % len(body)
        + body
    )


async def raw_response(reader: asyncio.StreamReader) -> int:
    """Read one answer (uvicorn gives a content-length); its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return int(lines[0].split()[1])


async def run(
    dsn: str, url: str, subscriptions: int, client: str = "raw"
) -> tuple[float, dict[str, Any]]:
    db = Database(dsn, pool_min=1, pool_max=2)
    await db.start()
    try:
        await PostgresOfferMappings(db).put(
            OfferMapping(
                Marketplace.STRIPE, "prod_1", "price_1", Plan.PREMIUM, Deployment.GITLAB_COM
            ),
            SystemClock().now(),
        )
        created = int(time.time())
        bodies = [
            event(n, "customer.subscription.created", created, 5) for n in range(subscriptions)
        ]
        bodies += [
            event(n, "customer.subscription.updated", created + 1, 7) for n in range(subscriptions)
        ]
        total = len(bodies)
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        for body in bodies:
            queue.put_nowait(body)
        statuses: list[int] = []
        limits = httpx.Limits(max_connections=IN_FLIGHT)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as http:

            async def sender() -> None:
                while not queue.empty():
                    body = queue.get_nowait()
                    answer = await http.post(
                        "/marketplaces/stripe/events", content=body, headers=signed(body)
                    )
                    statuses.append(answer.status_code)

            async def raw_sender() -> None:
                # The same requests on one kept-alive connection each, written and read
                # with asyncio streams: a load generator that takes a tenth of httpx's CPU
                # from the two cores the server, the workers and PostgreSQL share.
                host, port = url.removeprefix("http://").split(":")
                reader, writer = await asyncio.open_connection(host, int(port))
                try:
                    while not queue.empty():
                        writer.write(raw_request(queue.get_nowait()))
                        statuses.append(await raw_response(reader))
                finally:
                    writer.close()
                    await writer.wait_closed()

            started = time.monotonic()
            one = raw_sender if client == "raw" else sender
            await asyncio.gather(*(one() for _ in range(IN_FLIGHT)))
            posted = time.monotonic() - started
            print(f"  {total:,} events posted in {posted:.1f} s", file=sys.stderr)
            while True:
                settled = await db.fetchval(
                    "SELECT count(*) FROM marketplace_inbox WHERE state <> 'RECEIVED'"
                )
                dead = await db.fetchval(
                    "SELECT count(*) FROM provision_event WHERE status = 'DEAD'"
                )
                if settled == total or dead:
                    break
                if time.monotonic() - started > 600:
                    raise RuntimeError(f"only {settled} of {total} settled in 10 minutes")
                await asyncio.sleep(0.05)
            seconds = time.monotonic() - started
        facts = {
            "total": total,
            "accepted": statuses.count(200),
            "dead": dead,
            "subscriptions": await db.fetchval("SELECT count(*) FROM subscription"),
            "with_new_seats": await db.fetchval(
                "SELECT count(*) FROM subscription_segment WHERE seats = 7"
            ),
            "stale": await db.fetchval(
                "SELECT count(*) FROM marketplace_inbox WHERE state = 'IGNORED_STALE'"
            ),
        }
        return seconds, facts
    finally:
        await db.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--subscriptions", type=int, default=2_000, help="subscriptions (2 events each; 2,000)"
    )
    parser.add_argument("--concurrency", type=int, default=16, help="steps per worker (16)")
    parser.add_argument(
        "--client",
        choices=("raw", "httpx"),
        default="raw",
        help="the load generator: asyncio streams (raw, the default) or httpx",
    )
    args = parser.parse_args(argv)
    port = free_port()
    with bench_database() as dsn, tempfile.TemporaryDirectory() as logs:
        asyncio.run(migrate(dsn))
        env = _env(dsn, args.concurrency)
        folder = Path(logs)
        processes = [
            start(
                ["serve", "--port", str(port)],
                env,
                folder / "serve.log",
                f"http://127.0.0.1:{port}/readyz",
            )
        ]
        try:
            for n in range(WORKERS):
                processes.append(start(["worker"], env, folder / f"worker-{n}.log", " started: "))
            print(
                f"{args.subscriptions * 2:,} events, {WORKERS} workers x {args.concurrency}…",
                file=sys.stderr,
            )
            seconds, facts = asyncio.run(
                run(dsn, f"http://127.0.0.1:{port}", args.subscriptions, args.client)
            )
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                process.wait(timeout=60)
    rate = facts["total"] / seconds
    print(
        f"{facts['total']:,} Stripe events ({args.subscriptions:,} subscriptions), 1 server,"
        f" {WORKERS} workers x {args.concurrency}, {args.client} client: {seconds:.1f} s"
    )
    verdict = "PASS" if rate >= TARGET_PER_SECOND else "FAIL"
    print(
        f"notifications applied per second = {rate:,.0f}  target >= {TARGET_PER_SECOND}  {verdict}"
    )
    # An update that overtakes its own create is stale only if it lost the race; either way
    # every subscription must end with the update's 7 seats or have been created from it.
    correct = (
        facts["accepted"] == facts["total"]
        and facts["dead"] == 0
        and facts["subscriptions"] == args.subscriptions
        and facts["with_new_seats"] == args.subscriptions
    )
    verdict = "PASS" if correct else "FAIL"
    print(f"every event accepted, none DEAD, every subscription at its last seats: {verdict}")
    print(f"  {facts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

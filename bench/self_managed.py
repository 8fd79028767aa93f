"""Self-managed throughput: seat links/s and first-time activations/s, each against its floor.

Seeds subscriptions with known activation codes through the repositories, activates a few
hundred of them in process (their keys feed the seat links), serves Provision with 2 uvicorn
workers, and drives with wrk, alternating floor and API: ``POST /api/v1/seat_links`` (a
different key, instance and timestamp per request, so every post stores a report) and
``activateSubscription`` (a fresh code and instance per request). Prints requests/s, p50/p99,
the ratio to the floor, and PASS/FAIL against the targets. Run from the repository root:
``python bench/self_managed.py`` (see bench/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from load import Load, Result, parse, require_wrk
from read_throughput import free_port, wait_ready
from seed import bench_database
from self_managed_app import DSN_VARIABLE

from api.commands import Commands
from domain.model.activation_code import hash_activation_code
from domain.model.customer import Customer
from domain.model.enums import Channel, Deployment, Plan
from domain.model.subscription import Segment, Subscription, Term, subscription_name
from domain.use_cases.activate_subscription import ActivateSubscription
from integrations.clock import SystemClock
from persistence.database import Database
from persistence.migrations import migrate
from persistence.unit_of_work import PostgresUnitOfWork

WORKERS = 2
SEAT_LINK_TARGET = 500.0
ACTIVATION_TARGET = 200.0
SEAT_LINK_RATIO_TARGET = 0.6
SYNCING = 200  # activated subscriptions whose keys the seat links send
CODES_PER_RANGE = 30_000  # fresh codes per (endpoint) range: floor and API never share one
# wrk's threads share the codes by stride (n = offset + counter * threads + thread); a busier
# thread runs ahead, so each run reserves this much more than it completed.
CODE_SLACK = 1.25
BENCH_DIR = Path(__file__).resolve().parent


def code(n: int) -> str:
    return f"B{n:023d}"


def instance(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


# --- seeding -------------------------------------------------------------------------------


async def _seed_range(db: Database, first: int, count: int, customer: Customer) -> None:
    today = SystemClock().today()
    start = today - timedelta(days=30)
    term = Term(
        (
            Segment(start, start + timedelta(days=365), 100),
            Segment(start + timedelta(days=365), start + timedelta(days=730), 250),
        )
    )
    now = datetime.now(UTC)
    async with PostgresUnitOfWork(db) as uow:
        for n in range(first, first + count):
            sub = Subscription(
                name=subscription_name(n + 1),
                customer_id=customer.id,
                deployment=Deployment.SELF_MANAGED,
                plan=Plan.ULTIMATE,
                channel=Channel.SALES,
                terms=(term,),
                created_at=now,
            )
            await uow.subscriptions.add(sub)
            await uow.activation_codes.set(sub.id, hash_activation_code(code(n)), now)
        await uow.commit()


async def seed(dsn: str, codes: int) -> list[tuple[str, str]]:
    """Subscriptions 0..codes-1 with code(n); the first SYNCING activated by instance(n).
    Returns (license key, instance) of those."""
    await migrate(dsn)
    db = Database(dsn, pool_min=1, pool_max=8)
    await db.start()
    try:
        customer = Customer("Bench Corp", "Ada", "ada@bench.test", datetime.now(UTC))
        async with PostgresUnitOfWork(db) as uow:
            await uow.customers.add(customer)
            await uow.commit()
        batch = 1000
        ranges = [(first, min(batch, codes - first)) for first in range(0, codes, batch)]
        for group in range(0, len(ranges), 4):
            await asyncio.gather(
                *(_seed_range(db, f, c, customer) for f, c in ranges[group : group + 4])
            )
        commands = Commands.build(db, SystemClock())
        synced = []
        for n in range(SYNCING):
            activated = await commands.activate_subscription(
                ActivateSubscription(code(n), instance(n))
            )
            synced.append((activated.license.license_key, instance(n)))
        async with db.pool.acquire() as connection:
            await connection.execute("ANALYZE")
        return synced
    finally:
        await db.stop()


# --- wrk scripts ---------------------------------------------------------------------------

_COMMON = """
local threads_seen = 0
function setup(thread)
  thread:set("tid", threads_seen)
  threads_seen = threads_seen + 1
end
local counter = 0
local function next_n()
  counter = counter + 1
  return OFFSET + counter * THREADS + (tid or 0)
end
"""


def seat_link_lua(path: str, synced: list[tuple[str, str]], offset: int, threads: int) -> str:
    keys = ",\n".join(f"[==[{json.dumps(key)}]==]" for key, _ in synced)
    instances = ",\n".join(f'"{inst}"' for _, inst in synced)
    base = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    return (
        f"local OFFSET = {offset}\nlocal THREADS = {threads}\n"
        + _COMMON
        + f"""
local keys = {{ {keys} }}
local instances = {{ {instances} }}
local headers = {{ ["Content-Type"] = "application/json" }}
function request()
  local n = next_n()
  local i = n % #keys + 1
  local body = string.format(
    '{{"license_key":%s,"timestamp":"%s","billable_users_count":%d,'
    .. '"max_historical_user_count":%d,"instance_id":"%s","hostname":"gitlab.bench.test",'
    .. '"gitlab_version":"18.6.0-ee","add_on_metrics":[]}}',
    keys[i], os.date("!%Y-%m-%dT%H:%M:%SZ", {base} + n), 90, 95, instances[i])
  return wrk.format("POST", "{path}", headers, body)
end
"""
    )


ACTIVATE_QUERY = (
    "mutation($i: ActivateSubscriptionInput!) { activateSubscription(input: $i) {"
    " licenseKey errors { code } } }"
)


def activation_lua(path: str, offset: int, threads: int, graphql: bool) -> str:
    if graphql:
        body = (
            '\'{"query":"' + ACTIVATE_QUERY + '","variables":{"i":{"activationCode":"%s",'
            '"instanceIdentifier":"%s"}}}\''
        )
    else:
        body = '\'{"code":"%s","instance":"%s"}\''
    return (
        f"local OFFSET = {offset}\nlocal THREADS = {threads}\n"
        + _COMMON
        + f"""
local headers = {{ ["Content-Type"] = "application/json" }}
function request()
  local n = next_n()
  local code = string.format("B%023d", n)
  local inst = string.format("00000000-0000-4000-8000-%012d", n)
  return wrk.format("POST", "{path}", headers, string.format({body}, code, inst))
end
"""
    )


def run_script(wrk: str, base_url: str, script: str, load: Load, seconds: int) -> Result:
    with tempfile.TemporaryDirectory(prefix="provision-bench-wrk-") as directory:
        path = Path(directory) / "request.lua"
        path.write_text(script)
        command = [wrk, f"-t{load.threads}", f"-c{load.connections}", f"-d{seconds}s",
                   "--latency", "--timeout", "10s", "-s", str(path), base_url]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse(done.stdout)


# --- serving -------------------------------------------------------------------------------


@contextlib.contextmanager
def serve(dsn: str) -> Iterator[str]:
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", "self_managed_app:create_bench_app", "--factory",
        "--app-dir", str(BENCH_DIR), "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(WORKERS), "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    server = subprocess.Popen(
        command, env={**os.environ, DSN_VARIABLE: dsn}, start_new_session=True
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(server, base_url)
        yield base_url
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


async def _count(dsn: str, sql: str) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        return int(await connection.fetchval(sql))
    finally:
        await connection.close()


# --- measuring -----------------------------------------------------------------------------


@dataclass
class Pair:
    name: str
    floor: list[Result]
    api: list[Result]


def measure(
    wrk: str, base_url: str, load: Load, rounds: int, synced: list[tuple[str, str]]
) -> tuple[Pair, Pair]:
    seat, act = Pair("seat link", [], []), Pair("activation", [], [])
    # Offsets keep every request's report (seat link) or code (activation) unique in the run.
    seat_offset = [0]
    codes = {"floor": SYNCING, "api": SYNCING + CODES_PER_RANGE}
    used = {"floor": 0, "api": 0}

    def seat_link(kind: str, seconds: int) -> Result:
        seat_offset[0] += 10_000_000
        path = "/floor/seat_link" if kind == "floor" else "/api/v1/seat_links"
        script = seat_link_lua(path, synced, seat_offset[0], load.threads)
        return run_script(wrk, base_url, script, load, seconds)

    def activation(kind: str, seconds: int) -> Result:
        offset = codes[kind] + used[kind] + load.threads  # past the last code handed out
        path = "/floor/activate" if kind == "floor" else "/graphql"
        script = activation_lua(path, offset, load.threads, graphql=kind == "api")
        result = run_script(wrk, base_url, script, load, seconds)
        used[kind] += int((result.requests + load.connections) * CODE_SLACK) + load.threads
        if used[kind] > CODES_PER_RANGE:
            raise RuntimeError(f"the {kind} activations ran out of seeded codes")
        return result

    for kind in ("floor", "api"):
        seat_link(kind, load.warmup_seconds)
        activation(kind, load.warmup_seconds)
    for round_number in range(1, rounds + 1):
        for pair, run in ((seat, seat_link), (act, activation)):
            for kind in ("floor", "api"):
                result = run(kind, load.seconds)
                (pair.floor if kind == "floor" else pair.api).append(result)
                print(
                    f"  round {round_number} {pair.name:<10} {kind:<5}"
                    f" {result.requests_per_second:8.1f} req/s  p50 {result.p50_ms:6.2f} ms"
                    f"  p99 {result.p99_ms:6.2f} ms",
                    file=sys.stderr,
                )
    return seat, act


def _median(results: list[Result]) -> Result:
    return Result(
        statistics.median(r.requests_per_second for r in results),
        statistics.median(r.p50_ms for r in results),
        statistics.median(r.p99_ms for r in results),
        sum(r.requests for r in results),
    )


def report(seat: Pair, act: Pair, load: Load, checks: dict[str, int]) -> None:
    print(
        f"\nself-managed, {WORKERS} uvicorn workers, wrk -t{load.threads} -c{load.connections}"
        f" -d{load.seconds}s, median of {len(seat.api)} runs each"
    )
    print(f"{'endpoint':<22}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for pair in (seat, act):
        for kind, runs in (("floor", pair.floor), ("api", pair.api)):
            m = _median(runs)
            print(
                f"{pair.name + ' ' + kind:<22}{m.requests_per_second:>10.1f}"
                f"{m.p50_ms:>10.2f}{m.p99_ms:>10.2f}"
            )
    for pair, target, ratio_target in (
        (seat, SEAT_LINK_TARGET, SEAT_LINK_RATIO_TARGET),
        (act, ACTIVATION_TARGET, None),
    ):
        rate = _median(pair.api).requests_per_second
        paired = [
            a.requests_per_second / f.requests_per_second
            for f, a in zip(pair.floor, pair.api, strict=True)
        ]
        ratio = statistics.median(paired)
        verdict = "PASS" if rate >= target else "FAIL"
        line = f"{pair.name}: {rate:.1f}/s target >= {target:.0f}/s {verdict};"
        line += f" ratio to floor {ratio:.3f} (per round {' '.join(f'{r:.2f}' for r in paired)})"
        if ratio_target is not None:
            line += f" target >= {ratio_target} {'PASS' if ratio >= ratio_target else 'FAIL'}"
        print(line)
    for name, value in checks.items():
        print(f"check: {name} = {value}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=int, default=10, help="per measured run (10)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds per warm-up (2)")
    parser.add_argument("--connections", type=int, default=16, help="open connections (16)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--rounds", type=int, default=3, help="runs per endpoint (3)")
    args = parser.parse_args(argv)
    load = Load(args.threads, args.connections, args.seconds, args.warmup)
    wrk = require_wrk()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with bench_database() as dsn:
        print("seeding…", file=sys.stderr)
        synced = asyncio.run(seed(dsn, SYNCING + 2 * CODES_PER_RANGE))
        with serve(dsn) as base_url:
            seat, act = measure(wrk, base_url, load, args.rounds, synced)
        checks = {
            "usage reports stored": asyncio.run(_count(dsn, "SELECT count(*) FROM usage_report")),
            "seat-link requests sent": sum(r.requests for r in seat.floor + seat.api),
            "instances activated": asyncio.run(_count(dsn, "SELECT count(*) FROM instance"))
            - SYNCING,
            "activation requests sent": sum(r.requests for r in act.floor + act.api),
            "licenses": asyncio.run(_count(dsn, "SELECT count(*) FROM license")),
        }
    report(seat, act, load, checks)
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:
        sys.exit("interrupted; uvicorn and the database were stopped")

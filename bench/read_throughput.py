"""Read throughput: GraphQL's subscription page against a one-statement JSON floor.

Seeds 10,000 subscriptions with 3 licenses each, serves Provision with 2 uvicorn workers, drives
``subscriptions(first: 50)`` and ``GET /floor`` alternately with wrk, and prints requests/s,
p50/p99 and GraphQL's fraction of the floor. It also counts the SQL statements one GraphQL
request sends for several page sizes (in-process), which must not grow with the page size.
Run from the repository root: ``python bench/read_throughput.py`` (see bench/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import asyncpg
import httpx
from floor_app import (
    DSN_VARIABLE,
    HEAVY_PAGE,
    LIST_SIZE,
    PAGE_SIZE,
    PARTNER_CUSTOMERS,
    PARTNER_SUBSCRIPTIONS,
    with_floor,
)
from load import Endpoint, Load, Result, require_wrk, run_wrk
from seed import LICENSES_PER_SUBSCRIPTION, PARTNER, PORTAL_USER, bench_database, prepare

from api.app import create_app
from api.ids import global_id, parse_global_id
from api.portal.documents import trusted_documents
from api.settings import Settings
from auth.backend import KIND_CLAIM, PARTNER_CLAIM
from auth.keys import load_or_create
from auth.tokens import issue_access_token
from domain.policy import grantable
from domain.principal import PrincipalKind
from integrations.clock import SystemClock

TARGET = 0.50
LATENCY_TARGET = 2.0
"""Unloaded (one connection) p50 of GraphQL at most this many times the floor's."""
WORKERS = 2
COUNTED_PAGE_SIZES = (10, 50, 100)
QUERY = (
    "{ subscriptions(first: %d) { edges { node { id plan seats"
    " licenses { edges { node { id expiresAt } } } } } } }"
)
BENCH_DIR = Path(__file__).resolve().parent


def graphql_body(first: int) -> str:
    return json.dumps({"query": QUERY % first})


FLOOR = Endpoint("floor", "/floor")
GRAPHQL = Endpoint("graphql", "/graphql", graphql_body(PAGE_SIZE))
PORTAL_FLOOR = Endpoint("floor/portal", "/floor/portal")
PORTAL_GRAPHQL = Endpoint("graphql/portal", "/graphql", graphql_body(PAGE_SIZE))
# The portal's list page, its own registered document, sent by id as the portal does.
LIST_DOCUMENT = trusted_documents().by_name["Subscriptions"]
LIST_FLOOR = Endpoint("floor/list", "/floor/portal-list")
LIST_GRAPHQL = Endpoint("graphql/list", "/graphql", json.dumps({"documentId": LIST_DOCUMENT}))
PARTNER_QUERY = (
    f"{{ customers(first: {PARTNER_CUSTOMERS}) {{ edges {{ node {{ id company"
    f" subscriptions(first: {PARTNER_SUBSCRIPTIONS}) {{ edges {{ node {{ id name plan seats }}"
    " } } } } } }"
)
PARTNER_FLOOR = Endpoint("floor/partner", "/floor/partner")
PARTNER_GRAPHQL = Endpoint("graphql/partner", "/graphql", json.dumps({"query": PARTNER_QUERY}))
# The portal's heaviest page, its own Subscription document by id (bench/seed.py's subscription
# with terms, segments, add-ons, usage, namespace, instances and licenses); the path and body
# get the subscription's id once it is seeded.
HEAVY_DOCUMENT = trusted_documents().by_name["Subscription"]
HEAVY_FLOOR = Endpoint("floor/subscription", "/floor/subscription")
HEAVY_GRAPHQL = Endpoint("graphql/subscription", "/graphql")
PAIRS = (
    ("staff token", FLOOR, GRAPHQL),
    ("portal-user token", PORTAL_FLOOR, PORTAL_GRAPHQL),
    ("portal list page (portal user)", LIST_FLOOR, LIST_GRAPHQL),
    ("partner's customers (partner)", PARTNER_FLOOR, PARTNER_GRAPHQL),
    ("subscription page (portal user)", HEAVY_FLOOR, HEAVY_GRAPHQL),
)


# --- statements per request ------------------------------------------------------------------


@contextlib.contextmanager
def statements_logged(seen: list[str]) -> Iterator[None]:
    """Pools created inside log every statement their connections send into ``seen``."""
    create_pool = asyncpg.create_pool

    def logging_pool(*args: Any, **kwargs: Any) -> asyncpg.Pool:
        chained = kwargs.pop("init", None)

        async def init(connection: asyncpg.Connection) -> None:
            connection.add_query_logger(lambda logged: seen.append(logged.query))
            if chained is not None:
                await chained(connection)

        return create_pool(*args, init=init, **kwargs)

    with mock.patch.object(asyncpg, "create_pool", logging_pool):
        yield


def is_pool_reset(statement: str) -> bool:
    """asyncpg's pool resets a connection on release with one statement (``RESET ALL`` …)."""
    return "RESET ALL" in statement


async def mint_token(
    dsn: str,
    kind: PrincipalKind = PrincipalKind.STAFF,
    subject: str = "bench:staff",
    **claims: str,
) -> str:
    """A token, as `provision token issue` makes: staff reach adds no SQL condition, a portal
    user's adds its memberships; either is verified (RS256) on every request like any
    client's."""
    connection = await asyncpg.connect(dsn)
    try:
        now = SystemClock().now()
        ring = await load_or_create(connection, now)
    finally:
        await connection.close()
    return issue_access_token(
        ring,
        Settings().token_settings,
        now,
        subject=subject,
        client_id="bench",
        scopes=grantable(kind),
        extra={KIND_CLAIM: kind.value, **claims},
    )


async def count_statements(dsn: str, token: str) -> dict[int, list[str]]:
    """Statements sent by one GraphQL request per page size, with the app built in-process."""
    seen: list[str] = []
    sent: dict[int, list[str]] = {}
    with statements_logged(seen):
        app = with_floor(create_app(Settings(database_url=dsn, graphiql=False)))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                for first in COUNTED_PAGE_SIZES:
                    # The first request of a shape may also load type codecs; count the second.
                    for _ in range(2):
                        seen.clear()
                        response = await client.post(
                            "/graphql",
                            content=graphql_body(first),
                            headers={
                                "content-type": "application/json",
                                "authorization": f"Bearer {token}",
                            },
                        )
                        check_graphql(response.json(), first)
                    sent[first] = list(seen)
    if not any(sent.values()):
        raise RuntimeError("the statement counter saw nothing: is the pool still asyncpg's?")
    return sent


async def count_heavy_statements(dsn: str, token: str, body: str) -> list[str]:
    """Statements the subscription page sends (the second request of the shape)."""
    seen: list[str] = []
    with statements_logged(seen):
        app = with_floor(create_app(Settings(database_url=dsn, graphiql=False)))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                for _ in range(2):
                    seen.clear()
                    response = await client.post(
                        "/graphql",
                        content=body,
                        headers={
                            "content-type": "application/json",
                            "authorization": f"Bearer {token}",
                        },
                    )
                    if response.json().get("errors"):
                        raise RuntimeError(f"the subscription page: {response.json()}")
    return list(seen)


# --- serving and checking --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def serve(dsn: str) -> Iterator[str]:
    """uvicorn with the bench app on 127.0.0.1; stopped on the way out, whatever happens."""
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", "floor_app:create_bench_app", "--factory",
        "--app-dir", str(BENCH_DIR), "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(WORKERS), "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    # Its own session: a Ctrl-C reaches us, and we stop the server and its workers in order.
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


def wait_ready(server: subprocess.Popen[bytes], base_url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {server.returncode} before it was ready")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"uvicorn was not ready within {timeout:.0f}s")


Page = list[tuple[uuid.UUID, str, int, list[tuple[uuid.UUID, str]]]]


def check_graphql(payload: dict[str, Any], first: int) -> Page:
    """The page as plain tuples, after checking it has no errors and the expected shape."""
    if payload.get("errors"):
        raise RuntimeError(f"GraphQL answered with errors: {payload['errors']}")
    edges = payload["data"]["subscriptions"]["edges"]
    page: Page = []
    for edge in edges:
        node = edge["node"]
        licenses = [lic["node"] for lic in node["licenses"]["edges"]]
        if len(licenses) != LICENSES_PER_SUBSCRIPTION:
            raise RuntimeError(f"subscription {node['id']} has {len(licenses)} licenses")
        page.append(
            (
                parse_global_id(node["id"])[1],
                node["plan"],
                node["seats"],
                [(parse_global_id(lic["id"])[1], lic["expiresAt"]) for lic in licenses],
            )
        )
    if len(page) != first:
        raise RuntimeError(f"GraphQL returned {len(page)} subscriptions, expected {first}")
    return page


def verify(base_url: str, graphql_endpoint: Endpoint, floor_endpoint: Endpoint) -> None:
    """Both endpoints answer, with the same 50 subscriptions, plans, seats and licenses."""
    with httpx.Client(base_url=base_url, timeout=10) as client:
        graphql = client.post(
            graphql_endpoint.path,
            content=graphql_endpoint.body,
            headers={"content-type": "application/json", **dict(graphql_endpoint.headers)},
        )
        graphql.raise_for_status()
        floor = client.get(floor_endpoint.path, headers=dict(floor_endpoint.headers))
        floor.raise_for_status()
    page = check_graphql(graphql.json(), PAGE_SIZE)
    items = floor.json()
    if len(items) != PAGE_SIZE:
        raise RuntimeError(f"the floor returned {len(items)} items, expected {PAGE_SIZE}")
    floor_page = [
        (
            uuid.UUID(item["id"]),
            item["plan"],
            item["seats"],
            [(uuid.UUID(lic["id"]), lic["expiresAt"]) for lic in item["licenses"]],
        )
        for item in items
    ]
    if floor_page != page:
        raise RuntimeError("the floor and GraphQL disagree about the page's data")


def fetch_pair(
    base_url: str, graphql_endpoint: Endpoint, floor_endpoint: Endpoint
) -> tuple[dict[str, Any], Any]:
    with httpx.Client(base_url=base_url, timeout=10) as client:
        graphql = client.post(
            graphql_endpoint.path,
            content=graphql_endpoint.body,
            headers={"content-type": "application/json", **dict(graphql_endpoint.headers)},
        )
        graphql.raise_for_status()
        floor = client.get(floor_endpoint.path)
        floor.raise_for_status()
    payload: dict[str, Any] = graphql.json()
    if payload.get("errors"):
        raise RuntimeError(f"GraphQL answered with errors: {payload['errors']}")
    return payload["data"], floor.json()


def verify_list(base_url: str, graphql_endpoint: Endpoint) -> None:
    """The portal's list page and its floor: the same count, ids, seats and status."""
    data, floor = fetch_pair(base_url, graphql_endpoint, LIST_FLOOR)
    page = data["subscriptions"]
    ours = [
        (parse_global_id(e["node"]["id"])[1], e["node"]["seats"], e["node"]["status"])
        for e in page["edges"]
    ]
    theirs = [(uuid.UUID(i["id"]), i["seats"], i["status"]) for i in floor["items"]]
    if len(ours) != LIST_SIZE or ours != theirs or page["totalCount"] != floor["total"]:
        raise RuntimeError("the portal list page and its floor disagree")
    if page["pageInfo"]["hasNextPage"] != floor["more"]:
        raise RuntimeError("the portal list page and its floor disagree about more pages")


def verify_partner(base_url: str, graphql_endpoint: Endpoint) -> None:
    """The partner's customers and their subscriptions: the same ids and seats."""
    data, floor = fetch_pair(base_url, graphql_endpoint, PARTNER_FLOOR)
    ours = [
        (
            parse_global_id(e["node"]["id"])[1],
            [
                (parse_global_id(s["node"]["id"])[1], s["node"]["seats"])
                for s in e["node"]["subscriptions"]["edges"]
            ],
        )
        for e in data["customers"]["edges"]
    ]
    theirs = [
        (uuid.UUID(c["id"]), [(uuid.UUID(s["id"]), s["seats"]) for s in c["subscriptions"]])
        for c in floor
    ]
    if len(ours) != PARTNER_CUSTOMERS or ours != theirs:
        raise RuntimeError("the partner's page and its floor disagree")


def heavy_subscription(dsn: str) -> uuid.UUID:
    """The subscription bench/seed.py gave everything (the one with a namespace)."""

    async def find() -> uuid.UUID:
        connection = await asyncpg.connect(dsn)
        try:
            found: uuid.UUID = await connection.fetchval(
                "SELECT id FROM subscription WHERE namespace IS NOT NULL"
            )
        finally:
            await connection.close()
        return found

    return asyncio.run(find())


def verify_heavy(base_url: str, graphql_endpoint: Endpoint, floor_endpoint: Endpoint) -> None:
    """The subscription page and its floor: the same subscription, status, seats, segments,
    usage, namespace, steps, instances and licenses."""
    with httpx.Client(base_url=base_url, timeout=10) as client:
        graphql = client.post(
            graphql_endpoint.path,
            content=graphql_endpoint.body,
            headers={"content-type": "application/json", **dict(graphql_endpoint.headers)},
        )
        graphql.raise_for_status()
        floor_response = client.get(floor_endpoint.path)
        floor_response.raise_for_status()
    payload = graphql.json()
    if payload.get("errors"):
        raise RuntimeError(f"GraphQL answered with errors: {payload['errors']}")
    ours, floor = payload["data"]["subscription"], floor_response.json()

    def ids(edges: list[dict[str, Any]]) -> list[uuid.UUID]:
        return [parse_global_id(e["node"]["id"])[1] for e in edges]

    mine = (
        parse_global_id(ours["id"])[1],
        ours["status"],
        ours["seats"],
        [[g["seats"] for g in term["segments"]] for term in ours["terms"]],
        ours["usage"]["maxSeatsUsed"],
        ours["usage"]["overage"],
        ours["namespace"]["gitlabId"],
        len(ours["namespace"]["provisioningSteps"]),
        ids(ours["instances"]["edges"]),
        ids(ours["licenses"]["edges"]),
        len(ours["addOns"]),
    )
    theirs = (
        uuid.UUID(floor["id"]),
        floor["status"],
        floor["seats"],
        [[g["seats"] for g in term["segments"]] for term in floor["terms"]],
        floor["usage"]["maxSeatsUsed"],
        floor["usage"]["overage"],
        floor["namespace"]["gitlabId"],
        len(floor["namespace"]["provisioningSteps"]),
        [uuid.UUID(i["id"]) for i in floor["instances"]],
        [uuid.UUID(k["id"]) for k in floor["licenses"]],
        len(floor["addOns"]),
    )
    if mine != theirs or not mine[8] or len(mine[3]) < 3 or not ours["viewerPermissions"]:
        raise RuntimeError(f"the subscription page and its floor disagree: {mine} {theirs}")
    if len(mine[9]) > HEAVY_PAGE:
        raise RuntimeError("the subscription page shows more licenses than it asks for")


# --- measuring and reporting -----------------------------------------------------------------


def measure(
    wrk: str, base_url: str, load: Load, rounds: int, endpoints: tuple[Endpoint, ...]
) -> dict[str, list[Result]]:
    """Warm each endpoint up, then alternate them (floor, graphql, …) ``rounds`` times."""
    for endpoint in endpoints:
        run_wrk(wrk, base_url, endpoint, load, seconds=load.warmup_seconds)
    results: dict[str, list[Result]] = {endpoint.name: [] for endpoint in endpoints}
    for round_number in range(1, rounds + 1):
        for endpoint in endpoints:
            result = run_wrk(wrk, base_url, endpoint, load, seconds=load.seconds)
            results[endpoint.name].append(result)
            print(
                f"  round {round_number} -c{load.connections} {endpoint.name:<15}"
                f" {result.requests_per_second:8.1f}"
                f" req/s  p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms",
                file=sys.stderr,
            )
    return results


def median(results: list[Result]) -> Result:
    return Result(
        statistics.median(r.requests_per_second for r in results),
        statistics.median(r.p50_ms for r in results),
        statistics.median(r.p99_ms for r in results),
        sum(r.requests for r in results),
    )


def paired(
    results: dict[str, list[Result]], floor: Endpoint, graphql: Endpoint, figure: str
) -> list[float]:
    """GraphQL's figure over the floor's, per round (each round runs both back to back, so a
    round's ratio cancels the drift of a shared machine's speed between rounds)."""
    return [
        getattr(g, figure) / getattr(f, figure)
        for f, g in zip(results[floor.name], results[graphql.name], strict=True)
    ]


def report(
    results: dict[str, list[Result]],
    unloaded: dict[str, list[Result]],
    sent: dict[int, list[str]],
    load: Load,
    heavy_sent: list[str],
) -> None:
    print(
        f"\nsubscriptions(first: {PAGE_SIZE}) with licenses, {WORKERS} uvicorn workers,"
        f" wrk -t{load.threads} -c{load.connections} -d{load.seconds}s,"
        f" median of {len(results[FLOOR.name])} runs each"
    )
    print(f"{'endpoint':<16}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    medians = {name: median(runs) for name, runs in results.items()}
    for name, result in medians.items():
        print(
            f"{name:<16}{result.requests_per_second:>10.1f}"
            f"{result.p50_ms:>10.2f}{result.p99_ms:>10.2f}"
        )
    # The verdict is the median of the paired ratios; the ratio of the medians is shown too.
    for label, floor, graphql in PAIRS:
        ratios = paired(results, floor, graphql, "requests_per_second")
        ratio = statistics.median(ratios)
        of_medians = (
            medians[graphql.name].requests_per_second / medians[floor.name].requests_per_second
        )
        verdict = "PASS" if ratio >= TARGET else "FAIL"
        print(f"{label}: ratio per round: {' '.join(f'{r:.3f}' for r in ratios)}")
        print(
            f"{label}: ratio graphql/floor = {ratio:.3f} (median of {len(ratios)} rounds;"
            f" of medians {of_medians:.3f}) target >= {TARGET} {verdict}"
        )
    latencies = paired(unloaded, FLOOR, GRAPHQL, "p50_ms")
    latency = statistics.median(latencies)
    unloaded_medians = {name: median(runs) for name, runs in unloaded.items()}
    verdict = "PASS" if latency <= LATENCY_TARGET else "FAIL"
    print(
        f"unloaded (wrk -t1 -c1), staff token: p50 floor {unloaded_medians[FLOOR.name].p50_ms:.2f}"
        f" ms, graphql {unloaded_medians[GRAPHQL.name].p50_ms:.2f} ms; per round"
        f" {' '.join(f'{r:.2f}' for r in latencies)}"
    )
    print(
        f"unloaded p50 graphql/floor = {latency:.2f} (median of {len(latencies)} rounds)"
        f" target <= {LATENCY_TARGET} {verdict}"
    )
    totals = {first: len(statements) for first, statements in sent.items()}
    flat = "PASS" if len(set(totals.values())) == 1 else "FAIL"
    print(f"SQL statements per GraphQL request (must not grow with the page size): {flat}")
    for first, statements in sent.items():
        resets = sum(map(is_pool_reset, statements))
        print(
            f"  first: {first:<4} {len(statements)} = {len(statements) - resets} queries"
            f" + {resets} pool-release resets"
        )
    resets = sum(map(is_pool_reset, heavy_sent))
    print(
        f"  the subscription page (portal user): {len(heavy_sent)} ="
        f" {len(heavy_sent) - resets} queries + {resets} pool-release resets"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=int, default=15, help="per measured run (15)")
    parser.add_argument("--warmup", type=int, default=3, help="seconds per warm-up (3)")
    parser.add_argument("--connections", type=int, default=16, help="open connections (16)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--rounds", type=int, default=5, help="runs per endpoint (5)")
    args = parser.parse_args(argv)
    load = Load(args.threads, args.connections, args.seconds, args.warmup)
    wrk = require_wrk()
    # SIGTERM unwinds like Ctrl-C, so that uvicorn and PostgreSQL are stopped either way.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with bench_database() as dsn:
        asyncio.run(prepare(dsn))
        token = asyncio.run(mint_token(dsn))
        portal_token = asyncio.run(mint_token(dsn, PrincipalKind.PORTAL_USER, PORTAL_USER))
        # Only the API carries a token: the floor stays the bare query it was, so the cost of
        # verifying the token (RS256) on every request counts against the API.
        graphql = dataclasses.replace(GRAPHQL, headers=(("Authorization", f"Bearer {token}"),))
        partner_token = asyncio.run(
            mint_token(dsn, PrincipalKind.PARTNER, "bench:partner", **{PARTNER_CLAIM: PARTNER})
        )
        portal = dataclasses.replace(
            PORTAL_GRAPHQL, headers=(("Authorization", f"Bearer {portal_token}"),)
        )
        listing = dataclasses.replace(
            LIST_GRAPHQL, headers=(("Authorization", f"Bearer {portal_token}"),)
        )
        partner = dataclasses.replace(
            PARTNER_GRAPHQL, headers=(("Authorization", f"Bearer {partner_token}"),)
        )
        heavy_id = heavy_subscription(dsn)
        heavy_body = {
            "documentId": HEAVY_DOCUMENT,
            "variables": {"id": global_id("Subscription", heavy_id)},
        }
        heavy = dataclasses.replace(
            HEAVY_GRAPHQL,
            body=json.dumps(heavy_body),
            headers=(("Authorization", f"Bearer {portal_token}"),),
        )
        heavy_floor = dataclasses.replace(HEAVY_FLOOR, path=f"{HEAVY_FLOOR.path}?id={heavy_id}")
        sent = asyncio.run(count_statements(dsn, token))
        heavy_sent = asyncio.run(count_heavy_statements(dsn, portal_token, heavy.body))
        with serve(dsn) as base_url:
            verify(base_url, graphql, FLOOR)
            verify(base_url, portal, PORTAL_FLOOR)
            verify_list(base_url, listing)
            verify_partner(base_url, partner)
            verify_heavy(base_url, heavy, heavy_floor)
            print("each pair returns the same page; measuring", file=sys.stderr)
            endpoints = (FLOOR, graphql, PORTAL_FLOOR, portal)
            endpoints += (LIST_FLOOR, listing, PARTNER_FLOOR, partner, heavy_floor, heavy)
            results = measure(wrk, base_url, load, args.rounds, endpoints)
            one = Load(1, 1, max(3, load.seconds // 2), load.warmup_seconds)
            unloaded = measure(wrk, base_url, one, args.rounds, (FLOOR, graphql))
    report(results, unloaded, sent, load, heavy_sent)
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:
        sys.exit("interrupted; uvicorn and the database were stopped")

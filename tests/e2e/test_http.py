"""HTTP surface: GraphiQL, probes, request ids, and SQL statements per request."""

from __future__ import annotations

import httpx

from persistence.database import Database

import factories as f
from graphql_client import GraphQL


async def test_graphiql_is_served_on_get(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_probes(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}


async def test_every_response_has_a_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert len(response.headers["x-request-id"]) == 16
    echoed = await client.get("/healthz", headers={"x-request-id": "trace-123"})
    assert echoed.headers["x-request-id"] == "trace-123"
    refused = await client.get("/healthz", headers={"x-request-id": "bad id\twith spaces"})
    assert refused.headers["x-request-id"] != "bad id\twith spaces"


BENCH_SHAPE = """query($first: Int) { subscriptions(first: $first) { edges { node {
    id plan seats customer { company } usage { overage }
    licenses { edges { node { id expiresAt } } }
    instances { edges { node { hostname } } } } } } }"""


async def test_statements_per_request_do_not_grow_with_the_page(
    gql: GraphQL, app: object, clean_db: Database
) -> None:
    customer = f.customer()
    subs = [f.subscription(customer) for _ in range(30)]
    children = [
        child for s in subs for child in (f.license_for(s), f.license_for(s), f.instance_for(s))
    ]
    await f.store(clean_db, customer, *subs, *children)
    app_db: Database = app.state.db  # type: ignore[attr-defined]
    counts = {}
    for first in (1, 10, 30):
        statements: list[str] = []
        app_db.observer = statements.append
        try:
            body = await gql(BENCH_SHAPE, first=first)
        finally:
            app_db.observer = None
        assert "errors" not in body, body
        edges = body["data"]["subscriptions"]["edges"]
        assert len(edges) == first
        assert all(len(e["node"]["licenses"]["edges"]) == 2 for e in edges)
        counts[first] = len(statements)
    assert counts[1] == counts[10] == counts[30]
    # page, customers, latest usage, licenses, instances
    assert counts[30] <= 5


FLEET_SHAPE = """query($first: Int) { subscriptions(first: $first) { edges { node {
    id instanceUsage { billableUsers instances { instance { id } billableUsers } } } } } }"""


async def test_fleet_usage_statements_do_not_grow_with_the_page(
    gql: GraphQL, app: object, clean_db: Database
) -> None:
    customer = f.customer()
    subs = [f.subscription(customer) for _ in range(12)]
    rows: list[object] = []
    for number, sub in enumerate(subs):
        instance = f.instance_for(sub)
        report = f.usage_for(sub, billable=number + 1, maximum=number + 1)
        report.instance_id = instance.id
        rows += [instance, report]
    await f.store(clean_db, customer, *subs, *rows)
    app_db: Database = app.state.db  # type: ignore[attr-defined]
    counts = {}
    for first in (1, 12):
        statements: list[str] = []
        app_db.observer = statements.append
        try:
            body = await gql(FLEET_SHAPE, first=first)
        finally:
            app_db.observer = None
        assert "errors" not in body, body
        edges = body["data"]["subscriptions"]["edges"]
        assert len(edges) == first
        # Each subscription sees its own instance and that instance's own report.
        for edge in edges:
            usage = edge["node"]["instanceUsage"]
            assert len(usage["instances"]) == 1
            assert usage["instances"][0]["billableUsers"] == usage["billableUsers"]
        counts[first] = len(statements)
    assert counts[1] == counts[12], counts
    assert sorted(
        e["node"]["instanceUsage"]["billableUsers"] for e in body["data"]["subscriptions"]["edges"]
    ) == list(range(1, 13))

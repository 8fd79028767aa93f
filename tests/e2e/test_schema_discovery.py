"""Anonymous callers cannot discover the schema: no introspection, no "Did you mean"."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.settings import Settings

from clocks import SESSION_CLOCK
from graphql_client import GraphQL

TYPES = "{ __schema { queryType { fields { name } } } }"
TYPE = '{ __type(name: "ProvisionEvent") { fields { name } } }'
TYPO = "{ provisionEvent { totalCount } }"  # staff-only `provisionEvents`


def messages(body: dict[str, object]) -> str:
    return " ".join(e["message"] for e in body.get("errors", []))  # type: ignore[attr-defined, index]


@pytest.mark.parametrize("query", [TYPES, TYPE])
async def test_anonymous_callers_cannot_introspect(
    anonymous: httpx.AsyncClient, query: str
) -> None:
    body = (await anonymous.post("/graphql", json={"query": query})).json()
    assert body.get("data") is None
    assert "introspection" in messages(body).lower()
    assert "provisionEvents" not in str(body)


async def test_anonymous_callers_get_no_suggestions(anonymous: httpx.AsyncClient) -> None:
    body = (await anonymous.post("/graphql", json={"query": TYPO})).json()
    assert "Cannot query field 'provisionEvent'" in messages(body)
    assert "Did you mean" not in messages(body)
    assert "provisionEvents" not in str(body)


async def test_anonymous_callers_get_no_suggestions_for_variables(
    anonymous: httpx.AsyncClient,
) -> None:
    query = "query($s: SubscriptionStatus) { subscriptions(status: $s) { totalCount } }"
    response = await anonymous.post("/graphql", json={"query": query, "variables": {"s": "ACTIV"}})
    assert "Did you mean" not in messages(response.json())


async def test_a_caller_with_a_token_may_introspect_and_gets_suggestions(gql: GraphQL) -> None:
    body = await gql(TYPES)
    names = {f["name"] for f in body["data"]["__schema"]["queryType"]["fields"]}
    assert "provisionEvents" in names
    typo = await gql(TYPO)
    assert "Did you mean 'provisionEvents'" in messages(typo)


@pytest.fixture
async def open_app(database_url: str) -> AsyncIterator[Starlette]:
    settings = Settings(database_url=database_url, pool_max=2, gc_interval=0, introspection="open")
    application = create_app(settings, clock=SESSION_CLOCK)
    async with application.router.lifespan_context(application):
        yield application


async def test_the_setting_may_open_introspection(open_app: Starlette) -> None:
    transport = httpx.ASGITransport(app=open_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://provision.test") as http:
        body = (await http.post("/graphql", json={"query": TYPES})).json()
    assert "errors" not in body
    assert Settings.from_env({"PROVISION_INTROSPECTION": "open"}).introspection == "open"
    with pytest.raises(ValueError, match="PROVISION_INTROSPECTION"):
        Settings(introspection="sometimes")

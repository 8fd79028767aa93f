"""Bad input gets a clear GraphQL or HTTP 400 error, never a 500."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.applications import Starlette

from api.ids import global_id
from domain.model.ids import new_id

from graphql_client import GraphQL, answer, codes


async def test_malformed_json_is_a_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", content=b'{"query": "{ viewer', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "JSON" in response.text


async def test_a_body_without_a_query_is_a_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"nothing": True})
    assert response.status_code == 400


async def test_syntax_errors_are_reported(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": "{ viewer { kind "})
    assert response.status_code in (200, 400)
    assert "Syntax Error" in response.json()["errors"][0]["message"]


async def test_unknown_fields_are_refused_by_validation(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": "{ subscriptions { secret } }"})
    assert response.status_code in (200, 400)
    body = response.json()
    assert body.get("data") is None
    assert "Cannot query field 'secret'" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    "value",
    [
        "",
        "123",
        "not an id!",
        f"bogus_{new_id().hex}",
        "sub_" + "z" * 32,
        "sub_" + "0" * 31,
        "U3Vic2NyaXB0aW9uOm5vdC1hLXV1aWQ",
    ],
)
async def test_wrong_id_formats(gql: GraphQL, value: str) -> None:
    body = await gql("query($id: ID!) { node(id: $id) { id } }", id=value)
    assert codes(body) == ["VALIDATION_FAILED"]
    assert "not an ID issued by this API" in body["errors"][0]["message"]


async def test_a_well_formed_id_of_nothing_is_null(gql: GraphQL) -> None:
    body = await gql("query($id: ID!) { node(id: $id) { id } }", id=global_id("License", new_id()))
    assert answer(body) == {"data": {"node": None}}


async def test_a_typed_argument_refuses_another_types_id(gql: GraphQL) -> None:
    body = await gql(
        "query($id: ID) { subscription(id: $id) { name } }", id=global_id("Customer", new_id())
    )
    assert codes(body) == ["VALIDATION_FAILED"]


async def test_ambiguous_lookups_are_refused(gql: GraphQL) -> None:
    body = await gql('{ subscription(id: "x", name: "A-S00000001") { name } }')
    assert codes(body) == ["VALIDATION_FAILED"]
    body = await gql('{ subscription(name: "S-1") { name } }')
    assert codes(body) == ["VALIDATION_FAILED"]
    assert "A-S00012345" in body["errors"][0]["message"]


async def test_wrong_argument_types_are_validation_errors(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql",
        json={
            "query": "query($f: Int) { subscriptions(first: $f) { totalCount } }",
            "variables": {"f": "ten"},
        },
    )
    assert response.status_code in (200, 400)
    assert "Int cannot represent" in response.json()["errors"][0]["message"]


async def test_too_many_nodes_at_once(gql: GraphQL) -> None:
    ids = [global_id("Subscription", new_id()) for _ in range(101)]
    body = await gql("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", ids=ids)
    assert codes(body) == ["VALIDATION_FAILED"]


async def test_deep_queries_are_refused(client: httpx.AsyncClient) -> None:
    nested = "subscription { " * 12 + "id" + " }" * 12
    query = "{ licenses { edges { node { " + nested + " } } } }"
    response = await client.post("/graphql", json={"query": query})
    body = response.json()
    assert "exceeds maximum operation depth" in body["errors"][0]["message"]


async def test_too_many_aliases_are_refused(client: httpx.AsyncClient) -> None:
    query = "{ " + " ".join(f"a{i}: viewer {{ kind }}" for i in range(40)) + " }"
    response = await client.post("/graphql", json={"query": query})
    assert "aliases" in response.json()["errors"][0]["message"]


async def test_huge_documents_are_refused(client: httpx.AsyncClient) -> None:
    query = "{ viewer { " + "kind " * 3000 + "} }"
    response = await client.post("/graphql", json={"query": query})
    assert "token" in response.json()["errors"][0]["message"].lower()


async def test_a_field_cancelled_by_its_failing_sibling_gives_its_connection_back(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    """graphql-core cancels the other root fields when one fails under a non-null root; the
    cancelled one may be inside BEGIN, its connection taken but its transaction not yet
    entered. Found by the fuzz test: each such request kept a pooled connection for good,
    and the pool (5 here) ran dry - every later request waited forever."""
    pool = app.state.db.pool
    query = '{ cloudConnectorAccess(licenseKey: "x") { catalog } nodes(ids: [""]) { id } }'
    for _ in range(6):
        response = await asyncio.wait_for(client.post("/graphql", json={"query": query}), 10)
        assert codes(response.json()) == ["VALIDATION_FAILED"]
        assert pool.get_size() - pool.get_idle_size() == 0
    response = await asyncio.wait_for(
        client.post("/graphql", json={"query": "{ subscriptions { totalCount } }"}), 10
    )
    assert response.json()["data"] == {"subscriptions": {"totalCount": 0}}

"""GraphQL over HTTP: `application/graphql-response+json` as the spec says, `application/json`
as it always was (docs/graphql.md). The graphql-http audit (.ci/graphql-http-audit) checks
the same against a served app."""

from __future__ import annotations

import httpx
import pytest

from api.graphql.view import prefers_graphql_response

GRAPHQL_RESPONSE = "application/graphql-response+json"
NEW = {"accept": GRAPHQL_RESPONSE}
OLD = {"accept": "application/json"}
DEEP = "{ " + "viewer { " * 12 + "kind" + " }" * 13  # past the depth limit of 10
COERCION = "query($first: Int) { subscriptions(first: $first) { totalCount } }"

REQUEST_ERRORS = [
    pytest.param({"query": "{ viewer { kind }"}, id="parse"),
    pytest.param({"query": "{ noSuchField }"}, id="validation"),
    pytest.param({"query": COERCION, "variables": {"first": "ten"}}, id="variable-coercion"),
    pytest.param({"query": DEEP}, id="limit"),
]


@pytest.mark.parametrize("body", REQUEST_ERRORS)
async def test_a_request_error_is_400_without_data_for_the_new_media_type(
    client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    response = await client.post("/graphql", json=body, headers=NEW)
    assert response.status_code == 400
    assert response.headers["content-type"] == f"{GRAPHQL_RESPONSE}; charset=utf-8"
    answer = response.json()
    assert "data" not in answer
    assert answer["errors"]


@pytest.mark.parametrize("body", REQUEST_ERRORS)
async def test_a_request_error_stays_200_with_null_data_for_application_json(
    client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    for headers in (OLD, {"accept": "*/*"}, {}):
        response = await client.post("/graphql", json=body, headers=headers)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        answer = response.json()
        assert answer["data"] is None
        assert answer["errors"]


async def test_a_success_echoes_the_new_media_type(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": "{ __typename }"}, headers=NEW)
    assert response.status_code == 200
    assert response.headers["content-type"] == f"{GRAPHQL_RESPONSE}; charset=utf-8"
    assert response.json()["data"] == {"__typename": "Query"}
    get = await client.get("/graphql", params={"query": "{ __typename }"}, headers=NEW)
    assert get.status_code == 200
    assert get.headers["content-type"].startswith(GRAPHQL_RESPONSE)


async def test_an_execution_error_nulling_all_data_keeps_the_data_entry(
    anonymous: httpx.AsyncClient,
) -> None:
    """`data: null` after execution began is not a request error: 200, `data` present."""
    query = "{ subscriptions(first: 1) { totalCount } }"
    response = await anonymous.post("/graphql", json={"query": query}, headers=NEW)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    answer = response.json()
    assert "data" in answer
    assert answer["data"] is None
    assert answer["errors"][0]["path"] == ["subscriptions"]
    assert answer["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_malformed_body_is_400_in_the_new_media_type(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql",
        content=b"{not json",
        headers={**NEW, "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert "data" not in response.json()


@pytest.mark.parametrize(
    ("accept", "new"),
    [
        (GRAPHQL_RESPONSE, True),
        (f"{GRAPHQL_RESPONSE}, application/json", True),
        (f"application/json, {GRAPHQL_RESPONSE}", True),
        (f"{GRAPHQL_RESPONSE};charset=utf-8", True),
        (f"application/json;q=0.9, {GRAPHQL_RESPONSE}", True),
        (f"{GRAPHQL_RESPONSE};q=0.5, application/json", False),
        (f"{GRAPHQL_RESPONSE};q=0", False),
        ("application/json", False),
        ("*/*", False),
        ("", False),
        ("text/html", False),
    ],
)
def test_the_media_type_is_chosen_by_the_accept_header(accept: str, new: bool) -> None:
    assert prefers_graphql_response(accept) is new

"""Static query cost: connections multiply by their page size; the total is capped."""

from __future__ import annotations

import re
from pathlib import Path

from api.settings import Settings

from graphql_client import GraphQL, codes

README = Path(__file__).resolve().parents[2] / "README.md"
# customers * subscriptions * licenses: 100 * 100 * 10 = 10^5 license nodes.
HUNDRED_THOUSAND = """query($c: Int, $s: Int, $l: Int) {
  customers(first: $c) { edges { node {
    subscriptions(first: $s) { edges { node {
      licenses(first: $l) { edges { node { id } } }
    } } }
  } } }
}"""


def readme_query() -> str:
    explore = README.read_text().split("## Explore", 1)[1]
    match = re.search(r"```graphql\n(.*?)```", explore, re.S)
    assert match
    return match[1]


async def test_the_readme_query_passes_and_reports_its_cost(gql: GraphQL) -> None:
    body = await gql(readme_query())
    assert "errors" not in body, body.get("errors")
    cost = body["extensions"]["cost"]
    assert cost == 401
    assert cost < Settings().max_query_cost


async def test_a_hundred_thousand_nodes_are_refused_with_the_cost_and_the_limit(
    gql: GraphQL,
) -> None:
    body = await gql(HUNDRED_THOUSAND, c=100, s=100, l=10)
    assert codes(body) == ["QUERY_TOO_COMPLEX"]
    (error,) = body["errors"]
    limit = Settings().max_query_cost
    cost = error["extensions"]["cost"]
    assert cost > 100_000
    assert error["extensions"]["limit"] == limit
    assert str(cost) in error["message"]
    assert str(limit) in error["message"]
    assert body.get("data") is None


async def test_variables_and_defaults_count(gql: GraphQL) -> None:
    small = await gql(HUNDRED_THOUSAND, c=2, s=3, l=4)
    # Each license edge: edges, node, id (3); each level adds its connection, edges, node.
    assert small["extensions"]["cost"] == 1 + 2 * (2 + 1 + 3 * (2 + 1 + 4 * 3))
    # Absent `first`: the default page size (20) for each connection.
    default = await gql(HUNDRED_THOUSAND)
    assert default["extensions"]["cost"] == 1 + 20 * (2 + 1 + 20 * (2 + 1 + 20 * 3))
    again = await gql(HUNDRED_THOUSAND, c=2, s=3, l=4)
    assert again["extensions"] == small["extensions"]


async def test_fragments_and_nodes_cost_once_per_use(gql: GraphQL) -> None:
    body = await gql(
        "query($ids: [ID!]!) { nodes(ids: $ids) { ...N } a: viewer { kind } }"
        " fragment N on Node { id }",
        ids=["x", "y", "z"],
    )
    assert body["extensions"]["cost"] == (1 + 3 * 1) + 2

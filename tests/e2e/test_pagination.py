"""Connections over HTTP: page sizes, cursors that round-trip, no duplicates or gaps."""

from __future__ import annotations

import pytest

from persistence.database import Database

import factories as f
from graphql_client import GraphQL, codes

PAGE = """
query Page($first: Int, $after: String) {
  subscriptions(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id name } }
  }
}
"""


async def _seed(db: Database, count: int) -> list[str]:
    customer = f.customer()
    subs = [f.subscription(customer) for _ in range(count)]
    await f.store(db, customer, *subs)
    return [s.name for s in subs]


async def test_pages_cover_every_item_once_in_order(gql: GraphQL, clean_db: Database) -> None:
    names = await _seed(clean_db, 23)
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        body = await gql(PAGE, first=5, after=after)
        assert "errors" not in body
        connection = body["data"]["subscriptions"]
        assert connection["totalCount"] == 23
        edges = connection["edges"]
        seen.extend(edge["node"]["name"] for edge in edges)
        info = connection["pageInfo"]
        assert info["hasPreviousPage"] is (after is not None)
        assert info["startCursor"] == edges[0]["cursor"]
        assert info["endCursor"] == edges[-1]["cursor"]
        pages += 1
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
    assert seen == names
    assert pages == 5


async def test_default_page_is_twenty(gql: GraphQL, clean_db: Database) -> None:
    await _seed(clean_db, 25)
    body = await gql(PAGE)
    assert len(body["data"]["subscriptions"]["edges"]) == 20
    assert body["data"]["subscriptions"]["pageInfo"]["hasNextPage"] is True


async def test_an_empty_list_has_no_cursors(gql: GraphQL) -> None:
    body = await gql(PAGE, first=10)
    connection = body["data"]["subscriptions"]
    assert connection["edges"] == []
    assert connection["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": False,
        "startCursor": None,
        "endCursor": None,
    }
    assert connection["totalCount"] == 0


async def test_first_zero_answers_only_whether_items_exist(
    gql: GraphQL, clean_db: Database
) -> None:
    await _seed(clean_db, 2)
    body = await gql(PAGE, first=0)
    assert body["data"]["subscriptions"]["edges"] == []
    assert body["data"]["subscriptions"]["pageInfo"]["hasNextPage"] is True


@pytest.mark.parametrize(("first", "message"), [(101, "at most 100"), (-1, "must not be negative")])
async def test_page_size_out_of_range_is_refused(gql: GraphQL, first: int, message: str) -> None:
    body = await gql(PAGE, first=first)
    assert body["data"] is None
    assert codes(body) == ["VALIDATION_FAILED"]
    assert message in body["errors"][0]["message"]
    assert body["errors"][0]["extensions"]["field"] == "first"


@pytest.mark.parametrize(
    "after", ["not-a-cursor", "U3Vic2NyaXB0aW9uOjEyMw", "%%%", "", "sub_" + "a" * 32]
)
async def test_a_cursor_we_did_not_issue_is_refused(gql: GraphQL, after: str) -> None:
    body = await gql(PAGE, first=5, after=after)
    assert codes(body) == ["VALIDATION_FAILED"]
    assert "cursor" in body["errors"][0]["message"] or "ID" in body["errors"][0]["message"]


async def test_nested_connections_page_too(gql: GraphQL, clean_db: Database) -> None:
    customer = f.customer()
    sub = f.subscription(customer)
    licenses = [f.license_for(sub, key=f"k{i}") for i in range(5)]
    await f.store(clean_db, customer, sub, *licenses)
    query = """
    query($first: Int, $after: String) { subscriptions { edges { node {
      licenses(first: $first, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { licenseKey } }
      } } } } }
    """
    first = await gql(query, first=3)
    page = first["data"]["subscriptions"]["edges"][0]["node"]["licenses"]
    assert [e["node"]["licenseKey"] for e in page["edges"]] == ["k0", "k1", "k2"]
    assert page["totalCount"] == 5
    assert page["pageInfo"]["hasNextPage"] is True
    rest = await gql(query, first=3, after=page["pageInfo"]["endCursor"])
    page = rest["data"]["subscriptions"]["edges"][0]["node"]["licenses"]
    assert [e["node"]["licenseKey"] for e in page["edges"]] == ["k3", "k4"]
    assert page["pageInfo"]["hasNextPage"] is False
    too_big = await gql(query, first=500)
    assert "VALIDATION_FAILED" in codes(too_big)

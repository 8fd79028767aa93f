"""Error messages quote at most a short prefix of the input they refuse."""

from __future__ import annotations

import httpx
import pytest

QUOTE_LIMIT = 64  # api/graphql/errors.py
MESSAGE_LIMIT = 500
HUGE = "a" * 1_000_000


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("query($f: Int) { subscriptions(first: $f) { totalCount } }", {"f": HUGE}),
        ("query($s: SubscriptionStatus) { subscriptions(status: $s) { totalCount } }", {"s": HUGE}),
        ("query($id: ID!) { node(id: $id) { id } }", {"id": HUGE}),
    ],
)
async def test_a_megabyte_argument_is_not_echoed(
    client: httpx.AsyncClient, query: str, variables: dict[str, str]
) -> None:
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    body = response.json()
    assert body["errors"]
    assert len(response.content) < 4 * MESSAGE_LIMIT
    for error in body["errors"]:
        assert len(error["message"]) <= MESSAGE_LIMIT + 1
        assert "a" * (QUOTE_LIMIT + 1) not in error["message"]

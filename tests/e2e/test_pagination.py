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


# --- both directions, sorted (docs/graphql.md "Pagination and sorting") ---------------------

LIST = """query($first: Int, $after: String, $last: Int, $before: String, $sort: {sort}) {{
  {field}(first: $first, after: $after, last: $last, before: $before, sort: $sort) {{
    pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
    edges {{ cursor node {{ id {value} }} }}
  }}
}}"""


async def _walk(
    gql: GraphQL, field: str, sort_type: str, value: str, sort: dict[str, str] | None, size: int
) -> tuple[list[str], list[str]]:
    """Every id forwards (first/after) and backwards (last/before, pages put back in order),
    checking pageInfo on each page."""
    query = LIST.format(field=field, sort=sort_type, value=value)
    forwards: list[str] = []
    after = None
    while True:
        body = await gql(query, first=size, after=after, sort=sort)
        assert "errors" not in body, body
        connection = body["data"][field]
        info, edges = connection["pageInfo"], connection["edges"]
        assert info["hasPreviousPage"] is (after is not None)
        assert info["hasNextPage"] is (len(edges) == size), info  # totals do not divide by size
        assert info["startCursor"] == edges[0]["cursor"]
        forwards += [edge["node"]["id"] for edge in edges]
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
    backwards: list[list[str]] = []
    before = None
    while True:
        body = await gql(query, last=size, before=before, sort=sort)
        assert "errors" not in body, body
        connection = body["data"][field]
        info, edges = connection["pageInfo"], connection["edges"]
        assert info["hasNextPage"] is (before is not None)
        assert info["hasPreviousPage"] is (len(edges) == size), info
        assert info["endCursor"] == edges[-1]["cursor"]
        backwards.insert(0, [edge["node"]["id"] for edge in edges])
        if not info["hasPreviousPage"]:
            break
        before = info["startCursor"]
    return forwards, [item for page in backwards for item in page]


def _expected(nodes: list[dict[str, object]], value: str, descending: bool) -> list[str]:
    """By the value, then the id (hex after the prefix: the UUID's order), one direction."""
    keyed = sorted(nodes, key=lambda n: (n[value], str(n["id"]).split("_")[1]), reverse=descending)
    return [str(n["id"]) for n in keyed]


async def _all(gql: GraphQL, field: str, value: str) -> list[dict[str, object]]:
    body = await gql(f"{{ {field}(first: 100) {{ edges {{ node {{ id {value} }} }} }} }}")
    assert "errors" not in body, body
    return [edge["node"] for edge in body["data"][field]["edges"]]


async def _seed_lists(db: Database) -> None:
    from datetime import timedelta

    from ledger_rows import record, row

    customers = [f.customer(company=f"acme-{'abc'[i % 3]}") for i in range(7)]
    subs = [
        f.subscription(customers[i % 7], start=f.TODAY - timedelta(days=i % 4)) for i in range(11)
    ]
    licenses = [f.license_for(s) for s in subs]
    usage = [f.usage_for(s, billable=1, maximum=1, days_ago=i % 3) for i, s in enumerate(subs)]
    namespaces = [f.namespace(100 + i) for i in range(7)]
    await f.store(db, *customers, *subs, *licenses, *usage, *namespaces)
    from clocks import SESSION_CLOCK

    now = SESSION_CLOCK.now()
    await record(db, *(row(age=timedelta(minutes=i % 3), now=now) for i in range(8)))


@pytest.mark.parametrize(
    ("field", "sort_type", "value", "sort"),
    [
        ("subscriptions", "SubscriptionSort", "name", None),
        (
            "subscriptions",
            "SubscriptionSort",
            "endDate",
            {"field": "END_DATE", "direction": "DESC"},
        ),
        ("subscriptions", "SubscriptionSort", "startDate", {"field": "START_DATE"}),
        ("subscriptions", "SubscriptionSort", "name", {"field": "CREATED_AT", "direction": "DESC"}),
        ("customers", "CustomerSort", "company", {"field": "COMPANY"}),
        ("customers", "CustomerSort", "company", {"field": "COMPANY", "direction": "DESC"}),
        ("namespaces", "NamespaceSort", "path", {"field": "PATH", "direction": "DESC"}),
        ("namespaces", "NamespaceSort", "gitlabId", {"field": "GITLAB_ID"}),
        ("licenses", "LicenseSort", "expiresAt", {"field": "EXPIRES_AT"}),
        ("licenses", "LicenseSort", "startsAt", {"field": "STARTS_AT", "direction": "DESC"}),
        ("usageReports", "UsageReportSort", "reportedAt", {"field": "REPORTED_AT"}),
        ("provisionEvents", "ProvisionEventSort", "updatedAt", {"field": "UPDATED_AT"}),
        (
            "provisionEvents",
            "ProvisionEventSort",
            "nextAttemptAt",
            {"field": "NEXT_ATTEMPT_AT", "direction": "DESC"},
        ),
        ("provisionEvents", "ProvisionEventSort", "updatedAt", None),
    ],
)
async def test_every_main_list_pages_both_ways_in_its_sort(
    gql: GraphQL,
    clean_db: Database,
    field: str,
    sort_type: str,
    value: str,
    sort: dict[str, str] | None,
) -> None:
    await _seed_lists(clean_db)
    nodes = await _all(gql, field, value)
    if sort is None or sort["field"] == "CREATED_AT":  # the default order is the id's
        descending = field == "provisionEvents"
        if sort is not None:
            descending = sort.get("direction") == "DESC"
        expected = sorted((str(n["id"]) for n in nodes), key=lambda i: i.split("_")[1])
        expected = expected[::-1] if descending else expected
    else:
        expected = _expected(nodes, value, sort.get("direction") == "DESC")
        if field != "namespaces":  # paths and GitLab ids are unique
            assert len({n[value] for n in nodes}) < len(nodes)  # ties: the id breaks them
    forwards, backwards = await _walk(gql, field, sort_type, value, sort, size=3)
    assert forwards == expected
    assert backwards == expected


SUBS = LIST.format(field="subscriptions", sort="SubscriptionSort", value="name")


async def test_a_middle_page_has_both_neighbours(gql: GraphQL, clean_db: Database) -> None:
    await _seed(clean_db, 9)
    sort = {"field": "START_DATE", "direction": "DESC"}
    one = (await gql(SUBS, first=3, sort=sort))["data"]["subscriptions"]
    two = (await gql(SUBS, first=3, after=one["pageInfo"]["endCursor"], sort=sort))["data"][
        "subscriptions"
    ]
    assert two["pageInfo"]["hasPreviousPage"] is True
    assert two["pageInfo"]["hasNextPage"] is True
    back = (await gql(SUBS, last=3, before=two["pageInfo"]["startCursor"], sort=sort))["data"][
        "subscriptions"
    ]
    assert [e["node"] for e in back["edges"]] == [e["node"] for e in one["edges"]]
    assert back["pageInfo"]["hasPreviousPage"] is False
    assert back["pageInfo"]["hasNextPage"] is True
    past_the_end = await gql(SUBS, first=3, after=two["edges"][-1]["cursor"], sort=sort)
    three = past_the_end["data"]["subscriptions"]
    assert three["pageInfo"]["hasPreviousPage"] is True
    end = await gql(SUBS, first=3, after=three["pageInfo"]["endCursor"], sort=sort)
    assert end["data"]["subscriptions"]["edges"] == []
    assert end["data"]["subscriptions"]["pageInfo"]["hasPreviousPage"] is True  # an empty page


@pytest.mark.parametrize(
    ("arguments", "field", "message"),
    [
        ({"first": 2, "last": 2}, "last", "not both"),
        ({"last": 101}, "last", "`last` must be at most 100"),
        ({"last": -1}, "last", "`last` must not be negative"),
    ],
)
async def test_one_direction_at_a_time(
    gql: GraphQL, clean_db: Database, arguments: dict[str, int], field: str, message: str
) -> None:
    body = await gql(SUBS, **arguments)
    assert body["data"] is None
    assert codes(body) == ["VALIDATION_FAILED"]
    assert message in body["errors"][0]["message"]
    assert body["errors"][0]["extensions"]["field"] == field


async def test_a_cursor_only_works_in_its_own_order(gql: GraphQL, clean_db: Database) -> None:
    await _seed(clean_db, 4)
    by_end = {"field": "END_DATE"}
    sorted_cursor = (await gql(SUBS, first=1, sort=by_end))["data"]["subscriptions"]["pageInfo"][
        "endCursor"
    ]
    plain_cursor = (await gql(SUBS, first=1))["data"]["subscriptions"]["pageInfo"]["endCursor"]
    customer_cursor = (
        await gql("{ customers(first: 1, sort: {field: COMPANY}) { pageInfo { endCursor } } }")
    )["data"]["customers"]["pageInfo"]["endCursor"]
    for arguments, message in (
        ({"after": sorted_cursor, "sort": {"field": "START_DATE"}}, "another order (END_DATE ASC)"),
        ({"after": sorted_cursor, "sort": {"field": "END_DATE", "direction": "DESC"}}, "another"),
        ({"after": sorted_cursor}, "another order (END_DATE ASC)"),
        ({"before": plain_cursor, "last": 1, "sort": by_end}, "another order (CREATED_AT ASC)"),
        ({"after": customer_cursor, "sort": by_end}, "not a cursor issued by this API"),
        ({"after": plain_cursor, "before": plain_cursor}, "not both"),
        ({"first": 1, "before": plain_cursor}, "with `before`, use `last`"),
        ({"last": 1, "after": plain_cursor}, "with `after`, use `first`"),
        ({"after": "cursor_" + "x" * 40, "sort": by_end}, "not a cursor issued by this API"),
        # ["Subscription.END_DATE.ASC", 1, 2]: this order's tag, neither a date nor an id
        ({"after": "cursor_WyJTdWJzY3JpcHRpb24uRU5EX0RBVEUuQVNDIiwxLDJd", "sort": by_end}, "not a"),
    ):
        body = await gql(SUBS, **arguments)
        assert codes(body) == ["VALIDATION_FAILED"], (arguments, body)
        assert message in body["errors"][0]["message"], (arguments, body)
    assert "errors" not in await gql(SUBS, first=1, after=sorted_cursor, sort=by_end)


async def test_nested_lists_sort_and_page_back_in_one_statement_per_field(
    gql: GraphQL, app: object, clean_db: Database
) -> None:
    from datetime import timedelta

    customers = [f.customer() for _ in range(12)]
    subs = [
        f.subscription(c, start=f.TODAY - timedelta(days=d)) for c in customers for d in range(3)
    ]
    licenses = [f.license_for(s, key=f"{s.name}-{i}") for s in subs for i in range(2)]
    await f.store(clean_db, *customers, *subs, *licenses)
    query = """query($first: Int) { customers(first: $first, sort: {field: COMPANY}) { edges {
      node { subscriptions(last: 2, sort: {field: START_DATE, direction: DESC}) {
        pageInfo { hasPreviousPage hasNextPage }
        edges { node { startDate licenses(last: 1, sort: {field: EXPIRES_AT}) {
          pageInfo { hasPreviousPage } edges { node { licenseKey } } } } } } } } } }"""
    app_db: Database = app.state.db  # type: ignore[attr-defined]
    counts = {}
    for first in (1, 6, 12):
        statements: list[str] = []
        app_db.observer = statements.append
        try:
            body = await gql(query, first=first)
        finally:
            app_db.observer = None
        assert "errors" not in body, body
        edges = body["data"]["customers"]["edges"]
        assert len(edges) == first
        for edge in edges:
            page = edge["node"]["subscriptions"]
            assert page["pageInfo"] == {"hasPreviousPage": True, "hasNextPage": False}
            dates = [e["node"]["startDate"] for e in page["edges"]]
            # newest start first; the last two of three
            assert dates == [(f.TODAY - timedelta(days=d)).isoformat() for d in (1, 2)]
            for sub in page["edges"]:
                assert sub["node"]["licenses"]["pageInfo"] == {"hasPreviousPage": True}
        counts[first] = len(statements)
    assert counts[1] == counts[6] == counts[12]
    # customers, their subscriptions, those subscriptions' licenses, the licenses' keys
    assert counts[12] <= 4

"""Every order a main list offers is served by an index (persistence/keyset.py, the migration
of sorted connections): EXPLAINed with sequential and bitmap scans off, no page, in either
direction, top level or nested, needs a Sort."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest

from api.graphql import sorting
from domain.principal import Principal, PrincipalKind
from persistence.database import Database
from persistence.keyset import Order, PageRequest
from persistence.read_models import ReadModels, SubscriptionFilter
from persistence.staff_reads import ProvisionEventFilter

import factories as f

STAFF = Principal(PrincipalKind.STAFF, subject="test:staff")
PARENTS = [uuid.uuid4(), uuid.uuid4()]

Read = Callable[[ReadModels, PageRequest], Awaitable[Any]]
LISTS: dict[str, tuple[sorting.Sorts, Read, dict[str | None, Any]]] = {
    "subscriptions": (
        sorting.SUBSCRIPTIONS,
        lambda read, r: read.subscriptions(STAFF, SubscriptionFilter(), f.TODAY, r),
        {None: None, "start_date": f.TODAY, "end_date": f.TODAY},
    ),
    "Customer.subscriptions": (
        sorting.SUBSCRIPTIONS,
        lambda read, r: read.subscriptions_by_customer(STAFF, PARENTS, r),
        {None: None, "start_date": f.TODAY, "end_date": f.TODAY},
    ),
    "customers": (
        sorting.CUSTOMERS,
        lambda read, r: read.customers(STAFF, r),
        {None: None, "company": "m"},
    ),
    "namespaces": (
        sorting.NAMESPACES,
        lambda read, r: read.namespaces(STAFF, r),
        {None: None, "path": "m", "gitlab_id": 5},
    ),
    "licenses": (
        sorting.LICENSES,
        lambda read, r: read.licenses(STAFF, None, r),
        {None: None, "starts_at": f.TODAY, "expires_at": f.TODAY},
    ),
    "Subscription.licenses": (
        sorting.LICENSES,
        lambda read, r: read.licenses_by_subscription(STAFF, PARENTS, r),
        {None: None, "starts_at": f.TODAY, "expires_at": f.TODAY},
    ),
    "usageReports": (
        sorting.USAGE_REPORTS,
        lambda read, r: read.usage_reports(STAFF, None, r),
        {None: None, "reported_at": f.NOW},
    ),
    "provisionEvents": (
        sorting.PROVISION_EVENTS,
        lambda read, r: read.provision_events(STAFF, ProvisionEventFilter(), r),
        {None: None, "next_attempt_at": f.NOW, "updated_at": f.NOW},
    ),
}


def _node_types(plan: dict[str, Any]) -> list[str]:
    """The plan's nodes, less those of per-row SubPlans (a column's own subquery, like a
    subscription's segments, sorts what it aggregates; that is not the page's order)."""
    found = [plan["Node Type"]]
    for child in plan.get("Plans", []):
        if child.get("Parent Relationship") != "SubPlan":
            found += _node_types(child)
    return found


def test_every_sort_the_api_offers_is_explained_here() -> None:
    for name, (sorts, _, values) in LISTS.items():
        assert {c.column for c in sorts.columns.values()} == set(values), name


CASES = [
    (name, column, descending, backward)
    for name, (_, _, values) in LISTS.items()
    for column in values
    for descending in (False, True)
    for backward in (False, True)
]


@pytest.mark.parametrize(("name", "column", "descending", "backward"), CASES)
async def test_each_page_is_an_index_scan(
    clean_db: Database, name: str, column: str | None, descending: bool, backward: bool
) -> None:
    _, read_page, values = LISTS[name]
    captured: list[tuple[str, tuple[Any, ...]]] = []
    fetch = clean_db.fetch

    async def capture(sql: str, *args: Any, **kwargs: Any) -> Any:
        captured.append((sql, args))
        return await fetch(sql, *args, **kwargs)

    clean_db.fetch = capture  # type: ignore[method-assign]
    try:
        request = PageRequest(
            20, Order(column, descending), backward, (values[column], uuid.uuid4())
        )
        await read_page(ReadModels(clean_db), request)
    finally:
        clean_db.fetch = fetch  # type: ignore[method-assign]
    [(sql, args)] = captured
    async with clean_db.pool.acquire() as connection, connection.transaction():
        # An empty table makes any plan cheap: leave the planner index scans only, so a page
        # that no index orders shows a Sort.
        await connection.execute("SET LOCAL enable_seqscan = off")
        await connection.execute("SET LOCAL enable_bitmapscan = off")
        explained = await connection.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", *args)
    nodes = _node_types(orjson.loads(explained)[0]["Plan"])
    assert "Sort" not in nodes, (name, column, nodes)
    assert "Incremental Sort" not in nodes, (name, column, nodes)
    assert any(node.startswith("Index") for node in nodes), nodes

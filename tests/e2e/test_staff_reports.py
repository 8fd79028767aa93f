"""``Query.staffReports`` through the real app (docs/reports.md): a report's figures as GraphQL
shows them, the default period, and refused arguments as VALIDATION_FAILED (never INTERNAL).
The exact figures of every report are in tests/integration/test_reports.py."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from persistence.database import Database

import factories as f
from graphql_client import GraphQL, answer, codes

ORDER_TO_ACCESS = """query($from: Date, $to: Date) { staffReports {
  orderToAccess(from: $from, to: $to) {
    deployment channel ordered accessed p50Seconds p95Seconds } } }"""


async def test_order_to_access_over_the_default_and_a_given_period(
    gql: GraphQL, clean_db: Database
) -> None:
    acme = f.customer("Acme")
    ordered = f.NOW - timedelta(days=1)
    sub = dataclasses.replace(f.subscription(acme), created_at=ordered)
    inst = dataclasses.replace(f.instance_for(sub), activated_at=ordered + timedelta(minutes=90))
    await f.store(clean_db, acme, sub, inst)
    # No period: the 30 days up to tomorrow, which hold yesterday's order.
    body = await gql(ORDER_TO_ACCESS)
    row = {"deployment": "SELF_MANAGED", "channel": "SALES", "ordered": 1, "accessed": 1,
           "p50Seconds": 5400.0, "p95Seconds": 5400.0}  # fmt: skip
    assert answer(body) == {"data": {"staffReports": {"orderToAccess": [row]}}}
    before = await gql(
        ORDER_TO_ACCESS,
        **{"from": (f.TODAY - timedelta(days=60)).isoformat(), "to": ordered.date().isoformat()},
    )
    assert answer(before) == {"data": {"staffReports": {"orderToAccess": []}}}


async def test_refused_arguments_are_validation_errors(gql: GraphQL, clean_db: Database) -> None:
    reversed_period = await gql(ORDER_TO_ACCESS, **{"from": "2026-12-01", "to": "2026-11-01"})
    assert codes(reversed_period) == ["VALIDATION_FAILED"]
    assert reversed_period["errors"][0]["path"] == ["staffReports", "orderToAccess"]
    assert "`from` must be before its `to`" in reversed_period["errors"][0]["message"]
    for field in (
        "stoppedSyncing(limit: 0)",
        "stoppedSyncing(days: 0)",
        "seatOverage(limit: 10001)",
    ):
        body = await gql(f"{{ staffReports {{ {field} {{ subscription }} }} }}")
        assert codes(body) == ["VALIDATION_FAILED"], field
    not_a_date = await gql(ORDER_TO_ACCESS, **{"from": "yesterday"})
    assert codes(not_a_date) != ["INTERNAL"]
    assert not_a_date.get("data") is None

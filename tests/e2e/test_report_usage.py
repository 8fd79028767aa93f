"""reportUsage over HTTP: the GraphQL form of a seat link, for an instance token with
``usage:write`` (its own subscription only) or staff."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from api.ids import parse_global_id
from domain.principal import PrincipalKind
from persistence.database import Database

from seat_link_flow import INSTANCE, Moving, moving_app, sell_and_activate

REPORT = """mutation($input: ReportUsageInput!) { reportUsage(input: $input) {
  recorded licenseKey usageReport { billableUsers addOnSeats } nextReconciliationDate
  futureSubscriptions { plan } errors { code path } } }"""


@pytest.fixture
async def moving(database_url: str, clean_db: Database) -> AsyncIterator[Moving]:
    async with moving_app(database_url) as app:
        yield app


def _input(key: str, moving: Moving) -> dict[str, object]:
    return {
        "licenseKey": key,
        "timestamp": moving.clock.now().isoformat(),
        "billableUsers": 12,
        "maxHistoricalUsers": 14,
        "instanceIdentifier": INSTANCE,
        "addOnMetrics": [{"addOnType": "duo_pro", "assignedSeats": 2}],
    }


async def test_an_instance_reports_its_usage(moving: Moving, clean_db: Database) -> None:
    sub, _, key = await sell_and_activate(moving)
    own = moving.headers(
        PrincipalKind.INSTANCE, subject=INSTANCE, subscription=parse_global_id(sub)[1]
    )
    body = await moving.graphql(REPORT, {"input": _input(key, moving)}, own)
    answer = body["data"]["reportUsage"]
    assert answer["errors"] == []
    assert answer["recorded"] is True
    assert answer["licenseKey"] is None
    assert answer["usageReport"] == {"billableUsers": 12, "addOnSeats": {"duo_pro": 2}}
    repeat = (await moving.graphql(REPORT, {"input": _input(key, moving)}, own))["data"]
    assert repeat["reportUsage"]["recorded"] is False
    assert repeat["reportUsage"]["usageReport"] is None
    assert await clean_db.fetchval("SELECT count(*) FROM usage_report") == 1


async def test_other_subscriptions_and_missing_scopes(moving: Moving, clean_db: Database) -> None:
    _, _, key = await sell_and_activate(moving)
    other, _, _ = await sell_and_activate(moving, instance="0b9c7a52-1d8e-4f3a-8c61-7e2d5f4a9b30")
    stranger = moving.headers(
        PrincipalKind.INSTANCE, subject=INSTANCE, subscription=parse_global_id(other)[1]
    )
    body = await moving.graphql(REPORT, {"input": _input(key, moving)}, stranger)
    assert [e["code"] for e in body["data"]["reportUsage"]["errors"]] == ["NOT_FOUND"]
    reader = moving.headers(
        PrincipalKind.PORTAL_USER, subject="usr_1", scopes=frozenset({"usage:read"})
    )
    body = await moving.graphql(REPORT, {"input": _input(key, moving)}, reader)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # Portal users hold usage:write for usage files (docs/usage-file.md); seat link is still
    # an instance's (or staff's): the key reads as unknown to them.
    portal = moving.headers(PrincipalKind.PORTAL_USER, subject="usr_1")
    body = await moving.graphql(REPORT, {"input": _input(key, moving)}, portal)
    assert [e["code"] for e in body["data"]["reportUsage"]["errors"]] == ["NOT_FOUND"]
    staff = await moving.graphql(REPORT, {"input": _input(key, moving)})
    assert staff["data"]["reportUsage"]["recorded"] is True
    assert await clean_db.fetchval("SELECT count(*) FROM usage_report") == 1

"""cancelLicense over HTTP: the next seat link delivers an expired cancellation key, once; a
second cancellation is refused; another tenant's license is not found; it is audited."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from domain.principal import PrincipalKind
from persistence.database import Database

from seat_link_flow import (
    Moving,
    attributes,
    moving_app,
    seat_link,
    seat_link_body,
    sell_and_activate,
)

CANCEL = """mutation($input: CancelLicenseInput!) { cancelLicense(input: $input) {
  license { id cancelled expiresAt } errors { code path } } }"""


@pytest.fixture
async def moving(database_url: str, clean_db: Database) -> AsyncIterator[Moving]:
    async with moving_app(database_url) as app:
        yield app


async def test_the_next_seat_link_delivers_the_cancellation_key(
    moving: Moving, clean_db: Database, database_url: str
) -> None:
    _, license_id, key = await sell_and_activate(moving)
    body = await moving.graphql(CANCEL, {"input": {"licenseId": license_id, "reason": "churn"}})
    cancelled = body["data"]["cancelLicense"]
    assert cancelled["errors"] == []
    assert cancelled["license"]["cancelled"] is True
    assert cancelled["license"]["expiresAt"] <= moving.clock.today().isoformat()

    answer = await seat_link(moving, seat_link_body(key, moving))
    assert answer.status_code == 200
    delivered = answer.json()
    assert delivered["future_subscriptions"] == []
    read = await attributes(database_url, delivered["license"])
    assert read["generated_from_cancellation"] is True
    assert read["expires_at"] <= moving.clock.today().isoformat()
    assert read["restrictions"]["active_user_count"] == 100

    # Delivered once: the instance now runs on it, and nothing new is signed for it.
    again = await seat_link(moving, seat_link_body(delivered["license"], moving))
    assert "license" not in again.json()
    assert await clean_db.fetchval("SELECT count(*) FROM license") == 2
    audit = await clean_db.fetch("SELECT reason FROM audit_entry WHERE action = 'cancelLicense'")
    assert [row["reason"] for row in audit] == ["churn"]  # the audit chain covers the reason

    twice = await moving.graphql(CANCEL, {"input": {"licenseId": license_id}})
    assert [e["code"] for e in twice["data"]["cancelLicense"]["errors"]] == [
        "LICENSE_ALREADY_CANCELLED"
    ]


async def test_another_tenants_license_is_not_found(moving: Moving, clean_db: Database) -> None:
    _, license_id, _ = await sell_and_activate(moving)
    stranger = moving.headers(PrincipalKind.PORTAL_USER, subject="usr_stranger")
    body = await moving.graphql(CANCEL, {"input": {"licenseId": license_id}}, stranger)
    assert [e["code"] for e in body["data"]["cancelLicense"]["errors"]] == ["NOT_FOUND"]
    reader = moving.headers(PrincipalKind.STAFF, scopes=frozenset({"licenses:read"}))
    body = await moving.graphql(CANCEL, {"input": {"licenseId": license_id}}, reader)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await clean_db.fetchval("SELECT count(*) FROM license WHERE cancelled") == 0

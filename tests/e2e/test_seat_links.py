"""POST /api/v1/seat_links over HTTP: the ramp's year two reaches the instance by seat link,
once; the same report posted 50 times at once is stored once; unknown keys and bad bodies
record nothing; both generations of GitLab's field names work; reconciliation dates only when
reconciliation is enabled."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from persistence.database import Database

from seat_link_flow import (
    INSTANCE,
    Moving,
    attributes,
    moving_app,
    ramp,
    seat_link,
    seat_link_body,
    sell_and_activate,
)


@pytest.fixture
async def moving(database_url: str, clean_db: Database) -> AsyncIterator[Moving]:
    async with moving_app(database_url) as app:
        yield app


async def test_year_two_of_a_ramp_arrives_by_seat_link_once(
    moving: Moving, clean_db: Database, database_url: str
) -> None:
    _, _, key = await sell_and_activate(moving)
    first = await attributes(database_url, key)
    for _ in range(2):  # year one: nothing new
        moving.clock.advance(timedelta(days=1))
        answer = await seat_link(moving, seat_link_body(key, moving))
        assert answer.status_code == 200, answer.text
        assert "license" not in answer.json()
    assert await clean_db.fetchval("SELECT count(*) FROM license") == 1

    moving.clock.advance(timedelta(days=365 - 30))  # into year two
    answer = await seat_link(moving, seat_link_body(key, moving))
    assert answer.status_code == 200, answer.text
    new_key = answer.json()["license"]
    second = await attributes(database_url, new_key)
    assert second["restrictions"]["active_user_count"] == 250
    assert first["restrictions"]["active_user_count"] == 100
    assert (second["issued_at"], second["expires_at"]) == (first["issued_at"], first["expires_at"])
    assert second["generated_from_cancellation"] is False

    moving.clock.advance(timedelta(days=1))
    later = await seat_link(moving, seat_link_body(new_key, moving))
    assert "license" not in later.json()
    # An instance that missed the answer, still on the old key, gets the same new key.
    behind = await seat_link(moving, seat_link_body(key, moving, timestamp="2020-01-01T00:00:00Z"))
    assert behind.json()["license"] == new_key
    assert await clean_db.fetchval("SELECT count(*) FROM license") == 2
    synced = await clean_db.fetchrow(
        "SELECT last_synced_at, hostname, gitlab_version FROM instance"
    )
    assert synced is not None
    assert synced["last_synced_at"] == moving.clock.now()
    assert synced["gitlab_version"] == "18.6.0-ee"


async def test_fifty_identical_posts_store_one_report(moving: Moving, clean_db: Database) -> None:
    _, _, key = await sell_and_activate(moving)
    body = seat_link_body(key, moving)
    answers = await asyncio.gather(*(seat_link(moving, body) for _ in range(50)))
    assert {a.status_code for a in answers} == {200}
    rows = await clean_db.fetch(
        "SELECT billable_users, max_historical_users, add_on_seats, instance_identifier,"
        " hostname, gitlab_version, instance FROM usage_report"
    )
    assert len(rows) == 1
    [row] = rows
    assert (row["billable_users"], row["max_historical_users"]) == (90, 95)
    assert row["instance_identifier"] == INSTANCE
    assert row["instance"] is not None
    assert '"duo_pro": 3' in row["add_on_seats"]


async def test_unknown_and_garbled_keys_record_nothing(moving: Moving, clean_db: Database) -> None:
    _, _, key = await sell_and_activate(moving)
    for bad in ("bm90IGEga2V5\n", key[:-40] + "\n", "", "A" * 5000, key.replace("A", "B", 1)):
        answer = await seat_link(moving, seat_link_body(bad, moving))
        # Seen red twice in full runs (200), never alone: say which key and what came back.
        assert answer.status_code == 422, (repr(bad[:40]), answer.text[:400])
        assert answer.json()["success"] is False
        assert answer.json()["errors"]
    assert await clean_db.fetchval("SELECT count(*) FROM usage_report") == 0
    assert await clean_db.fetchval("SELECT last_synced_at FROM instance") is None


async def test_a_key_sent_back_with_other_line_ends_is_recognised(
    moving: Moving, clean_db: Database
) -> None:
    _, _, key = await sell_and_activate(moving)
    crlf = key.replace("\n", "\r\n")
    framed = f"----BEGIN GITLAB LICENSE----\r\n{crlf}----END GITLAB LICENSE----"
    answer = await seat_link(moving, seat_link_body(framed.rstrip(), moving))
    assert answer.status_code == 200, answer.text
    assert "license" not in answer.json()


async def test_older_field_names_are_accepted(moving: Moving, clean_db: Database) -> None:
    _, _, key = await sell_and_activate(moving)
    older = {
        "license_key": key,
        "date": "2026-01-02",
        "active_users": 42,
        "max_historical_user_count": 50,
        "gitlab_version": "13.9.0-ee",
        "hostname": "old.acme.test",
    }
    answer = await seat_link(moving, older)
    assert answer.status_code == 200, answer.text
    again = await seat_link(moving, older)
    assert again.status_code == 200
    row = await clean_db.fetchrow("SELECT billable_users, reported_at FROM usage_report")
    assert row is not None
    assert row["billable_users"] == 42
    assert row["reported_at"].isoformat() == "2026-01-02T00:00:00+00:00"
    assert await clean_db.fetchval("SELECT count(*) FROM usage_report") == 1


async def test_reconciliation_dates_only_when_enabled(moving: Moving, clean_db: Database) -> None:
    _, _, plain = await sell_and_activate(moving)
    answer = (await seat_link(moving, seat_link_body(plain, moving))).json()
    assert "next_reconciliation_date" not in answer
    assert "display_alert_from" not in answer
    _, _, reconciled = await sell_and_activate(
        moving, instance="0b9c7a52-1d8e-4f3a-8c61-7e2d5f4a9b30", reconciliationEnabled=True
    )
    answer = (await seat_link(moving, seat_link_body(reconciled, moving))).json()
    assert answer["next_reconciliation_date"] > moving.clock.today().isoformat()
    assert answer["display_alert_from"] < answer["next_reconciliation_date"]


async def test_future_subscriptions_carry_both_offline_flags(
    moving: Moving, clean_db: Database
) -> None:
    start = moving.clock.today() + timedelta(days=335)
    sub, _, key = await sell_and_activate(
        moving, term={"segments": ramp(start - timedelta(days=365), 10)}
    )
    renew = """mutation($input: RenewSubscriptionInput!) { renewSubscription(input: $input) {
      errors { code } } }"""
    term = {"segments": ramp(start, 20)}
    renewed = await moving.graphql(renew, {"input": {"subscriptionId": sub, "term": term}})
    assert renewed["data"]["renewSubscription"]["errors"] == []
    [future] = (await seat_link(moving, seat_link_body(key, moving))).json()["future_subscriptions"]
    assert future["offline_cloud_licensing"] is False
    assert future["offline_cloud_license_enabled"] is False
    assert future["cloud_license_enabled"] is True
    assert future["users_in_license_count"] == 20
    assert future["starts_at"] == start.isoformat()


STAMP = "2026-01-01T00:00:00Z"


def _json(**fields: object) -> bytes:
    return json.dumps({"license_key": "x", "timestamp": STAMP, **fields}).encode()


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b'{"license_key": ', 400),
        (b"[1, 2]", 400),
        (b"\xff\xfe", 400),
        (b"[" * 100_000, 400),
        (_json(billable_users_count=1, padding="A" * 70_000), 400),
        (_json(license_key=7, billable_users_count=1), 422),
        (_json(timestamp="yesterday", billable_users_count=1), 422),
        (_json(billable_users_count="1"), 422),
        (_json(billable_users_count=True), 422),
        (_json(), 422),
        (_json(billable_users_count=1, add_on_metrics={"a": 1}), 422),
        (_json(billable_users_count=1, add_on_metrics=[{"add_on_type": 3}]), 422),
        (_json(billable_users_count=99999999999999999999), 422),
        (_json(billable_users_count=1, hostname="\u0000"), 422),
    ],
)
async def test_bad_bodies_are_4xx_never_500(
    moving: Moving, clean_db: Database, content: bytes, status: int
) -> None:
    answer = await moving.http.post(
        "/api/v1/seat_links", content=content, headers={"content-type": "application/json"}
    )
    assert answer.status_code == status, answer.text
    assert answer.json()["success"] is False
    assert await clean_db.fetchval("SELECT count(*) FROM usage_report") == 0


async def test_an_instance_that_did_not_activate_is_recorded_without_one(
    moving: Moving, clean_db: Database
) -> None:
    _, _, key = await sell_and_activate(moving)
    other = "0b9c7a52-1d8e-4f3a-8c61-7e2d5f4a9b30"
    answer = await seat_link(moving, seat_link_body(key, moving, instance_id=other))
    assert answer.status_code == 200
    row = await clean_db.fetchrow("SELECT instance, instance_identifier FROM usage_report")
    assert row is not None
    assert row["instance"] is None
    assert row["instance_identifier"] == other
    bad = await seat_link(moving, seat_link_body(key, moving, instance_id="not-a-uuid"))
    assert bad.status_code == 422
    assert bad.json()["error_attribute_map"] == {"instance_id": bad.json()["errors"]}

"""The fleet end to end (docs/instances.md), over the real app and PostgreSQL: a subscription
with a production instance, a Geo secondary and a staging instance reports usage per instance
and combined by the rule; replacing the production instance hands the key to the new one and
ends the old one's access on the stated date; an instance that stopped syncing is listed and
its customer reminded once."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from api.ids import global_id
from domain.use_cases.emails import Reminders, ReminderSettings
from persistence.database import Database
from persistence.unit_of_work import PostgresUnitOfWork

from seat_link_flow import (
    ACTIVATE,
    CREATE,
    INSTANCE,
    Moving,
    attributes,
    moving_app,
    ramp,
    seat_link,
    seat_link_body,
)

GEO = "6e3c8d2f-9a5b-4d2c-8b64-3a9f7e1d5c82"
STAGING = "7f4d9e3a-ab6c-4e3d-9c75-4ba08f2e6d93"
NEW = "8a5eaf4b-bc7d-4f4e-8d86-5cb19a3f7ea4"

SET_ROLE = """mutation($input: SetInstanceRoleInput!) { setInstanceRole(input: $input) {
  instance { id role } errors { code message } } }"""
REPLACE = """mutation($input: ReplaceInstanceInput!) { replaceInstance(input: $input) {
  instance { id retiredAt accessEndsOn replacedBy { id } }
  endKey { id cancelled expiresAt licenseKey }
  replacement { id role instanceIdentifier } errors { code message } } }"""
USAGE = """query($id: ID!) { node(id: $id) { ... on Subscription {
  instanceUsage { seats billableUsers maxSeatsUsed overage trueUpSeats
    instances { instance { instanceIdentifier } role billableUsers maxHistoricalUsers
      countedBillableUsers countedMaxUsers reason explanation } } } } }"""
STOPPED = """query($id: ID!) { instances(subscriptionId: $id, stoppedSyncing: true, first: 10) {
  totalCount edges { node { instanceIdentifier stoppedSyncing } } } }"""


@pytest.fixture
async def moving(database_url: str, clean_db: Database) -> AsyncIterator[Moving]:
    async with moving_app(database_url) as app:
        yield app


async def _sell(moving: Moving) -> tuple[str, str]:
    fields = {
        "deployment": "SELF_MANAGED",
        "plan": "ULTIMATE",
        "maxInstances": 3,
        "term": {"segments": ramp(moving.clock.today() - timedelta(days=30), 100)},
        "newCustomer": {"company": "Acme", "contactName": "Ada", "contactEmail": "ada@acme.test"},
    }
    created = (await moving.graphql(CREATE, {"input": fields}))["data"]["createSubscription"]
    assert created["errors"] == [], created
    return created["subscription"]["id"], created["activationCode"]


async def _activate(moving: Moving, code: str, identifier: str) -> dict[str, Any]:
    activation = {"activationCode": code, "instanceIdentifier": identifier}
    body = await moving.graphql(ACTIVATE, {"input": activation}, headers={})
    activated: dict[str, Any] = body["data"]["activateSubscription"]
    return activated


async def _instance_id(db: Database, identifier: str) -> str:
    local = await db.fetchval("SELECT id FROM instance WHERE instance_identifier = $1", identifier)
    return global_id("Instance", local)


async def _report(moving: Moving, key: str, identifier: str, billable: int, most: int) -> Any:
    answer = await seat_link(
        moving,
        seat_link_body(
            key,
            moving,
            instance_id=identifier,
            billable_users_count=billable,
            max_historical_user_count=most,
        ),
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_three_roles_combine_and_a_replacement_takes_over_the_key(
    moving: Moving, clean_db: Database, database_url: str
) -> None:
    sub_id, code = await _sell(moving)
    key = (await _activate(moving, code, INSTANCE))["licenseKey"]
    for identifier in (GEO, STAGING):
        assert (await _activate(moving, code, identifier))["errors"] == []
    for identifier, role in ((GEO, "GEO_SECONDARY"), (STAGING, "STAGING")):
        answer = await moving.graphql(
            SET_ROLE,
            {"input": {"instanceId": await _instance_id(clean_db, identifier), "role": role}},
        )
        assert answer["data"]["setInstanceRole"]["errors"] == [], answer
        assert answer["data"]["setInstanceRole"]["instance"]["role"] == role

    await _report(moving, key, INSTANCE, 96, 104)
    await _report(moving, key, GEO, 96, 104)
    await _report(moving, key, STAGING, 40, 110)

    usage = (await moving.graphql(USAGE, {"id": sub_id}))["data"]["node"]["instanceUsage"]
    assert (usage["seats"], usage["billableUsers"], usage["maxSeatsUsed"]) == (100, 96, 114)
    assert (usage["overage"], usage["trueUpSeats"]) == (14, 14)
    parts = {p["instance"]["instanceIdentifier"]: p for p in usage["instances"]}
    assert [parts[i]["reason"] for i in (INSTANCE, GEO, STAGING)] == [
        "COUNTED",
        "REPLICA",
        "BEYOND_ALLOWANCE",
    ]
    assert (parts[GEO]["maxHistoricalUsers"], parts[GEO]["countedMaxUsers"]) == (104, 0)
    assert parts[STAGING]["countedMaxUsers"] == 10
    assert "allowance of 100" in parts[STAGING]["explanation"]

    # The hardware move: the production instance goes to NEW, its access ends in 5 days.
    ends_on = (moving.clock.today() + timedelta(days=5)).isoformat()
    old_id = await _instance_id(clean_db, INSTANCE)
    moved = (
        await moving.graphql(
            REPLACE,
            {
                "input": {
                    "instanceId": old_id,
                    "newInstanceIdentifier": NEW,
                    "accessEndsOn": ends_on,
                }
            },
        )
    )["data"]["replaceInstance"]
    assert moved["errors"] == [], moved
    assert moved["instance"]["accessEndsOn"] == ends_on
    assert moved["replacement"]["role"] == "PRODUCTION"
    assert moved["instance"]["replacedBy"]["id"] == moved["replacement"]["id"]
    assert (moved["endKey"]["cancelled"], moved["endKey"]["expiresAt"]) == (True, ends_on)

    # The old instance's next sync gets the end key, as GitLab reads it with the public key.
    old_answer = await _report(moving, key, INSTANCE, 96, 104)
    end_key = old_answer["license"]
    assert end_key == moved["endKey"]["licenseKey"]
    said = await attributes(database_url, end_key)
    assert said["expires_at"] == ends_on
    assert said["generated_from_cancellation"] is True
    assert old_answer["future_subscriptions"] == []
    assert "license" not in await _report(moving, end_key, INSTANCE, 96, 104)

    # The new instance activates and gets the normal key; its syncs are its own.
    activated = await _activate(moving, code, NEW)
    assert activated["errors"] == []
    assert activated["licenseKey"] == key
    assert (await attributes(database_url, key))["generated_from_cancellation"] is False
    assert "license" not in await _report(moving, key, NEW, 97, 105)
    usage = (await moving.graphql(USAGE, {"id": sub_id}))["data"]["node"]["instanceUsage"]
    parts = {p["instance"]["instanceIdentifier"]: p for p in usage["instances"]}
    assert (parts[INSTANCE]["reason"], parts[NEW]["reason"]) == ("RETIRED", "COUNTED")
    assert usage["maxSeatsUsed"] == 105 + 0 + 10

    # A week later only STAGING has gone quiet: it is listed, and reminded once.
    moving.clock.advance(timedelta(days=8))
    await _report(moving, key, NEW, 97, 105)
    await _report(moving, key, GEO, 97, 105)
    listed = (await moving.graphql(STOPPED, {"id": sub_id}))["data"]["instances"]
    assert listed["totalCount"] == 1
    assert listed["edges"][0]["node"] == {"instanceIdentifier": STAGING, "stoppedSyncing": True}
    reminders = Reminders(lambda: PostgresUnitOfWork(clean_db), moving.clock, ReminderSettings())
    assert await reminders.instances_stopped_syncing() == 1
    moving.clock.advance(timedelta(days=1))
    assert await reminders.instances_stopped_syncing() == 0
    rows = await clean_db.fetch(
        "SELECT payload FROM provision_event WHERE kind = 'EMAIL'"
        " AND payload->>'template' = 'instance_stopped_syncing'"
    )
    [payload] = [json.loads(r["payload"]) for r in rows]
    assert payload["to"] == "ada@acme.test"
    assert payload["context"]["instance_identifier"] == STAGING

"""Lifecycle emails on PostgreSQL through the real app: renewSubscription and
cancelSubscription email the customer's contact once (replays too), reportNamespaceUsage over
the seats emails once per term, the reminder jobs (in-process, on a movable clock) email once
even when two runs overlap, and a renewal's email reaches a local SMTP server."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.ids import global_id
from domain.model.calendar import add_years
from domain.model.enums import Deployment
from domain.model.provision_event import ProvisionStatus
from domain.principal import PrincipalKind
from domain.use_cases.emails import Reminders, ReminderSettings
from persistence.database import Database
from persistence.unit_of_work import PostgresUnitOfWork

import factories as f
from bearer import bearer, token_for
from ledger_peer import workers
from ledger_wait import settled
from mail_peer import MailPeer, serving_smtp
from oauth_flow import MovableClock

RENEW = """mutation($input: RenewSubscriptionInput!) { renewSubscription(input: $input) {
  errors { code } } }"""
CANCEL = """mutation($input: CancelSubscriptionInput!) { cancelSubscription(input: $input) {
  errors { code } } }"""
USAGE = """mutation($input: ReportNamespaceUsageInput!) { reportNamespaceUsage(input: $input) {
  errors { code } } }"""


async def _call(http: httpx.AsyncClient, query: str, name: str, **fields: Any) -> Any:
    answer = await http.post("/graphql", json={"query": query, "variables": {"input": fields}})
    return answer.json()["data"][name]


async def _emails(db: Database, template: str) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT id, payload::text AS payload FROM provision_event WHERE kind = 'EMAIL'"
        " AND payload->>'template' = $1 ORDER BY id",
        template,
    )
    return [{"id": r["id"], **json.loads(r["payload"])} for r in rows]


async def _renew(client: httpx.AsyncClient, sub: Any, key: str = "renew-1") -> Any:
    start = sub.end_date
    end = add_years(start, 1)
    term = {"segments": [{"startDate": start.isoformat(), "endDate": end.isoformat(), "seats": 30}]}
    return await _call(
        client,
        RENEW,
        "renewSubscription",
        subscriptionId=global_id("Subscription", sub.id),
        term=term,
        idempotencyKey=key,
    )


async def test_renewal_and_cancellation_email_the_contact_once(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    acme = f.customer("Acme")
    sub = f.subscription(acme)
    await f.store(clean_db, acme, sub)
    assert (await _renew(client, sub))["errors"] == []
    assert (await _renew(client, sub))["errors"] == []  # a replay: no second email
    [renewed] = await _emails(clean_db, "subscription_renewed")
    assert renewed["to"] == acme.contact_email
    assert renewed["context"]["seats"] == 30
    assert renewed["context"]["starts_on"] == sub.end_date.isoformat()

    gid = global_id("Subscription", sub.id)
    for _ in range(2):
        await _call(client, CANCEL, "cancelSubscription", subscriptionId=gid, idempotencyKey="c")
    again = await _call(client, CANCEL, "cancelSubscription", subscriptionId=gid)
    assert again["errors"] == [{"code": "SUBSCRIPTION_ALREADY_CANCELLED"}]
    [cancelled] = await _emails(clean_db, "subscription_cancelled")
    assert cancelled["to"] == acme.contact_email
    assert cancelled["context"]["immediately"] is False


async def test_namespace_usage_over_the_seats_emails_once_per_term(
    app: Starlette, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    acme = f.customer("Acme")
    group = f.namespace(42)
    sub = f.subscription(acme, deployment=Deployment.GITLAB_COM, namespace_id=group.id)
    await f.store(clean_db, acme, group, sub)
    anonymous.headers.update(bearer(token_for(app, PrincipalKind.GITLAB_COM, subject="gitlab")))

    async def report(seats: int) -> None:
        fields = {"billableMembers": seats, "maxSeatsUsed": seats}
        answer = await _call(
            anonymous,
            USAGE,
            "reportNamespaceUsage",
            gitlabId=42,
            computeMinutesUsed=0,
            storageUsedBytes=0,
            **fields,
        )
        assert answer["errors"] == []

    await report(10)
    assert await _emails(clean_db, "seat_overage") == []
    await asyncio.gather(report(12), report(12), report(14))  # racing reports: one email
    await report(20)
    [overage] = await _emails(clean_db, "seat_overage")
    assert overage["to"] == acme.contact_email
    assert overage["context"]["seats"] == 10
    assert overage["context"]["max_seats_used"] in (12, 14)


async def test_reminder_jobs_email_once_even_when_runs_overlap(clean_db: Database) -> None:
    clock = MovableClock()
    today = clock.today()
    acme = f.customer("Acme")
    group = dataclasses.replace(f.namespace(7), owner_emails=("ada@acme.test", "bob@acme.test"))
    soon = dataclasses.replace(f.trial_on(group), ends_on=today + timedelta(days=5))
    ending = dataclasses.replace(
        f.subscription(acme, start=add_years(today, -1) + timedelta(days=10)),
        auto_renew=False,
    )
    renewing = f.subscription(acme, start=add_years(today, -1) + timedelta(days=10))
    await f.store(clean_db, acme, group, soon, ending, renewing)

    def runs() -> list[Reminders]:
        return [
            Reminders(lambda: PostgresUnitOfWork(clean_db), clock, ReminderSettings())
            for _ in range(2)
        ]

    await asyncio.gather(*(r.trials_ending_soon() for r in runs()))
    await asyncio.gather(*(r.subscriptions_expiring() for r in runs()))
    clock.advance(timedelta(days=1))  # the next day's run finds nothing new
    assert await runs()[0].trials_ending_soon() == 0
    assert await runs()[0].subscriptions_expiring() == 0

    reminders = await _emails(clean_db, "trial_ending_soon")
    assert sorted(r["to"] for r in reminders) == ["ada@acme.test", "bob@acme.test"]
    assert reminders[0]["context"]["days_left"] == 5
    [expiring] = await _emails(clean_db, "subscription_expiring")
    assert expiring["to"] == acme.contact_email
    assert expiring["context"]["days_left"] == 10
    assert expiring["context"]["ends_on"] == ending.end_date.isoformat()


@pytest.fixture(scope="module")
def smtp() -> Iterator[MailPeer]:
    with serving_smtp() as peer:
        yield peer


async def test_the_renewal_email_reaches_the_smtp_server(
    client: httpx.AsyncClient, clean_db: Database, smtp: MailPeer, tmp_path: Path
) -> None:
    smtp.reset()
    acme = f.customer("Acme")
    sub = f.subscription(acme)
    await f.store(clean_db, acme, sub)
    assert (await _renew(client, sub))["errors"] == []
    [row] = await _emails(clean_db, "subscription_renewed")
    with workers(clean_db.dsn, tmp_path, 1, SMTP_URL=smtp.url):
        await settled(clean_db, row["id"], ProvisionStatus.SUCCEEDED)
    [message] = smtp.messages
    assert smtp.recipients == [[acme.contact_email]]
    assert message["Subject"] == f"{sub.name} was renewed"
    assert message["Message-ID"] == f"<{row['id']}@provision.localhost>"
    text = message.get_body(("plain",))
    assert text is not None
    assert "with 30 seats" in text.get_content()
    assert sub.end_date.isoformat() in text.get_content()

"""Sandbox tenants' test clocks (docs/test-clock.md) on PostgreSQL through the real app: a
three-year ramp deal with a trial on a linked group walked through three years in a few
advances - each license a seat link receives, each email (sent by the worker's email handler
to a local SMTP server) and each namespace state on the way - while a real tenant beside it
never sees a moved clock; who may advance a clock, and what is refused."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.commands import SandboxTime, parse_duration
from api.ids import global_id, parse_typed_id
from api.settings import Settings
from api.worker.loop import Worker, WorkerConfig, WorkerRegistry
from api.worker.process import WorkerContext, register_outbound, sandbox_clocks_job
from domain.errors import NotASandbox
from domain.model.calendar import add_months
from domain.model.customer import Customer, Membership
from domain.model.enums import Deployment, Role
from domain.policy import ALL_SCOPES
from domain.principal import Principal, PrincipalKind
from persistence.database import Database
from persistence.ledger import PostgresLedger, PostgresScheduledJobRuns
from persistence.unit_of_work import PostgresUnitOfWork

import factories as f
from bearer import bearer, token_for
from clocks import SESSION_CLOCK
from mail_peer import MailPeer, serving_smtp
from seat_link_flow import attributes

CREATE = """mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) {
  subscription { id } activationCode errors { code } } }"""
ACTIVATE = """mutation($input: ActivateSubscriptionInput!) { activateSubscription(input: $input) {
  licenseKey errors { code message } } }"""
ADVANCE = """mutation($input: AdvanceTestClockInput!) { advanceTestClock(input: $input) {
  customerId now steps errors { code message path } } }"""
STATE = """query($sub: ID!, $group: ID!) {
  sub: node(id: $sub) { ... on Subscription { status seats } }
  group: node(id: $group) { ... on Namespace { plan trials { status } } } }"""
RECONCILIATION = """query($sub: ID!) {
  sub: node(id: $sub) { ... on Subscription { usage { nextReconciliationDate } } } }"""
INSTANCE = "5d2b7c1e-8f4a-4c1b-9a53-2f8e6d0c4b71"


@dataclasses.dataclass
class Deal:
    """The sandbox customer's three-year ramp (self-managed) and its linked group on trial,
    and a real customer with the same dates beside it."""

    app: Starlette
    db: Database
    acme: Customer
    ramp: str  # the ramp subscription's global id
    key: str  # the key the instance activated with
    group: str  # the group's global id
    saas: uuid.UUID
    globex: Customer
    globex_sub: str
    globex_group: str

    def as_(self, kind: PrincipalKind = PrincipalKind.STAFF, **claims: Any) -> dict[str, str]:
        return bearer(token_for(self.app, kind, **claims))

    def owner(self) -> dict[str, str]:
        return self.as_(PrincipalKind.PORTAL_USER, subject="usr_ada")

    async def post(self, query: str, variables: dict[str, Any], headers: dict[str, str]) -> Any:
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://provision.test") as h:
            answer = await h.post(
                "/graphql", json={"query": query, "variables": variables}, headers=headers
            )
        assert answer.status_code == 200, answer.text
        return answer.json()

    async def advance(self, headers: dict[str, str] | None = None, **move: str) -> Any:
        body = await self.post(
            ADVANCE,
            {"input": {"customerId": global_id("Customer", self.acme.id), **move}},
            headers if headers is not None else self.owner(),
        )
        return body["data"]["advanceTestClock"]

    async def state(self, headers: dict[str, str], sub: str = "", group: str = "") -> Any:
        return (
            await self.post(STATE, {"sub": sub or self.ramp, "group": group or self.group}, headers)
        )["data"]

    async def next_reconciliation(self, headers: dict[str, str]) -> str | None:
        body = await self.post(RECONCILIATION, {"sub": self.ramp}, headers)
        usage = body["data"]["sub"]["usage"]
        return None if usage is None else usage["nextReconciliationDate"]

    async def seat_link(self, now: str) -> Any:
        body = {
            "timestamp": now,
            "license_key": self.key,
            "max_historical_user_count": 95,
            "billable_users_count": 90,
            "hostname": "gitlab.acme.test",
            "instance_id": INSTANCE,
            "gitlab_version": "18.6.0-ee",
        }
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://provision.test") as h:
            answer = await h.post("/api/v1/seat_links", json=body)
        assert answer.status_code == 200, answer.text
        return answer.json()

    async def emails(self, template: str) -> list[str]:
        rows = await self.db.fetch(
            "SELECT payload->>'to' AS to FROM provision_event WHERE kind = 'EMAIL'"
            " AND payload->>'template' = $1 ORDER BY created_at, id",
            template,
        )
        return [r["to"] for r in rows]


async def _deal(app: Starlette, db: Database, headers: dict[str, str]) -> Deal:
    transport = httpx.ASGITransport(app=app)
    today = SESSION_CLOCK.today()
    start = today - timedelta(days=30)
    segments = [
        {
            "startDate": (start + timedelta(days=365 * i)).isoformat(),
            "endDate": (start + timedelta(days=365 * (i + 1))).isoformat(),
            "seats": seats,
        }
        for i, seats in enumerate((100, 250, 500))
    ]
    async with httpx.AsyncClient(
        transport=transport, base_url="http://provision.test", headers=headers
    ) as http:
        created = (
            await http.post(
                "/graphql",
                json={
                    "query": CREATE,
                    "variables": {
                        "input": {
                            "deployment": "SELF_MANAGED",
                            "plan": "ULTIMATE",
                            "autoRenew": False,
                            "reconciliationEnabled": True,
                            "term": {"segments": segments},
                            "newCustomer": {
                                "company": "Acme",
                                "contactName": "Ada",
                                "contactEmail": "ada@acme.test",
                            },
                        }
                    },
                },
            )
        ).json()["data"]["createSubscription"]
        assert created["errors"] == [], created
        activated = (
            await http.post(
                "/graphql",
                json={
                    "query": ACTIVATE,
                    "variables": {
                        "input": {
                            "activationCode": created["activationCode"],
                            "instanceIdentifier": INSTANCE,
                        }
                    },
                },
                headers={"Authorization": ""},
            )
        ).json()["data"]["activateSubscription"]
        assert activated["errors"] == [], activated
    ramp_id = parse_typed_id(created["subscription"]["id"], "Subscription", path=())
    acme_id = await db.fetchval("SELECT customer FROM subscription WHERE id = $1", ramp_id)
    async with PostgresUnitOfWork(db) as uow:
        acme = await uow.customers.get(acme_id)
    assert acme is not None
    group = dataclasses.replace(f.namespace(42), owner_emails=("owner@acme.test",))
    saas = f.subscription(acme, deployment=Deployment.GITLAB_COM, namespace_id=group.id)
    trial = f.trial_on(group, days_left=10)
    globex = f.customer("Globex")
    globex_group = dataclasses.replace(f.namespace(43), owner_emails=("owner@globex.test",))
    globex_saas = f.subscription(
        globex, deployment=Deployment.GITLAB_COM, namespace_id=globex_group.id
    )
    globex_sub = dataclasses.replace(f.subscription(globex, start=start), auto_renew=False)
    await f.store(db, group, saas, trial, globex, globex_group, globex_saas, globex_sub)
    await f.store(db, f.trial_on(globex_group, days_left=10))
    async with PostgresUnitOfWork(db) as uow:
        await uow.customers.add_membership(Membership(acme.id, "usr_ada", Role.OWNER))
        await uow.customers.add_membership(Membership(acme.id, "usr_vic", Role.VIEWER))
        await uow.customers.add_membership(Membership(globex.id, "usr_gil", Role.OWNER))
        await uow.commit()
    return Deal(
        app=app,
        db=db,
        acme=acme,
        ramp=created["subscription"]["id"],
        key=activated["licenseKey"],
        group=global_id("Namespace", group.id),
        saas=saas.id,
        globex=globex,
        globex_sub=global_id("Subscription", globex_sub.id),
        globex_group=global_id("Namespace", globex_group.id),
    )


@pytest.fixture
async def deal(app: Starlette, client: httpx.AsyncClient, clean_db: Database) -> Deal:
    made = await _deal(app, clean_db, dict(client.headers))
    sandbox: SandboxTime = app.state.sandbox
    assert await sandbox.clocks.mark(made.acme.id, True)
    return made


@pytest.fixture(scope="module")
def smtp() -> Iterator[MailPeer]:
    with serving_smtp() as peer:
        yield peer


@pytest.fixture
async def mail_worker(clean_db: Database, smtp: MailPeer) -> AsyncIterator[Worker]:
    """The worker's EMAIL handler on the SMTP peer, run in process one claim round at a time."""
    smtp.reset()
    config = WorkerConfig(concurrency=4)
    async with httpx.AsyncClient() as http:
        context = WorkerContext(clean_db, http, Settings(smtp_url=smtp.url), SESSION_CLOCK, config)
        registry = WorkerRegistry()
        register_outbound(registry, context)
        yield Worker(
            PostgresLedger(clean_db, SESSION_CLOCK),
            PostgresScheduledJobRuns(clean_db, SESSION_CLOCK),
            registry,
            config,
            SESSION_CLOCK,
        )


async def _send_all(worker: Worker) -> None:
    while True:
        _, claimed = await worker.tick()
        await worker.drain()
        if claimed == 0:
            return


def _quarter_after(start: date, today: date) -> date:
    """The ramp's next quarterly reconciliation (docs/test-clock.md): the first quarter boundary
    of its one three-year term after ``today``."""
    quarter = 1
    while add_months(start, 3 * quarter) <= today:
        quarter += 1
    return add_months(start, 3 * quarter)


def _reconciliation(answer: dict[str, Any], start: date, now: str) -> tuple[str, str]:
    """The seat link answer's reconciliation date and banner start, with what they must be."""
    expected = _quarter_after(start, datetime.fromisoformat(now).date())
    assert (answer["next_reconciliation_date"], answer["display_alert_from"]) == (
        expected.isoformat(),
        (expected - timedelta(days=7)).isoformat(),
    )
    return answer["next_reconciliation_date"], expected.isoformat()


async def _seats_of(database_url: str, key: str) -> int:
    seats: int = (await attributes(database_url, key))["restrictions"]["active_user_count"]
    return seats


async def test_three_years_of_a_ramp_deal_with_a_trial_walk_by_in_a_few_advances(
    deal: Deal, mail_worker: Worker, smtp: MailPeer, database_url: str
) -> None:
    staff, owner = deal.as_(), deal.owner()
    real_today = SESSION_CLOCK.today()
    start = real_today - timedelta(days=30)
    end = start + timedelta(days=3 * 365)
    assert await _seats_of(database_url, deal.key) == 100

    # Day 5: the trial ends in 5 days - its owners were told on the day it was 7 days away
    # (the reminder's window opened then), once; nothing else moved.
    moved = await deal.advance(by="P5D")
    assert moved["errors"] == []
    assert datetime.fromisoformat(moved["now"]).date() == real_today + timedelta(days=5)
    assert await deal.emails("trial_ending_soon") == ["owner@acme.test"]
    state = await deal.state(owner)
    assert state["group"] == {"plan": "ULTIMATE_TRIAL", "trials": [{"status": "ACTIVE"}]}

    # Day 11: the trial ended and reverted: GitLab.com is asked for the linked plan.
    moved = await deal.advance(by="P6D")
    assert moved["errors"] == []
    assert len(moved["steps"]) >= 2  # the day the trial ended, then the target
    state = await deal.state(owner)
    assert state["group"] == {"plan": "FREE", "trials": [{"status": "EXPIRED"}]}
    calls = await deal.db.fetch(
        "SELECT payload->'provision'->'base_product'->>'plan_code' AS plan FROM provision_event"
        " WHERE kind = 'NAMESPACE_PROVISION' AND namespace_id = $1",
        parse_typed_id(deal.group, "Namespace", path=()),
    )
    assert [c["plan"] for c in calls] == ["premium"]
    reverted = await deal.db.fetchval(
        "SELECT reverted_on FROM trial WHERE namespace = $1",
        parse_typed_id(deal.group, "Namespace", path=()),
    )
    assert reverted == real_today + timedelta(days=10)
    answer = await deal.seat_link(moved["now"])
    assert "license" not in answer  # still the first year's 100 seats
    assert state["sub"] == {"status": "ACTIVE", "seats": 100}
    # Reconciliation is quarterly over the three-year term: the first quarter's end, told to
    # the instance (and its banner a week before) and shown to the owner at the sandbox's time.
    first, _ = _reconciliation(answer, start, moved["now"])
    assert first == add_months(start, 3).isoformat()
    assert await deal.next_reconciliation(owner) == first

    # Year 2 starts: the next seat link receives a key for 250 seats.
    moved = await deal.advance(to=f"{(start + timedelta(days=365)).isoformat()}T12:00:00Z")
    assert moved["errors"] == []
    answer = await deal.seat_link(moved["now"])
    deal.key = answer["license"]
    assert await _seats_of(database_url, deal.key) == 250
    second, expected = _reconciliation(answer, start, moved["now"])
    assert second > (start + timedelta(days=365)).isoformat()  # the second year's quarters
    assert await deal.next_reconciliation(owner) == expected
    # Staff read real time: still the first quarter.
    assert await deal.next_reconciliation(staff) == add_months(start, 3).isoformat()
    assert (await deal.state(owner))["sub"] == {"status": "ACTIVE", "seats": 250}

    # Year 3: 500 seats.
    moved = await deal.advance(by="P1Y")
    answer = await deal.seat_link(moved["now"])
    deal.key = answer["license"]
    assert await _seats_of(database_url, deal.key) == 500
    third, expected = _reconciliation(answer, start, moved["now"])
    assert third > (start + timedelta(days=730)).isoformat()
    assert await deal.next_reconciliation(owner) == expected
    assert await deal.emails("subscription_expiring") == []

    # A month before the end: the contact is told the subscription will not renew.
    moved = await deal.advance(to=f"{(end - timedelta(days=20)).isoformat()}T08:00:00Z")
    assert moved["errors"] == []
    assert await deal.emails("subscription_expiring") == ["ada@acme.test"]

    # Past the end: expired for the sandbox's owner.
    moved = await deal.advance(by="P21D")
    assert moved["errors"] == []
    assert (await deal.state(owner))["sub"]["status"] == "EXPIRED"
    # The last quarter boundary is the term's end: no reconciliation after the last one, and
    # none once expired.
    assert await deal.next_reconciliation(owner) is None

    # The worker sends what the advances recorded, to the SMTP server.
    await _send_all(mail_worker)
    subjects = {m["Subject"] for m in smtp.messages}
    assert any(s.endswith("trial ends in 7 days") for s in subjects), subjects
    assert any(s.endswith(f"expires on {end.isoformat()}") for s in subjects), subjects
    # A year between two seat links: the instance was reported as stopped syncing.
    assert any(s.endswith("an instance stopped syncing") for s in subjects), subjects
    assert len(smtp.messages) == len(
        await deal.db.fetch(
            "SELECT id FROM provision_event WHERE kind = 'EMAIL' AND status = 'SUCCEEDED'"
        )
    )

    # Staff read real time, unless they name the sandbox.
    state = await deal.state(staff)
    assert state["sub"] == {"status": "ACTIVE", "seats": 100}
    assert state["group"] == {"plan": "ULTIMATE_TRIAL", "trials": [{"status": "ACTIVE"}]}
    named = {**staff, "X-Provision-Sandbox": global_id("Customer", deal.acme.id)}
    assert (await deal.state(named))["sub"]["status"] == "EXPIRED"


async def test_a_real_tenant_never_sees_a_moved_clock(deal: Deal) -> None:
    assert (await deal.advance(by="P3Y"))["errors"] == []
    globex = deal.as_(PrincipalKind.PORTAL_USER, subject="usr_gil")
    state = await deal.state(globex, deal.globex_sub, deal.globex_group)
    assert state["sub"]["status"] == "ACTIVE"
    assert state["group"] == {"plan": "ULTIMATE_TRIAL", "trials": [{"status": "ACTIVE"}]}
    # Nothing ran for Globex: its trial is unreverted, nobody of it was emailed.
    assert (
        await deal.db.fetchval(
            "SELECT count(*) FROM trial WHERE reverted_on IS NOT NULL AND namespace = $1",
            parse_typed_id(deal.globex_group, "Namespace", path=()),
        )
        == 0
    )
    recipients = await deal.db.fetch(
        "SELECT payload->>'to' AS to FROM provision_event WHERE kind = 'EMAIL'"
    )
    assert not {r["to"] for r in recipients} & {"owner@globex.test", deal.globex.contact_email}
    # A real customer's clock does not move, even for staff.
    refused = await deal.post(
        ADVANCE,
        {"input": {"customerId": global_id("Customer", deal.globex.id), "by": "P1D"}},
        deal.as_(),
    )
    [error] = refused["data"]["advanceTestClock"]["errors"]
    assert error["code"] == "NOT_A_SANDBOX"
    assert "no sandbox" in error["message"]
    # The worker's sandbox job runs the sandbox on its clock, and Globex on none.
    sandbox: SandboxTime = deal.app.state.sandbox
    assert [s.customer_id for s in await sandbox.clocks.sandboxes()] == [deal.acme.id]


async def test_the_worker_runs_a_sandboxs_jobs_on_its_own_clock(
    deal: Deal, clean_db: Database
) -> None:
    sandbox: SandboxTime = deal.app.state.sandbox
    # The clock moved without its jobs (as time passes after an advance): the worker's job
    # catches up on the sandbox's clock, and for it alone.
    assert await sandbox.clocks.move(deal.acme.id, timedelta(days=12))
    async with httpx.AsyncClient() as http:
        context = WorkerContext(clean_db, http, Settings(), SESSION_CLOCK, WorkerConfig())
        await sandbox_clocks_job(context)(SESSION_CLOCK.now())
    reverted = await clean_db.fetch(
        "SELECT t.namespace FROM trial t WHERE t.reverted_on IS NOT NULL"
    )
    assert [r["namespace"] for r in reverted] == [parse_typed_id(deal.group, "Namespace", path=())]


async def test_who_may_advance_and_what_is_refused(deal: Deal) -> None:
    customer = global_id("Customer", deal.acme.id)
    viewer = deal.as_(PrincipalKind.PORTAL_USER, subject="usr_vic")
    body = await deal.post(ADVANCE, {"input": {"customerId": customer, "by": "P1D"}}, viewer)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    stranger = deal.as_(PrincipalKind.PORTAL_USER, subject="usr_gil")
    assert [e["code"] for e in (await deal.advance(stranger, by="P1D"))["errors"]] == ["NOT_FOUND"]
    moved = await deal.advance(by="P2D")
    assert moved["errors"] == []
    backwards = await deal.advance(to=f"{SESSION_CLOCK.today().isoformat()}T00:00:00Z")
    assert [(e["code"], e["path"]) for e in backwards["errors"]] == [
        ("CLOCK_NOT_FORWARD", ["input", "to"])
    ] or [e["code"] for e in backwards["errors"]] == ["CLOCK_NOT_FORWARD"]
    both = await deal.advance(to=moved["now"], by="P1D")
    assert [e["code"] for e in both["errors"]] == ["VALIDATION_FAILED"]
    neither = await deal.advance()
    assert [e["code"] for e in neither["errors"]] == ["VALIDATION_FAILED"]
    bad = await deal.post(ADVANCE, {"input": {"customerId": customer, "by": "soon"}}, deal.owner())
    assert "INTERNAL" not in str(bad)
    assert "ISO 8601 duration" in bad["errors"][0]["message"]
    # The clock did not move on any refusal.
    sandbox: SandboxTime = deal.app.state.sandbox
    now = await sandbox.now_of(deal.acme.id)
    assert now.date() == datetime.fromisoformat(moved["now"]).date()


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "PICCOLO_CONF"}
    environment.update(DATABASE_URL=database_url)
    return subprocess.run(
        [sys.executable, "-m", "api.cli.main", "clock", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.slow  # five processes, each migrating first
async def test_the_cli_marks_a_sandbox_and_advances_its_clock(
    database_url: str, clean_db: Database
) -> None:
    acme = f.customer("Acme")
    await f.store(clean_db, acme)
    customer = ["--customer", global_id("Customer", acme.id)]
    refused = _cli(database_url, "advance", *customer, "--by", "P30D")
    assert (refused.returncode, refused.stderr.split(":")[0]) == (1, "NOT_A_SANDBOX")
    marked = _cli(database_url, "sandbox", *customer)
    assert marked.returncode == 0, marked.stderr
    moved = _cli(database_url, "advance", *customer, "--by", "P30D")
    assert moved.returncode == 0, moved.stderr
    offset = await clean_db.fetchval("SELECT clock_offset FROM customer WHERE id = $1", acme.id)
    assert timedelta(days=29, hours=23) < offset <= timedelta(days=30)
    back = _cli(database_url, "advance", *customer, "--to", "2000-01-01T00:00:00")
    assert (back.returncode, back.stderr.split(":")[0]) == (1, "CLOCK_NOT_FORWARD")
    assert _cli(database_url, "real", *customer).returncode == 0
    offset = await clean_db.fetchval("SELECT clock_offset FROM customer WHERE id = $1", acme.id)
    assert offset == timedelta(0)


async def test_a_sandboxs_subscription_activates_on_its_clock(
    deal: Deal, client: httpx.AsyncClient, database_url: str
) -> None:
    start = SESSION_CLOCK.today() - timedelta(days=30)
    segments = [
        {
            "startDate": (start + timedelta(days=365 * i)).isoformat(),
            "endDate": (start + timedelta(days=365 * (i + 1))).isoformat(),
            "seats": seats,
        }
        for i, seats in enumerate((100, 250))
    ]
    fields = {
        "customerId": global_id("Customer", deal.acme.id),
        "deployment": "SELF_MANAGED",
        "plan": "PREMIUM",
        "term": {"segments": segments},
    }
    created = (
        await client.post("/graphql", json={"query": CREATE, "variables": {"input": fields}})
    ).json()["data"]["createSubscription"]
    assert created["errors"] == [], created
    assert (await deal.advance(by="P400D"))["errors"] == []
    activation = {"activationCode": created["activationCode"], "instanceIdentifier": INSTANCE}
    activated = (await deal.post(ACTIVATE, {"input": activation}, {}))["data"][
        "activateSubscription"
    ]
    assert activated["errors"] == [], activated
    assert await _seats_of(database_url, activated["licenseKey"]) == 250  # the second year's


async def test_in_development_mode_every_customer_is_a_sandbox(clean_db: Database) -> None:
    acme = f.customer("Acme")
    await f.store(clean_db, acme)
    staff = Principal(PrincipalKind.STAFF, subject="staff", scopes=ALL_SCOPES)
    strict = SandboxTime(clean_db, Settings(), SESSION_CLOCK)
    with pytest.raises(NotASandbox):
        await strict.advance(staff, acme.id, by=parse_duration("P1D"))
    development = SandboxTime(clean_db, Settings(development_mode=True), SESSION_CLOCK)
    moved = await development.advance(staff, acme.id, by=parse_duration("P1M"))
    assert moved.now.date() > SESSION_CLOCK.today() + timedelta(days=27)
    assert await development.clocks.offset_of([acme.id]) > timedelta(days=27)
    assert await strict.clocks.offset_of([acme.id]) == timedelta(0)  # unmarked, not moved

"""GitLab Dedicated end to end (docs/dedicated.md): the real app over ASGI, the worker's real
registry run in-process on the same Clock, a fake provisioner and an SMTP server on 127.0.0.1.
An order reaches ACTIVE with the invitation sent and the license delivered; a provisioner
failure retries, then shows with its reason and is retried from GraphQL; a seat increase and a
renewal reach the tenant; a cancellation reminds, then removes it; callbacks are signed and
applied once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import orjson
import pytest
from dedicated_peer import TOKEN, ProvisionerPeer, serving_provisioner
from starlette.applications import Starlette

from api.app import create_app
from api.ids import parse_global_id
from api.rest.dedicated import signature
from api.settings import Settings
from api.worker.loop import Worker
from api.worker.process import WorkerContext, build_registry, worker_config
from domain.model.customer import Membership
from domain.model.enums import Role
from domain.principal import PrincipalKind
from persistence.database import Database
from persistence.ledger import PostgresLedger, PostgresScheduledJobRuns
from persistence.unit_of_work import PostgresUnitOfWork

import factories as f
from bearer import bearer, token_for
from clocks import TickingClock
from mail_peer import MailPeer, serving_smtp

SECRET = "callback-secret"
CLOCK = TickingClock(f.NOW)

CREATE = """mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) {
  subscription { id dedicatedTenant { id state } } errors { code path message } } }"""
TENANT = """query($id: ID!) { node(id: $id) { ... on DedicatedTenant {
  id state expectedUsers storageGib primaryRegion secondaryRegion onboardingContacts
  maintenanceWindow bringYourOwnKey geoMigration hostedRunners lastError tenantUrl
  history { fromState toState reason at } license { seats expiresAt }
  subscription { name } } } }"""
FACTS = {
    "expectedUsers": 3000,
    "storageGib": 500,
    "primaryRegion": "eu-west-1",
    "secondaryRegion": "eu-central-1",
    "onboardingContacts": ["ops@acme.test", "cto@acme.test"],
    "maintenanceWindow": "EMEA",
    "bringYourOwnKey": True,
    "hostedRunners": ["linux-small-amd64"],
}


@pytest.fixture(scope="module")
def smtp() -> Iterator[MailPeer]:
    with serving_smtp() as peer:
        yield peer


@pytest.fixture(scope="module")
def provisioner() -> Iterator[ProvisionerPeer]:
    with serving_provisioner() as peer:
        yield peer


def _settings(database_url: str, provisioner_url: str = "", smtp_url: str = "") -> Settings:
    return Settings(
        database_url=database_url,
        pool_max=3,
        gc_interval=0,
        dedicated_callback_secret=SECRET,
        dedicated_provisioner_url=provisioner_url or None,
        dedicated_provisioner_token=TOKEN,
        smtp_url=smtp_url or None,
        ledger_max_attempts=3,
        mail_reminders_every_seconds=3600 * 24 * 365,
    )


@pytest.fixture(scope="module")
async def dapp(database_url: str) -> AsyncIterator[Starlette]:
    application = create_app(_settings(database_url), clock=CLOCK)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def world(
    dapp: Starlette,
    clean_db: Database,
    database_url: str,
    smtp: MailPeer,
    provisioner: ProvisionerPeer,
) -> AsyncIterator[World]:
    CLOCK.advance(f.NOW - CLOCK.now())  # every test starts at the factories' "now"
    smtp.reset()
    provisioner.reset()
    settings = _settings(database_url, provisioner.url, smtp.url)
    async with (
        httpx.AsyncClient(timeout=5) as http,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=dapp),
            base_url="http://provision.test",
            headers=bearer(token_for(dapp)),
        ) as staff,
    ):
        # Retries are due at once: the test runs them without waiting.
        config = replace(
            worker_config(settings), backoff_base=timedelta(0), backoff_max=timedelta(0)
        )
        context = WorkerContext(clean_db, http, settings, CLOCK, config)
        worker = Worker(
            PostgresLedger(clean_db, CLOCK),
            PostgresScheduledJobRuns(clean_db, CLOCK),
            build_registry(context),
            context.config,
            CLOCK,
        )
        yield World(dapp, clean_db, staff, worker, smtp, provisioner)


class World:
    def __init__(
        self,
        app: Starlette,
        db: Database,
        staff: httpx.AsyncClient,
        worker: Worker,
        smtp: MailPeer,
        provisioner: ProvisionerPeer,
    ) -> None:
        self.app, self.db, self.staff, self.worker = app, db, staff, worker
        self.smtp, self.provisioner = smtp, provisioner

    async def gql(self, query: str, http: httpx.AsyncClient | None = None, **variables: Any) -> Any:
        # A fresh staff token each call: the tests move the clock past a token's lifetime.
        headers = bearer(token_for(self.app)) if http is None else {}
        answer = await (http or self.staff).post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert "errors" not in body, body
        return body["data"]

    async def run(self) -> None:
        """Run every due step (and what they record) until nothing is left to claim."""
        quiet = 0
        for _ in range(30):
            _, claimed = await self.worker.tick()
            await self.worker.drain()
            # A scheduled job started by a tick records its rows while that tick claims: one
            # more quiet tick after it shows they are done.
            quiet = quiet + 1 if claimed == 0 else 0
            if quiet == 2:
                return
        raise AssertionError("the ledger did not quiet down")

    async def order(self, **facts: Any) -> tuple[str, str]:
        fields = {
            "deployment": "DEDICATED",
            "plan": "ULTIMATE",
            "term": {
                "segments": [{"startDate": "2026-11-01", "endDate": "2027-11-01", "seats": 40}]
            },
            "newCustomer": {
                "company": "Acme",
                "contactName": "Ada",
                "contactEmail": "ada@acme.test",
            },
            "dedicated": {**FACTS, **facts},
        }
        created = (await self.gql(CREATE, input=fields))["createSubscription"]
        assert created["errors"] == []
        tenant = created["subscription"]["dedicatedTenant"]
        assert tenant["state"] == "ORDERED"
        return created["subscription"]["id"], tenant["id"]

    async def tenant(self, tenant_id: str, http: httpx.AsyncClient | None = None) -> Any:
        return (await self.gql(TENANT, http, id=tenant_id))["node"]

    async def callback(self, body: dict[str, Any], *, at: float | None = None) -> httpx.Response:
        raw = orjson.dumps(body)
        stamp = str(int(at if at is not None else CLOCK.now().timestamp()))
        return await self.post_callback(
            raw,
            {
                "Content-Type": "application/json",
                "X-Provisioner-Timestamp": stamp,
                "X-Provisioner-Signature": signature(SECRET, stamp, raw),
            },
        )

    async def post_callback(self, raw: bytes, headers: dict[str, str]) -> httpx.Response:
        """As the provisioner: no bearer token, the signature is the credential."""
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://provision.test"
        ) as provisioner:
            return await provisioner.post("/dedicated/callbacks", content=raw, headers=headers)

    async def reached(self, tenant_id: str, state: str, callback_id: str) -> None:
        answer = await self.callback(
            {
                "id": callback_id,
                "tenant_id": str(_local(tenant_id)),
                "event": "state_reached",
                "state": state,
                "reason": f"{state.lower()} reached",
                "tenant_url": "https://acme.gitlab-dedicated.com",
            }
        )
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"applied": True}

    async def active(self) -> tuple[str, str]:
        subscription_id, tenant_id = await self.order()
        await self.run()
        await self.reached(tenant_id, "ACTIVE", f"cb-active-{tenant_id}")
        await self.run()
        return subscription_id, tenant_id


def _local(global_id: str) -> uuid.UUID:
    return parse_global_id(global_id)[1]


def _states(tenant: Any) -> list[str]:
    return [h["toState"] for h in tenant["history"]]


async def test_an_order_reaches_active_with_the_invitation_sent_and_the_license_delivered(
    world: World,
) -> None:
    subscription_id, tenant_id = await world.order()
    await world.run()

    # The invitation: one email per onboarding contact, through SMTP.
    assert sorted(r[0] for r in world.smtp.recipients) == ["cto@acme.test", "ops@acme.test"]
    assert "GitLab Dedicated onboarding" in world.smtp.messages[0]["Subject"]
    # The provisioning request, authenticated and keyed, with the facts.
    [request] = world.provisioner.of("POST", "/api/v1/tenants")
    assert request.authorization == f"Bearer {TOKEN}"
    assert request.idempotency_key
    assert request.body["tenant_id"] == str(_local(tenant_id))
    assert request.body["expected_users"] == 3000
    assert request.body["primary_region"] == "eu-west-1"
    assert request.body["bring_your_own_key"] is True
    assert (await world.tenant(tenant_id))["state"] == "PROVISIONING"

    await world.reached(tenant_id, "ACTIVE", "cb-1")
    await world.run()

    [delivery] = world.provisioner.of("PUT", "/license")
    assert delivery.path == f"/api/v1/tenants/{_local(tenant_id)}/license"
    assert delivery.body["expires_on"] == "2027-11-01"  # the full term
    key = await world.db.fetchval(
        "SELECT license_key FROM license WHERE subscription = $1", _local(subscription_id)
    )
    assert delivery.body["license_key"] == key
    tenant = await world.tenant(tenant_id)
    assert tenant["state"] == "ACTIVE"
    assert _states(tenant) == ["ORDERED", "ONBOARDING_INVITED", "PROVISIONING", "ACTIVE"]
    assert tenant["license"] == {"seats": 40, "expiresAt": "2027-11-01"}
    assert tenant["tenantUrl"] == "https://acme.gitlab-dedicated.com"
    assert tenant["lastError"] is None
    assert tenant["onboardingContacts"] == ["ops@acme.test", "cto@acme.test"]
    assert tenant["maintenanceWindow"] == "EMEA"


async def test_the_customer_sees_its_own_tenant_and_nobody_else_does(world: World) -> None:
    subscription_id, tenant_id = await world.order()
    customer = await world.db.fetchval(
        "SELECT customer FROM subscription WHERE id = $1", _local(subscription_id)
    )
    async with PostgresUnitOfWork(world.db) as uow:
        await uow.customers.add_membership(Membership(customer, "usr_ada", Role.VIEWER))
        await uow.commit()
    transport = httpx.ASGITransport(app=world.app)
    for subject, sees in (("usr_ada", True), ("usr_stranger", False)):
        token = token_for(world.app, PrincipalKind.PORTAL_USER, subject=subject)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://provision.test", headers=bearer(token)
        ) as portal:
            tenant = await world.tenant(tenant_id, portal)
            assert (tenant is not None and tenant["state"] == "ORDERED") is sees


async def test_a_provisioner_failure_retries_then_shows_with_its_reason(world: World) -> None:
    world.provisioner.fail_next = 100
    _, tenant_id = await world.order()
    await world.run()

    assert len(world.provisioner.of("POST", "/api/v1/tenants")) == 3  # every attempt, then DEAD
    keys = {c.idempotency_key for c in world.provisioner.of("POST", "/api/v1/tenants")}
    assert len(keys) == 1  # the same key on every attempt
    tenant = await world.tenant(tenant_id)
    assert tenant["state"] == "ONBOARDING_INVITED"
    assert "503" in tenant["lastError"]
    assert "no capacity in eu-west-1" in tenant["lastError"]
    dead = await world.db.fetchrow(
        "SELECT id, last_error FROM provision_event WHERE kind = 'DEDICATED_TENANT'"
        " AND status = 'DEAD'"
    )
    assert "no capacity" in dead["last_error"]

    # Staff send the dead step again (the ledger's own retry); it goes through.
    world.provisioner.fail_next = 0
    retried = await world.gql(
        """mutation($input: RetryProvisionEventInput!) { retryProvisionEvent(input: $input) {
          errors { code } } }""",
        input={"eventId": _global("ProvisionEvent", dead["id"])},
    )
    assert retried["retryProvisionEvent"]["errors"] == []
    await world.run()
    tenant = await world.tenant(tenant_id)
    assert tenant["state"] == "PROVISIONING"
    assert tenant["lastError"] is None

    # The provisioner reports a failure: FAILED with its reason, retried from GraphQL.
    failed = await world.callback(
        {
            "id": "cb-fail",
            "tenant_id": str(_local(tenant_id)),
            "event": "failed",
            "reason": "KMS key not usable",
        }
    )
    assert failed.json() == {"applied": True}
    tenant = await world.tenant(tenant_id)
    assert (tenant["state"], tenant["lastError"]) == ("FAILED", "KMS key not usable")
    retry = """mutation($input: RetryDedicatedTenantInput!) { retryDedicatedTenant(input: $input) {
      dedicatedTenant { state } errors { code } } }"""
    again = (await world.gql(retry, input={"tenantId": tenant_id}))["retryDedicatedTenant"]
    assert again == {"dedicatedTenant": {"state": "PROVISIONING"}, "errors": []}
    refused = (await world.gql(retry, input={"tenantId": tenant_id}))["retryDedicatedTenant"]
    assert [e["code"] for e in refused["errors"]] == ["TENANT_TRANSITION_REFUSED"]
    before = len(world.provisioner.of("POST", "/api/v1/tenants"))
    await world.run()
    assert len(world.provisioner.of("POST", "/api/v1/tenants")) == before + 1


def _global(type_name: str, local: uuid.UUID) -> str:
    from api.ids import global_id

    return global_id(type_name, local)


async def test_a_seat_increase_and_a_renewal_reach_the_tenant(world: World) -> None:
    subscription_id, tenant_id = await world.active()
    change = """mutation($input: ChangeSubscriptionInput!) { changeSubscription(input: $input) {
      errors { code } } }"""
    changed = await world.gql(change, input={"subscriptionId": subscription_id, "seats": 4000})
    assert changed["changeSubscription"]["errors"] == []
    assert (await world.tenant(tenant_id))["state"] == "CHANGING"
    await world.run()
    [request] = world.provisioner.of("POST", "/changes")
    assert request.body["expected_users"] == 4000
    assert request.body["storage_gib"] == 500

    await world.reached(tenant_id, "ACTIVE", "cb-changed")
    await world.run()
    deliveries = world.provisioner.of("PUT", "/license")
    assert len(deliveries) == 2
    tenant = await world.tenant(tenant_id)
    assert tenant["state"] == "ACTIVE"
    assert tenant["expectedUsers"] == 4000
    assert tenant["license"] == {"seats": 4000, "expiresAt": "2027-11-01"}
    assert _states(tenant)[-2:] == ["CHANGING", "ACTIVE"]

    # A renewal: the next term's license goes to the tenant before the current one expires.
    renew = """mutation($input: RenewSubscriptionInput!) { renewSubscription(input: $input) {
      errors { code } } }"""
    term = {"segments": [{"startDate": "2027-11-01", "endDate": "2028-11-01", "seats": 4000}]}
    renewed = await world.gql(renew, input={"subscriptionId": subscription_id, "term": term})
    assert renewed["renewSubscription"]["errors"] == []
    await world.run()
    assert len(world.provisioner.of("PUT", "/license")) == 2  # nothing due yet
    CLOCK.advance(timedelta(days=320))  # 2027-10-15: 17 days before the license expires
    await world.run()
    await world.run()  # a second sweep changes nothing (once per term)
    deliveries = world.provisioner.of("PUT", "/license")
    assert len(deliveries) == 3
    assert deliveries[-1].body["expires_on"] == "2028-11-01"
    assert (await world.tenant(tenant_id))["license"]["expiresAt"] == "2028-11-01"


RESIZE = """mutation($input: ChangeDedicatedTenantInput!) { changeDedicatedTenant(input: $input) {
  dedicatedTenant { id state storageGib expectedUsers } errors { code path message } } }"""


async def test_a_storage_increase_reaches_the_provisioner_and_the_tenant_history(
    world: World,
) -> None:
    subscription_id, tenant_id = await world.active()
    size = {"subscriptionId": subscription_id, "storageGib": 2000, "expectedUsers": 3500}
    changed = (await world.gql(RESIZE, input=size))["changeDedicatedTenant"]
    assert changed["errors"] == []
    assert changed["dedicatedTenant"] == {
        "id": tenant_id,
        "state": "CHANGING",
        "storageGib": 2000,
        "expectedUsers": 3500,
    }
    # Busy with the change: another one waits for it.
    busy = (await world.gql(RESIZE, input={**size, "storageGib": 3000}))["changeDedicatedTenant"]
    assert [e["code"] for e in busy["errors"]] == ["TENANT_TRANSITION_REFUSED"]
    await world.run()
    [request] = world.provisioner.of("POST", "/changes")
    assert (request.body["storage_gib"], request.body["expected_users"]) == (2000, 3500)

    await world.reached(tenant_id, "ACTIVE", "cb-resized")
    await world.run()
    tenant = await world.tenant(tenant_id)
    assert (tenant["state"], tenant["storageGib"], tenant["expectedUsers"]) == (
        "ACTIVE",
        2000,
        3500,
    )
    assert [(h["toState"], h["reason"]) for h in tenant["history"][-2:]] == [
        ("CHANGING", "changeDedicatedTenant"),
        ("ACTIVE", "active reached"),
    ]
    audit = await world.db.fetchval(
        "SELECT count(*) FROM audit_entry WHERE action = 'changeDedicatedTenant'"
        " AND object_type = 'DedicatedTenant'"
    )
    assert audit == 1

    for storage, users, words in (
        (1000, 3500, "never shrinks"),
        (2000, 3500, "nothing to change"),
        (2000, 39, "below the 40 seats"),
    ):
        refused = (
            await world.gql(RESIZE, input={**size, "storageGib": storage, "expectedUsers": users})
        )["changeDedicatedTenant"]
        [error] = refused["errors"]
        assert error["code"] == "VALIDATION_FAILED"
        assert words in error["message"]
    assert len(world.provisioner.of("POST", "/changes")) == 1  # the refusals sent nothing


async def test_a_cancellation_reminds_then_removes_the_tenant_at_the_term_end(
    world: World,
) -> None:
    subscription_id, tenant_id = await world.active()
    world.smtp.reset()
    cancel = """mutation($input: CancelSubscriptionInput!) { cancelSubscription(input: $input) {
      errors { code } } }"""
    cancelled = await world.gql(
        cancel, input={"subscriptionId": subscription_id, "atPeriodEnd": True}
    )
    assert cancelled["cancelSubscription"]["errors"] == []
    CLOCK.advance(timedelta(days=330))  # 2027-10-25: 7 days before 2027-11-01
    await world.run()
    reminders = [m for m in world.smtp.messages if "is removed on" in m["Subject"]]
    assert sorted(m["To"] for m in reminders) == ["ada@acme.test", "cto@acme.test", "ops@acme.test"]
    assert (await world.tenant(tenant_id))["state"] == "ACTIVE"

    CLOCK.advance(timedelta(days=7))  # the term's end
    await world.run()
    assert (await world.tenant(tenant_id))["state"] == "DEPROVISIONING"
    [removal] = world.provisioner.of("DELETE")
    assert removal.path == f"/api/v1/tenants/{_local(tenant_id)}"
    await world.reached(tenant_id, "GONE", "cb-gone")
    tenant = await world.tenant(tenant_id)
    assert _states(tenant)[-2:] == ["DEPROVISIONING", "GONE"]


async def test_callbacks_are_signed_fresh_and_applied_once(world: World) -> None:
    _, tenant_id = await world.order()
    await world.run()
    body = {
        "id": "cb-once",
        "tenant_id": str(_local(tenant_id)),
        "event": "state_reached",
        "state": "ACTIVE",
    }
    raw = orjson.dumps(body)
    stamp = str(int(CLOCK.now().timestamp()))
    forged = await world.post_callback(
        raw, {"X-Provisioner-Timestamp": stamp, "X-Provisioner-Signature": "sha256=00"}
    )
    assert forged.status_code == 401
    stale = await world.callback(body, at=CLOCK.now().timestamp() - 3600)
    assert stale.status_code == 401
    assert (await world.tenant(tenant_id))["state"] == "PROVISIONING"

    assert (await world.callback(body)).json() == {"applied": True}
    replay = await world.callback(body)
    assert (replay.status_code, replay.json()) == (200, {"applied": False})
    tenant = await world.tenant(tenant_id)
    assert _states(tenant).count("ACTIVE") == 1

    unknown = await world.callback({**body, "id": "cb-x", "tenant_id": str(uuid.uuid4())})
    assert unknown.status_code == 404
    refused = await world.callback({**body, "id": "cb-y", "state": "GONE"})
    assert refused.status_code == 409
    bad = await world.callback({**body, "id": "cb-z", "tenant_id": "nope"})
    assert bad.status_code == 422

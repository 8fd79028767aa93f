"""The event catalogue's emitters on in-memory ports: each use case or ledger transition that
causes an event records its delivery rows in its own transaction (and only when it commits),
with the payload the catalogue documents."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from domain.errors import ValidationFailed
from domain.model.activation_code import hash_activation_code
from domain.model.customer import Customer
from domain.model.enums import Deployment, NamespaceKind, TrialType
from domain.model.namespace import Namespace
from domain.model.provision_event import ProvisionEvent, ProvisionStatus
from domain.model.subscription import Subscription
from domain.model.webhook import (
    WEBHOOK_DELIVERY_KIND,
    WebhookEventType,
    fifo_key,
)
from domain.policy import grantable
from domain.principal import Principal, PrincipalKind
from domain.use_cases.activate_subscription import ActivateSubscription, ActivateSubscriptionHandler
from domain.use_cases.cancel_subscription import CancelSubscription, CancelSubscriptionHandler
from domain.use_cases.change_subscription import ChangeSubscription, ChangeSubscriptionHandler
from domain.use_cases.create_subscription import SegmentSpec
from domain.use_cases.renew_subscription import RenewSubscription, RenewSubscriptionHandler
from domain.use_cases.report_usage import ReportUsage, ReportUsageHandler
from domain.use_cases.start_self_managed_trial import (
    StartSelfManagedTrial,
    StartSelfManagedTrialHandler,
)
from domain.use_cases.trials import ApplyTrial, Trials
from domain.use_cases.webhooks import (
    CreateWebhookEndpoint,
    WebhookEndpoints,
    ledger_transition_webhooks,
)

from builders import one_year_term, subscription
from fakes import CountingSigner, FixedClock
from memory import MemoryUnitOfWork, Store

STAFF = Principal(PrincipalKind.STAFF, subject="ops", scopes=grantable(PrincipalKind.STAFF))
GITLAB = Principal(
    PrincipalKind.GITLAB_COM, subject="gitlab", scopes=grantable(PrincipalKind.GITLAB_COM)
)
CODE = "ABCDEFGHJKLMNPQRSTUVWXYZ"
INSTANCE = "5d2b7c1e-8f4a-4c1b-9a53-2f8e6d0c4b71"
START, END = date(2026, 1, 1), date(2027, 1, 1)


class World:
    def __init__(self) -> None:
        self.store = Store()
        self.customer = Customer("Acme", "Ada", "ada@acme.test", datetime(2025, 1, 1, tzinfo=UTC))
        self.namespace = Namespace(
            gitlab_id=42,
            path="acme",
            name="Acme",
            kind=NamespaceKind.GROUP,
            created_at=datetime(2025, 1, 1, tzinfo=UTC),
        )
        self.sub: Subscription = subscription(
            customer_id=self.customer.id,
            deployment=Deployment.SELF_MANAGED,
            terms=(one_year_term(START, END, 10),),
        )
        self.store.customers[self.customer.id] = self.customer
        self.store.subscriptions[self.sub.id] = self.sub
        self.store.namespaces[self.namespace.id] = self.namespace
        self.store.activation_codes[self.sub.id] = hash_activation_code(CODE)
        self.clock = FixedClock.on(date(2026, 6, 1))
        self.signer = CountingSigner()

    def uow(self) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self.store)

    async def hear_everything(self) -> uuid.UUID:
        endpoints = WebhookEndpoints(self.uow, self.clock)
        created = await endpoints.create(
            STAFF,
            CreateWebhookEndpoint(
                url="https://ops.test/h", event_types=tuple(t.value for t in WebhookEventType)
            ),
        )
        return created.endpoint.id

    def deliveries(self, event_type: WebhookEventType | None = None) -> list[ProvisionEvent]:
        return [
            e
            for e in self.store.events
            if e.kind == WEBHOOK_DELIVERY_KIND
            and (event_type is None or e.payload["event_type"] == event_type.value)
        ]

    def data(self, event_type: WebhookEventType) -> dict[str, Any]:
        [row] = self.deliveries(event_type)
        message: dict[str, Any] = row.payload["message"]
        assert message["type"] == event_type.value
        assert message["version"] == 1
        data: dict[str, Any] = message["data"]
        return data


async def test_a_self_managed_subscriptions_life_emits_each_event_once() -> None:
    world = World()
    endpoint = await world.hear_everything()

    activated = await ActivateSubscriptionHandler(world.uow, world.clock, world.signer)(
        ActivateSubscription(CODE, INSTANCE, hostname="gitlab.acme.test")
    )
    instance = world.data(WebhookEventType.INSTANCE_ACTIVATED)["instance"]
    assert instance["id"] == str(activated.instance.id)
    assert instance["hostname"] == "gitlab.acme.test"
    license_ = world.data(WebhookEventType.LICENSE_ISSUED)["license"]
    assert license_["id"] == str(activated.license.id)
    assert license_["seats"] == 10
    assert activated.license.license_key not in repr(world.store.events[-1].payload)

    report = ReportUsageHandler(world.uow, world.clock, world.signer)
    for users in (12, 15):  # over the 10 seats twice in one term: one event
        await report(
            ReportUsage(
                license_key=activated.license.license_key,
                reported_at=world.clock.now(),
                billable_users=users,
                max_historical_users=users,
                instance_identifier=INSTANCE,
            )
        )
    usage = world.data(WebhookEventType.USAGE_OVER_SEATS)
    assert usage["usage"]["seats"] == 10
    assert usage["usage"]["max_seats_used"] == 12
    assert usage["usage"]["overage"] == 2

    await ChangeSubscriptionHandler(world.uow, world.clock)(
        STAFF, ChangeSubscription(world.sub.id, seats=20)
    )
    assert world.data(WebhookEventType.SUBSCRIPTION_CHANGED)["subscription"]["seats"] == 20
    await RenewSubscriptionHandler(world.uow, world.clock)(
        STAFF,
        RenewSubscription(world.sub.id, (SegmentSpec(END, date(2028, 1, 1), 20),)),
    )
    assert world.data(WebhookEventType.SUBSCRIPTION_RENEWED)["subscription"]["id"] == str(
        world.sub.id
    )
    await CancelSubscriptionHandler(world.uow, world.clock)(STAFF, CancelSubscription(world.sub.id))
    assert world.data(WebhookEventType.SUBSCRIPTION_CANCELLED)["immediately"] is False

    rows = world.deliveries()
    assert {r.payload["endpoint_id"] for r in rows} == {str(endpoint)}
    # Every event about the subscription is in its endpoint's FIFO lane, in creation order.
    assert {r.payload["fifo"] for r in rows} == {fifo_key(endpoint, world.sub.id)}
    assert [r.id for r in rows] == sorted(r.id for r in rows)


async def test_a_change_that_fails_emits_nothing() -> None:
    world = World()
    await world.hear_everything()
    with pytest.raises(ValidationFailed):
        await ChangeSubscriptionHandler(world.uow, world.clock)(
            STAFF, ChangeSubscription(world.sub.id)
        )
    assert world.deliveries() == []


async def test_trials_start_and_end() -> None:
    world = World()
    await world.hear_everything()
    trials = Trials(world.uow, world.clock)
    started = await trials.apply(GITLAB, ApplyTrial(world.namespace.id, TrialType.ULTIMATE))
    data = world.data(WebhookEventType.TRIAL_STARTED)
    assert data["trial"]["id"] == str(started.trial.id)
    assert data["trial"]["type"] == "ULTIMATE"
    assert data["namespace"]["gitlab_id"] == 42
    assert "subscription" not in data  # the group has no subscription: global endpoints hear it

    world.clock.set(datetime.combine(started.trial.ends_on, datetime.min.time(), UTC))
    await trials.expire(world.clock.today() + timedelta(days=1))
    ended = world.data(WebhookEventType.TRIAL_ENDED)
    assert ended["trial"]["id"] == str(started.trial.id)
    assert ended["reverts_to"] == "FREE"

    self_managed = await StartSelfManagedTrialHandler(world.uow, world.clock)(
        StartSelfManagedTrial(email="eve@evil.test", name="Eve", company="Evil", days=30)
    )
    [_, row] = world.deliveries(WebhookEventType.TRIAL_STARTED)
    assert row.payload["message"]["data"]["subscription"]["id"] == str(self_managed.subscription.id)
    assert row.subscription_id == self_managed.subscription.id


async def test_ledger_transitions_of_provisioning_rows_are_events() -> None:
    world = World()
    await world.hear_everything()
    now = world.clock.now()

    def row(status: ProvisionStatus, kind: str = "NAMESPACE_PROVISION") -> ProvisionEvent:
        event = ProvisionEvent.new(
            kind, {}, now=now, max_attempts=3, namespace_id=world.namespace.id
        )
        event.status = status
        event.attempts = 3
        event.last_error = "DeliveryRefused: the endpoint at gitlab.test answered 500"
        return event

    async with world.uow() as uow:
        dead = await ledger_transition_webhooks(uow, row(ProvisionStatus.DEAD), now)
        done = await ledger_transition_webhooks(uow, row(ProvisionStatus.SUCCEEDED), now)
        resolved = row(ProvisionStatus.RESOLVED)
        resolved.resolved_reason = "done by hand"
        closed = await ledger_transition_webhooks(uow, resolved, now)
        failed = await ledger_transition_webhooks(uow, row(ProvisionStatus.FAILED), now)
        mail = await ledger_transition_webhooks(uow, row(ProvisionStatus.DEAD, "EMAIL"), now)
    assert [r.payload["event_type"] for r in dead + done + closed] == [
        "provisioning.failed",
        "namespace.provisioned",
        "provisioning.resolved",
    ]
    step = dead[0].payload["message"]["data"]["step"]
    assert step["kind"] == "NAMESPACE_PROVISION"
    assert step["status"] == "DEAD"
    assert "answered 500" in step["last_error"]
    assert dead[0].payload["message"]["data"]["namespace"]["path"] == "acme"
    assert closed[0].payload["message"]["data"]["step"]["resolved_reason"] == "done by hand"
    assert failed == []  # a retry is still to come
    assert mail == []  # not a provisioning step

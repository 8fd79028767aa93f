"""reportUsage (seat link) on in-memory ports: when a newer key is returned, and what makes two
reports the same report."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from domain.errors import LicenseKeyUnknown, ValidationFailed
from domain.model.activation_code import hash_activation_code
from domain.model.customer import Customer
from domain.model.enums import Deployment
from domain.model.license import license_key_digest
from domain.model.usage import UsageReport, report_identity
from domain.policy import grantable
from domain.principal import Principal, PrincipalKind
from domain.use_cases.activate_subscription import ActivateSubscription, ActivateSubscriptionHandler
from domain.use_cases.cancel_license import CancelLicense, CancelLicenseHandler
from domain.use_cases.licensing import newer_key
from domain.use_cases.report_usage import ReportUsage, ReportUsageHandler, UsageReported

from builders import RAMP_START, YEAR_2, subscription
from fakes import CountingSigner, FixedClock
from memory import MemoryUnitOfWork, Store

CODE = "ABCDEFGHJKLMNPQRSTUVWXYZ"
INSTANCE = "5d2b7c1e-8f4a-4c1b-9a53-2f8e6d0c4b71"
STAFF = Principal(PrincipalKind.STAFF, subject="ops", scopes=grantable(PrincipalKind.STAFF))


class World:
    def __init__(self, *, reconciliation: bool = False) -> None:
        self.store = Store()
        customer = Customer("Acme", "Ada", "ada@acme.test", datetime(2024, 1, 1, tzinfo=UTC))
        self.sub = subscription(
            customer_id=customer.id,
            deployment=Deployment.SELF_MANAGED,
            reconciliation_enabled=reconciliation,
        )
        self.store.customers[customer.id] = customer
        self.store.subscriptions[self.sub.id] = self.sub
        self.store.activation_codes[self.sub.id] = hash_activation_code(CODE)
        self.clock = FixedClock.on(RAMP_START + timedelta(days=10))
        self.signer = CountingSigner()

    def uow(self) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self.store)

    async def activate(self) -> str:
        handler = ActivateSubscriptionHandler(self.uow, self.clock, self.signer)
        return (await handler(ActivateSubscription(CODE, INSTANCE))).license.license_key

    async def report(self, key: str, **overrides: object) -> UsageReported:
        fields: dict[str, object] = {
            "license_key": key,
            "reported_at": self.clock.now(),
            "billable_users": 90,
            "max_historical_users": 95,
            "instance_identifier": INSTANCE,
            "hostname": "gitlab.acme.test",
            "gitlab_version": "18.6.0-ee",
            "add_on_seats": {"duo_pro": 3},
        }
        fields.update(overrides)
        handler = ReportUsageHandler(self.uow, self.clock, self.signer)
        return await handler(ReportUsage(**fields))  # type: ignore[arg-type]


async def test_no_key_while_nothing_changed_then_the_ramp_step_and_none_again() -> None:
    world = World()
    key = await world.activate()
    answer = await world.report(key)
    assert answer.new_license_key is None
    assert len(world.store.licenses) == 1

    world.clock.set(YEAR_2)
    stepped = await world.report(key)
    new_key = stepped.new_license_key
    assert new_key is not None
    restrictions = world.signer.signed[-1]["restrictions"]
    assert isinstance(restrictions, dict)
    assert restrictions["active_user_count"] == 250
    assert world.signer.signed[-1]["expires_at"] == world.signer.signed[0]["expires_at"]

    # The instance loads it; from then on no key, and nothing is signed again.
    tomorrow = world.clock.now() + timedelta(days=1)
    assert (await world.report(new_key, reported_at=tomorrow)).new_license_key is None
    # An instance still on the old key gets the new one, not a third.
    assert (await world.report(key)).new_license_key == new_key
    assert len(world.signer.signed) == 2


async def test_a_cancellation_key_is_delivered_once_and_stays_final() -> None:
    world = World()
    key = await world.activate()
    [issued] = world.store.licenses
    cancel = CancelLicenseHandler(world.uow, world.clock, world.signer)
    cancelled = (await cancel(STAFF, CancelLicense(issued.id))).cancellation
    assert cancelled.cancelled
    assert cancelled.expires_at <= world.clock.today()
    assert world.signer.signed[-1]["generated_from_cancellation"] is True

    answer = await world.report(key)
    assert answer.new_license_key == cancelled.license_key
    assert answer.future_terms == ()
    world.clock.set(YEAR_2)  # a ramp step no longer issues anything
    assert (await world.report(cancelled.license_key)).new_license_key is None
    assert len(world.signer.signed) == 2


async def test_the_newer_key_rule() -> None:
    world = World()
    await world.activate()
    [sent] = world.store.licenses
    assert newer_key(sent, sent) is None
    later = replace(sent, id=uuid.uuid4(), license_key="other")
    assert newer_key(sent, later) == "other"


async def test_the_same_report_is_stored_once() -> None:
    world = World()
    key = await world.activate()
    first = await world.report(key)
    again = await world.report(key.replace("\n", "\r\n"))  # as GitLab may send it back
    assert first.recorded
    assert not again.recorded
    later = await world.report(key, reported_at=world.clock.now() + timedelta(days=1))
    assert later.recorded
    assert len(world.store.usage_reports) == 2
    [instance] = world.store.instances
    assert instance.last_synced_at == world.clock.now()
    assert instance.gitlab_version == "18.6.0-ee"


def test_report_identity_is_subscription_instance_and_instant() -> None:
    sub = uuid.uuid4()
    at = datetime(2025, 1, 1, 3, 34, tzinfo=UTC)

    def report(**fields: object) -> UsageReport:
        values: dict[str, object] = {
            "subscription_id": sub,
            "billable_users": 1,
            "max_historical_users": 1,
            "reported_at": at,
            "instance_identifier": INSTANCE,
        }
        values.update(fields)
        return UsageReport(**values)  # type: ignore[arg-type]

    same_instant = at.astimezone(UTC).replace(tzinfo=UTC)
    assert report_identity(report()) == report_identity(report(billable_users=7))
    assert report_identity(report()) == report_identity(report(reported_at=same_instant))
    assert report_identity(report()) != report_identity(report(reported_at=at + timedelta(1)))
    assert report_identity(report()) != report_identity(report(instance_identifier=None))


def test_key_digest_ignores_line_ends_and_boundaries() -> None:
    key = "QUJD\nREVG\n"
    framed = "----BEGIN TEST LICENSE----\r\nQUJD\r\nREVG\r\n----END TEST LICENSE----\r\n"
    assert license_key_digest(key) == license_key_digest(framed)
    assert license_key_digest(key) == license_key_digest("QUJDREVG")
    assert license_key_digest(key) != license_key_digest("QUJDREVH")


async def test_unknown_keys_and_bad_figures_record_nothing() -> None:
    world = World()
    key = await world.activate()
    with pytest.raises(LicenseKeyUnknown):
        await world.report("bm90IGEga2V5\n")
    with pytest.raises(ValidationFailed):
        await world.report(key, billable_users=-1)
    with pytest.raises(ValidationFailed):
        await world.report(key, instance_identifier="not-a-uuid")
    with pytest.raises(ValidationFailed):
        await world.report(key, gitlab_version="x" * 51)
    assert world.store.usage_reports == []


async def test_reconciliation_dates_only_when_enabled() -> None:
    plain = World()
    answer = await plain.report(await plain.activate())
    assert answer.next_reconciliation_date is None
    world = World(reconciliation=True)
    answer = await world.report(await world.activate())
    assert answer.next_reconciliation_date == date(2024, 4, 15)
    assert answer.display_alert_from == date(2024, 4, 8)


async def test_an_instance_reports_only_on_its_own_subscription() -> None:
    world = World()
    key = await world.activate()
    handler = ReportUsageHandler(world.uow, world.clock, world.signer)
    command = ReportUsage(key, world.clock.now(), 1, 1, INSTANCE)
    own = Principal(
        PrincipalKind.INSTANCE,
        subject=INSTANCE,
        subscription_id=world.sub.id,
        scopes=grantable(PrincipalKind.INSTANCE),
    )
    assert (await handler(command, own)).recorded
    other = replace(own, subscription_id=uuid.uuid4())
    with pytest.raises(LicenseKeyUnknown):
        await handler(command, other)


async def test_a_seat_link_over_the_seats_emails_the_contact_once_per_term() -> None:
    world = World()
    key = await world.activate()

    def overages() -> list[dict[str, object]]:
        return [
            e.payload["context"]
            for e in world.store.events
            if e.kind == "EMAIL" and e.payload["template"] == "seat_overage"
        ]

    await world.report(key)  # 95 of 100 seats
    assert overages() == []
    await world.report(key, max_historical_users=120)
    await world.report(key, max_historical_users=120)  # the same report again
    later = world.clock.now() + timedelta(days=1)
    await world.report(key, max_historical_users=130, reported_at=later)
    [overage] = overages()
    assert overage["seats"] == 100
    assert overage["max_seats_used"] == 120
    assert overage["overage"] == 20

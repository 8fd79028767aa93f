"""The fleet use cases on in-memory ports: roles, retirement and replacement (the end key the
old instance's next seat link gets), the combined usage and the one stopped-syncing reminder."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from domain.errors import Forbidden, NotFound, ValidationFailed
from domain.model.activation_code import hash_activation_code
from domain.model.customer import Customer, Membership
from domain.model.enums import Deployment, Role
from domain.model.fleet import ContributionReason, InstanceRole
from domain.policy import grantable
from domain.principal import Principal, PrincipalKind
from domain.use_cases.activate_subscription import ActivateSubscription, ActivateSubscriptionHandler
from domain.use_cases.fleet import (
    Fleet,
    ReplaceInstance,
    RetireInstance,
    SetInstanceRole,
    fleet_usage,
    remind_stopped_syncing,
)
from domain.use_cases.report_usage import ReportUsage, ReportUsageHandler, UsageReported

from builders import RAMP_START, subscription
from fakes import CountingSigner, FixedClock
from memory import MemoryUnitOfWork, Store

GEO = "6e3c8d2f-9a5b-4d2c-8b64-3a9f7e1d5c82"
STAGING = "7f4d9e3a-ab6c-4e3d-9c75-4ba08f2e6d93"
NEW = "8a5eaf4b-bc7d-4f4e-8d86-5cb19a3f7ea4"


CODE = "ABCDEFGHJKLMNPQRSTUVWXYZ"
INSTANCE = "5d2b7c1e-8f4a-4c1b-9a53-2f8e6d0c4b71"
STAFF = Principal(PrincipalKind.STAFF, subject="ops", scopes=grantable(PrincipalKind.STAFF))


class Fleetworld:
    def __init__(self) -> None:
        self.store = Store()
        customer = Customer("Acme", "Ada", "ada@acme.test", datetime(2024, 1, 1, tzinfo=UTC))
        self.sub = subscription(
            customer_id=customer.id, deployment=Deployment.SELF_MANAGED, max_instances=3
        )
        self.store.customers[customer.id] = customer
        self.store.subscriptions[self.sub.id] = self.sub
        self.store.activation_codes[self.sub.id] = hash_activation_code(CODE)
        self.clock = FixedClock.on(RAMP_START + timedelta(days=10))
        self.signer = CountingSigner()
        self.fleet = Fleet(self.uow, self.clock, self.signer)

    def uow(self) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self.store)

    async def report(self, key: str, **overrides: object) -> UsageReported:
        fields: dict[str, object] = {
            "license_key": key,
            "reported_at": self.clock.now(),
            "billable_users": 90,
            "max_historical_users": 95,
            "instance_identifier": INSTANCE,
        }
        fields.update(overrides)
        handler = ReportUsageHandler(self.uow, self.clock, self.signer)
        return await handler(ReportUsage(**fields))  # type: ignore[arg-type]

    async def activate_as(self, identifier: str) -> str:
        handler = ActivateSubscriptionHandler(self.uow, self.clock, self.signer)
        return (await handler(ActivateSubscription(CODE, identifier))).license.license_key

    def instance(self, identifier: str):  # type: ignore[no-untyped-def]
        return next(i for i in self.store.instances if i.instance_identifier == identifier)


async def _three(world: Fleetworld) -> str:
    key = await world.activate_as(INSTANCE)
    await world.activate_as(GEO)
    await world.activate_as(STAGING)
    await world.fleet.set_role(
        STAFF, SetInstanceRole(world.instance(GEO).id, InstanceRole.GEO_SECONDARY)
    )
    await world.fleet.set_role(
        STAFF, SetInstanceRole(world.instance(STAGING).id, InstanceRole.STAGING)
    )
    return key


async def test_usage_combines_production_geo_and_staging_by_the_rule() -> None:
    world = Fleetworld()
    key = await _three(world)
    await world.report(
        key, instance_identifier=INSTANCE, billable_users=90, max_historical_users=104
    )
    await world.report(key, instance_identifier=GEO, billable_users=90, max_historical_users=104)
    await world.report(
        key, instance_identifier=STAGING, billable_users=20, max_historical_users=103
    )
    async with world.uow() as uow:
        usage = await fleet_usage(uow, world.sub, world.clock.today())
    assert (usage.seats, usage.billable_users, usage.max_seats_used) == (100, 90, 107)
    assert usage.overage == 7
    reasons = {p.instance_id: p.reason for p in usage.contributions}
    assert reasons == {
        world.instance(INSTANCE).id: ContributionReason.COUNTED,
        world.instance(GEO).id: ContributionReason.REPLICA,
        world.instance(STAGING).id: ContributionReason.BEYOND_ALLOWANCE,
    }
    # The overage email follows the rule too: 107 counted, not the Geo secondary's own 104
    # added again.
    [email] = [e for e in world.store.events if e.payload.get("template") == "seat_overage"]
    assert email.payload["context"]["max_seats_used"] == 104  # the first report over the seats


async def test_replacing_hands_the_key_to_the_new_instance_and_ends_the_old_ones_access() -> None:
    world = Fleetworld()
    world.sub.max_instances = 1
    key = await world.activate_as(INSTANCE)
    old = world.instance(INSTANCE)
    ends = world.clock.today() + timedelta(days=5)
    done = await world.fleet.replace(STAFF, ReplaceInstance(old.id, NEW, ends))
    assert done.replacement is not None
    assert done.replacement.role is InstanceRole.PRODUCTION
    assert done.end_key.expires_at == ends
    assert done.end_key.cancelled
    attributes = json.loads(done.end_key.license_key)
    assert attributes["expires_at"] == ends.isoformat()
    assert attributes["generated_from_cancellation"] is True

    answer = await world.report(key, instance_identifier=INSTANCE)
    assert answer.new_license_key == done.end_key.license_key
    assert answer.future_terms == ()
    # Once it runs on its end key, nothing more is sent (GitLab compares by string).
    again = await world.report(done.end_key.license_key, instance_identifier=INSTANCE)
    assert again.new_license_key is None

    # The replacement takes the place of the old one (max_instances 1) and gets the normal key.
    new_key = await world.activate_as(NEW)
    assert new_key == key
    normal = await world.report(key, instance_identifier=NEW)
    assert normal.new_license_key is None
    assert normal.report.instance_id == done.replacement.id
    # The subscription's license is still the normal one, not the end key.
    async with world.uow() as uow:
        latest = await uow.licenses.latest_for_subscription(world.sub.id)
    assert latest is not None
    assert not latest.cancelled
    with pytest.raises(ValidationFailed, match="retired"):
        await world.activate_as(INSTANCE)


async def test_retire_defaults_to_the_grace_and_refuses_twice() -> None:
    world = Fleetworld()
    await world.activate_as(INSTANCE)
    old = world.instance(INSTANCE)
    with pytest.raises(ValidationFailed, match="past"):
        await world.fleet.replace(
            STAFF, ReplaceInstance(old.id, NEW, world.clock.today() - timedelta(days=1))
        )
    assert len(world.store.instances) == 1  # the refused replacement left nothing
    with pytest.raises(ValidationFailed, match="UUID") as bad:
        await world.fleet.replace(STAFF, ReplaceInstance(old.id, "not-a-uuid"))
    assert bad.value.path == ("newInstanceIdentifier",)
    with pytest.raises(ValidationFailed, match="already on the subscription"):
        await world.fleet.replace(STAFF, ReplaceInstance(old.id, INSTANCE))
    done = await world.fleet.retire(STAFF, RetireInstance(old.id))
    assert done.instance.access_ends_on == world.clock.today() + timedelta(days=14)
    with pytest.raises(ValidationFailed, match="already retired"):
        await world.fleet.retire(STAFF, RetireInstance(old.id))


async def test_owners_may_act_viewers_may_not_and_other_tenants_find_nothing() -> None:
    world = Fleetworld()
    await world.activate_as(INSTANCE)
    target = world.instance(INSTANCE).id
    world.store.memberships.append(Membership(world.sub.customer_id, "usr_own", Role.OWNER))
    world.store.memberships.append(Membership(world.sub.customer_id, "usr_view", Role.VIEWER))

    def user(subject: str) -> Principal:
        return Principal(
            PrincipalKind.PORTAL_USER, subject=subject, scopes=grantable(PrincipalKind.PORTAL_USER)
        )

    changed = await world.fleet.set_role(
        user("usr_own"), SetInstanceRole(target, InstanceRole.TEST)
    )
    assert changed.role is InstanceRole.TEST
    with pytest.raises(Forbidden):
        await world.fleet.set_role(user("usr_view"), SetInstanceRole(target, InstanceRole.STAGING))
    with pytest.raises(NotFound):
        await world.fleet.retire(user("usr_stranger"), RetireInstance(target))


async def test_a_silent_instance_gets_one_reminder_per_silence() -> None:
    world = Fleetworld()
    key = await world.activate_as(INSTANCE)
    await world.report(key)
    start = world.clock.now()

    async def sweep(at: datetime) -> int:
        async with world.uow() as uow:
            sent = await remind_stopped_syncing(uow, at, days=7)
            await uow.commit()
        return sent

    assert await sweep(start + timedelta(days=6)) == 0
    assert await sweep(start + timedelta(days=7)) == 1
    assert await sweep(start + timedelta(days=8)) == 0  # the next day: nothing new
    assert await sweep(start + timedelta(days=30)) == 0
    [email] = [
        e for e in world.store.events if e.payload.get("template") == "instance_stopped_syncing"
    ]
    assert email.payload["context"]["instance_identifier"] == INSTANCE
    # It syncs again, then falls silent again: one more reminder.
    world.clock.set(start.date() + timedelta(days=40))
    await world.report(key, reported_at=world.clock.now())
    assert await sweep(world.clock.now() + timedelta(days=7)) == 1

"""Lifecycle emails on in-memory ports: renewed, cancelled, trial started, seat overage and the
two reminder sweeps record their EMAIL row in the change's unit of work, once per subject."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from domain.errors import TrialAlreadyUsed
from domain.model.customer import Customer
from domain.model.email import EMAIL_KIND
from domain.model.enums import NamespaceKind, TrialType
from domain.model.namespace import Namespace
from domain.model.provision_event import ProvisionEvent
from domain.model.subscription import Subscription
from domain.policy import grantable
from domain.principal import Principal, PrincipalKind
from domain.use_cases.cancel_subscription import CancelSubscription, CancelSubscriptionHandler
from domain.use_cases.create_subscription import SegmentSpec
from domain.use_cases.emails import Reminders, ReminderSettings, seat_overage
from domain.use_cases.renew_subscription import RenewSubscription, RenewSubscriptionHandler
from domain.use_cases.trials import ApplyTrial, Trials
from domain.use_cases.upsert_namespace import NamespaceKeeping, ReportNamespaceUsage

from builders import one_year_term, subscription
from fakes import FixedClock
from memory import MemoryUnitOfWork, Store

STAFF = Principal(PrincipalKind.STAFF, subject="ops", scopes=grantable(PrincipalKind.STAFF))
GITLAB = Principal(
    PrincipalKind.GITLAB_COM, subject="gitlab", scopes=grantable(PrincipalKind.GITLAB_COM)
)
START, END = date(2025, 1, 1), date(2026, 1, 1)


class World:
    def __init__(self, *, auto_renew: bool = True) -> None:
        self.store = Store()
        self.customer = Customer("Acme", "Ada", "ada@acme.test", datetime(2024, 1, 1, tzinfo=UTC))
        self.namespace = Namespace(
            gitlab_id=42,
            path="acme",
            name="Acme",
            kind=NamespaceKind.GROUP,
            created_at=datetime(2024, 1, 1, tzinfo=UTC),
            owner_emails=("ada@acme.test", "bob@acme.test"),
        )
        self.sub: Subscription = subscription(
            customer_id=self.customer.id,
            terms=(one_year_term(START, END, 10),),
            auto_renew=auto_renew,
            namespace_id=self.namespace.id,
        )
        self.store.customers[self.customer.id] = self.customer
        self.store.subscriptions[self.sub.id] = self.sub
        self.store.namespaces[self.namespace.id] = self.namespace
        self.clock = FixedClock.on(date(2025, 6, 1))

    def uow(self) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self.store)

    def emails(self, template: str) -> list[ProvisionEvent]:
        return [
            e
            for e in self.store.events
            if e.kind == EMAIL_KIND and e.payload["template"] == template
        ]


async def test_a_renewal_emails_the_contact_once_even_when_replayed() -> None:
    world = World()
    renew = RenewSubscriptionHandler(world.uow, world.clock)
    command = RenewSubscription(
        world.sub.id, (SegmentSpec(END, date(2027, 1, 1), 20),), idempotency_key="renew-1"
    )
    await renew(STAFF, command)
    again = await renew(STAFF, command)
    assert again.replayed
    [email] = world.emails("subscription_renewed")
    assert email.payload["to"] == "ada@acme.test"
    assert email.payload["context"] == {
        "subscription_name": world.sub.name,
        "contact_name": "Ada",
        "company": "Acme",
        "starts_on": "2026-01-01",
        "ends_on": "2027-01-01",
        "seats": 20,
    }
    assert email.subscription_id == world.sub.id


async def test_a_cancellation_says_when_it_takes_effect() -> None:
    world = World()
    cancel = CancelSubscriptionHandler(world.uow, world.clock)
    await cancel(STAFF, CancelSubscription(world.sub.id, idempotency_key="c1"))
    await cancel(STAFF, CancelSubscription(world.sub.id, idempotency_key="c1"))
    [email] = world.emails("subscription_cancelled")
    assert email.payload["context"]["effective_on"] == "2026-01-01"
    assert email.payload["context"]["immediately"] is False
    # Cancelled now after at period end: a second, different fact.
    await cancel(STAFF, CancelSubscription(world.sub.id, at_period_end=False))
    now = world.emails("subscription_cancelled")[1]
    assert now.payload["context"] == {**now.payload["context"], "immediately": True}
    assert now.payload["context"]["effective_on"] == "2025-06-01"


async def test_a_trial_emails_each_owner_of_the_group() -> None:
    world = World()
    world.store.subscriptions.clear()
    trials = Trials(world.uow, world.clock)
    await trials.apply(GITLAB, ApplyTrial(world.namespace.id, TrialType.ULTIMATE, "t-1"))
    await trials.apply(GITLAB, ApplyTrial(world.namespace.id, TrialType.ULTIMATE, "t-1"))
    emails = world.emails("trial_started")
    assert sorted(e.payload["to"] for e in emails) == ["ada@acme.test", "bob@acme.test"]
    assert emails[0].namespace_id == world.namespace.id
    assert emails[0].payload["context"]["target"] == "acme"
    assert emails[0].payload["context"]["days_left"] == 30


async def test_a_trial_on_a_group_without_owner_emails_sends_nothing() -> None:
    world = World()
    world.store.subscriptions.clear()
    world.store.namespaces[world.namespace.id] = Namespace(
        **{**world.namespace.__dict__, "owner_emails": ()}
    )
    await Trials(world.uow, world.clock).apply(
        GITLAB, ApplyTrial(world.namespace.id, TrialType.ULTIMATE)
    )
    assert world.emails("trial_started") == []


async def test_seat_overage_is_sent_once_per_term() -> None:
    world = World()
    keeping = NamespaceKeeping(world.uow, world.clock)

    async def report(max_seats: int) -> None:
        await keeping.report_usage(GITLAB, ReportNamespaceUsage(42, max_seats, max_seats, 0, 0))

    await report(10)  # at the seats: not over
    assert world.emails("seat_overage") == []
    await report(12)
    await report(12)  # the same report again
    await report(15)  # more, same term
    [email] = world.emails("seat_overage")
    assert email.payload["context"] == {
        "subscription_name": world.sub.name,
        "contact_name": "Ada",
        "company": "Acme",
        "seats": 10,
        "max_seats_used": 12,
        "overage": 2,
    }
    assert email.payload["once"] == f"seat_overage:{world.sub.id}:2025-01-01"


async def test_seat_overage_again_in_the_next_term() -> None:
    world = World()
    sub = subscription(
        customer_id=world.customer.id,
        terms=(one_year_term(START, END, 10), one_year_term(END, date(2027, 1, 1), 10)),
    )
    world.store.subscriptions = {sub.id: sub}
    for day in (date(2025, 6, 1), date(2025, 7, 1), date(2026, 2, 1)):
        async with world.uow() as uow:
            await seat_overage(uow, sub, 11, datetime(day.year, day.month, day.day, tzinfo=UTC))
            await uow.commit()
    assert len(world.emails("seat_overage")) == 2


async def test_trial_ending_soon_once_per_trial_and_end_date() -> None:
    world = World()
    world.store.subscriptions.clear()
    trials = Trials(world.uow, world.clock)
    await trials.apply(GITLAB, ApplyTrial(world.namespace.id, TrialType.ULTIMATE))
    reminders = Reminders(world.uow, world.clock, ReminderSettings(trial_ending_days=7))
    assert await reminders.trials_ending_soon() == 0  # 30 days left
    world.clock.advance(timedelta(days=25))  # 5 days left: inside the window
    assert await reminders.trials_ending_soon() == 2
    assert await reminders.trials_ending_soon() == 0
    world.clock.advance(timedelta(days=1))
    assert await reminders.trials_ending_soon() == 0
    [first, _] = world.emails("trial_ending_soon")
    assert first.payload["context"]["days_left"] == 5


async def test_subscription_expiring_only_when_it_will_not_renew() -> None:
    renewing = World(auto_renew=True)
    renewing.clock.set(END - timedelta(days=10))
    assert await Reminders(renewing.uow, renewing.clock).subscriptions_expiring() == 0

    world = World(auto_renew=False)
    reminders = Reminders(world.uow, world.clock, ReminderSettings(subscription_expiring_days=30))
    world.clock.set(END - timedelta(days=31))
    assert await reminders.subscriptions_expiring() == 0
    world.clock.set(END - timedelta(days=30))
    assert await reminders.subscriptions_expiring() == 1
    world.clock.set(END - timedelta(days=3))
    assert await reminders.subscriptions_expiring() == 0
    [email] = world.emails("subscription_expiring")
    assert email.payload["context"]["days_left"] == 30
    assert email.payload["context"]["auto_renew"] is False
    assert email.payload["context"]["ends_on"] == "2026-01-01"


async def test_a_combined_trial_gives_its_add_on_the_plan_trials_dates() -> None:
    world = World()
    world.store.subscriptions.clear()
    trials = Trials(world.uow, world.clock)
    ultimate = await trials.apply(GITLAB, ApplyTrial(world.namespace.id, TrialType.ULTIMATE))
    world.clock.advance(timedelta(minutes=1))
    duo = await trials.apply(
        GITLAB,
        ApplyTrial(world.namespace.id, TrialType.DUO_ENTERPRISE, with_plan_trial=True),
    )
    assert (duo.trial.starts_on, duo.trial.ends_on) == (
        ultimate.trial.starts_on,
        ultimate.trial.ends_on,
    )
    assert ultimate.trial.ends_on == date(2025, 7, 1)  # 30 days, not the add-on's 60
    [body] = [
        e.payload["provision"]["add_on_purchases"]["duo_enterprise"][0]
        for e in world.store.events
        if "add_on_purchases" in e.payload.get("provision", {})
    ]
    assert (body["started_on"], body["expires_on"]) == ("2025-06-01", "2025-07-01")


async def test_gitlab_com_asking_again_for_an_active_trial_gets_the_same_one() -> None:
    world = World()
    world.store.subscriptions.clear()
    trials = Trials(world.uow, world.clock)
    first = await trials.apply(GITLAB, ApplyTrial(world.namespace.id, TrialType.ULTIMATE))
    rows = len(world.store.events)
    again = await trials.apply(
        GITLAB, ApplyTrial(world.namespace.id, TrialType.ULTIMATE, repeat_is_same=True)
    )
    assert (again.trial.id, again.repeated) == (first.trial.id, True)
    assert len(world.store.events) == rows  # nothing recorded twice
    with pytest.raises(TrialAlreadyUsed):  # without the flag, a second trial is refused
        await trials.apply(GITLAB, ApplyTrial(world.namespace.id, TrialType.ULTIMATE))

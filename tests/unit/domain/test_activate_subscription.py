"""Activation rules, on in-memory ports and a fake signer."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest

from domain.errors import (
    ActivationCodeInvalid,
    InstanceLimitReached,
    SubscriptionNotActive,
    SubscriptionNotCloudLicensable,
)
from domain.model.activation_code import hash_activation_code
from domain.model.calendar import add_years
from domain.model.customer import Customer
from domain.model.enums import Channel, Deployment, LicensingMode, Plan
from domain.model.subscription import Segment, Subscription, Term
from domain.model.usage import UsageReport
from domain.use_cases.activate_subscription import (
    ActivateSubscription,
    ActivateSubscriptionHandler,
)

from fakes import FixedClock
from memory import FakeSigner, MemoryUnitOfWork, Store

CODE = "ABCDEFGHJKLMNPQRSTUVWXYZ"
START = date(2026, 11, 1)


def _world(store: Store, **overrides: object) -> Subscription:
    customer = Customer("Acme", "Ada", "ada@acme.test", FixedClock.on(START).now())
    years = [(add_years(START, n), add_years(START, n + 1)) for n in range(3)]
    values: dict[str, object] = {
        "name": "A-S00010001",
        "customer_id": customer.id,
        "deployment": Deployment.SELF_MANAGED,
        "plan": Plan.ULTIMATE,
        "channel": Channel.SALES,
        "terms": (
            Term(
                tuple(
                    Segment(a, b, seats)
                    for (a, b), seats in zip(years, (100, 250, 500), strict=True)
                )
            ),
        ),
        "created_at": FixedClock.on(START).now(),
    }
    values.update(overrides)
    subscription = Subscription(**values)  # type: ignore[arg-type]
    store.customers[customer.id] = customer
    store.subscriptions[subscription.id] = subscription
    store.activation_codes[subscription.id] = hash_activation_code(CODE)
    return subscription


def _handler(store: Store, clock: FixedClock, signer: FakeSigner) -> ActivateSubscriptionHandler:
    return ActivateSubscriptionHandler(lambda: MemoryUnitOfWork(store), clock, signer)


def _activate(instance: str | None = None, code: str = CODE) -> ActivateSubscription:
    return ActivateSubscription(code, instance or str(uuid.uuid4()))


async def test_a_malformed_code_is_refused_before_any_lookup() -> None:
    class Exploding(MemoryUnitOfWork):
        async def __aenter__(self) -> Exploding:
            raise AssertionError("looked something up")

    handler = ActivateSubscriptionHandler(
        lambda: Exploding(Store()), FixedClock.on(START), FakeSigner()
    )
    for bad in ("", "short", CODE.lower(), CODE[:-1] + "!"):
        with pytest.raises(ActivationCodeInvalid):
            await handler(_activate(code=bad))


async def test_an_unknown_code_is_invalid() -> None:
    store = Store()
    _world(store)
    with pytest.raises(ActivationCodeInvalid):
        await _handler(store, FixedClock.on(START), FakeSigner())(_activate(code="Z" * 24))


async def test_the_license_covers_the_whole_term_with_the_current_seats() -> None:
    store, signer = Store(), FakeSigner()
    _world(store)
    activated = await _handler(store, FixedClock.on(START + timedelta(days=10)), signer)(
        _activate()
    )
    assert (activated.license.starts_at, activated.license.expires_at) == (START, date(2029, 11, 1))
    assert activated.license.seats == 100
    assert signer.signed[0]["expires_at"] == "2029-11-01"


async def test_the_same_instance_gets_the_same_key_until_the_content_changes() -> None:
    store, signer, clock = Store(), FakeSigner(), FixedClock.on(START + timedelta(days=10))
    _world(store)
    handler = _handler(store, clock, signer)
    instance = str(uuid.uuid4())
    first = await handler(_activate(instance))
    again = await handler(_activate(instance))
    assert again.license.license_key == first.license.license_key
    assert len(signer.signed) == 1
    clock.set(add_years(START, 1) + timedelta(days=1))  # year two of the ramp
    later = await handler(_activate(instance))
    assert later.license.seats == 250
    assert later.license.license_key != first.license.license_key
    assert (later.license.starts_at, later.license.expires_at) == (START, date(2029, 11, 1))


async def test_max_instances_distinct_instances() -> None:
    store = Store()
    _world(store, max_instances=2)
    handler = _handler(store, FixedClock.on(START), FakeSigner())
    await handler(_activate())
    await handler(_activate())
    with pytest.raises(InstanceLimitReached):
        await handler(_activate())
    assert len(store.instances) == 2


async def test_no_seat_or_true_up_rule_blocks_activation() -> None:
    store = Store()
    sub = _world(store)
    clock = FixedClock.on(START + timedelta(days=10))
    # Up to 400 users on 100 seats: an overage of 300 is reported, not enforced.
    store.usage_reports.append(
        UsageReport(sub.id, billable_users=380, max_historical_users=400, reported_at=clock.now())
    )
    assert sub.overage(400, clock.today()) == 300
    activated = await _handler(store, clock, FakeSigner())(_activate())
    assert activated.license.seats == 100
    assert len(store.instances) == 1


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"licensing_mode": LicensingMode.LEGACY}, SubscriptionNotCloudLicensable),
        ({"deployment": Deployment.DEDICATED}, SubscriptionNotCloudLicensable),
    ],
)
async def test_only_cloud_licensed_self_managed_subscriptions_activate(
    overrides: dict[str, object], error: type[Exception]
) -> None:
    store = Store()
    _world(store, **overrides)
    with pytest.raises(error):
        await _handler(store, FixedClock.on(START), FakeSigner())(_activate())


async def test_expired_and_cancelled_subscriptions_do_not_activate() -> None:
    store = Store()
    _world(store)
    with pytest.raises(SubscriptionNotActive):
        await _handler(store, FixedClock.on(date(2030, 1, 1)), FakeSigner())(_activate())
    cancelled = Store()
    sub = _world(cancelled)
    sub.cancelled_at = FixedClock.on(START).now()
    with pytest.raises(SubscriptionNotActive):
        await _handler(cancelled, FixedClock.on(START), FakeSigner())(_activate())
    assert cancelled.instances == []

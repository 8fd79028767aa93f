"""changeSubscription on in-memory ports: a subscription cancelled at period end stays
cancelled - its auto-renewal is not switched back on."""

from __future__ import annotations

import pytest

from domain.errors import ValidationFailed
from domain.model.subscription import Subscription
from domain.policy import grantable
from domain.principal import Principal, PrincipalKind
from domain.use_cases.change_subscription import ChangeSubscription, ChangeSubscriptionHandler

from builders import YEAR_2, subscription
from fakes import FixedClock
from memory import MemoryUnitOfWork, Store

STAFF = Principal(PrincipalKind.STAFF, subject="ops", scopes=grantable(PrincipalKind.STAFF))


def _world(**overrides: object) -> tuple[Store, Subscription, ChangeSubscriptionHandler]:
    store, sub, clock = Store(), subscription(**overrides), FixedClock.on(YEAR_2)
    store.subscriptions[sub.id] = sub
    return store, sub, ChangeSubscriptionHandler(lambda: MemoryUnitOfWork(store), clock)


async def test_auto_renewal_is_switched_off_and_on_again() -> None:
    store, sub, change = _world()
    await change(STAFF, ChangeSubscription(sub.id, auto_renew=False))
    assert store.subscriptions[sub.id].auto_renew is False
    await change(STAFF, ChangeSubscription(sub.id, auto_renew=True))
    assert store.subscriptions[sub.id].auto_renew is True


async def test_a_subscription_cancelled_at_period_end_does_not_renew_again() -> None:
    store, sub, change = _world(auto_renew=False, cancel_at_period_end=True)
    with pytest.raises(ValidationFailed) as refused:
        await change(STAFF, ChangeSubscription(sub.id, auto_renew=True))
    assert refused.value.path == ("autoRenew",)
    assert store.subscriptions[sub.id].auto_renew is False
    assert store.audit == []
    # Saying "no" again is no change of mind.
    await change(STAFF, ChangeSubscription(sub.id, auto_renew=False))
    assert store.subscriptions[sub.id].auto_renew is False

"""linkNamespace on in-memory ports: a group held by an ended subscription is free to link, and
the ended subscription lets go of it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.errors import NamespaceAlreadyLinked
from domain.model.enums import NamespaceKind, NamespacePlan, SubscriptionStatus
from domain.model.namespace import Namespace
from domain.model.subscription import Subscription
from domain.policy import grantable
from domain.principal import Principal, PrincipalKind
from domain.use_cases.link_namespace import LinkNamespace, LinkNamespaceHandler

from builders import RAMP_END, RAMP_START, YEAR_2, one_year_term, subscription
from fakes import FixedClock
from memory import MemoryUnitOfWork, Store

STAFF = Principal(PrincipalKind.STAFF, subject="ops", scopes=grantable(PrincipalKind.STAFF))
CLOCK = FixedClock.on(YEAR_2)
ENDED = {
    # The last term ended on the day before the clock's.
    SubscriptionStatus.EXPIRED: {"terms": (one_year_term(RAMP_START, YEAR_2),)},
    SubscriptionStatus.CANCELLED: {"cancelled_at": datetime(2024, 6, 1, tzinfo=UTC)},
}


def _world(holder: dict[str, object]) -> tuple[Store, Namespace, Subscription, Subscription]:
    store = Store()
    group = Namespace(
        gitlab_id=100,
        path="acme",
        name="Acme",
        kind=NamespaceKind.GROUP,
        created_at=CLOCK.now(),
        base_plan=NamespacePlan.PREMIUM,
    )
    old = subscription(name="A-S00000001", namespace_id=group.id, **holder)
    new = subscription(name="A-S00000002", terms=(one_year_term(YEAR_2, RAMP_END),))
    store.namespaces[group.id] = group
    store.subscriptions.update({old.id: old, new.id: new})
    return store, group, old, new


def _handler(store: Store) -> LinkNamespaceHandler:
    return LinkNamespaceHandler(lambda: MemoryUnitOfWork(store), CLOCK)


@pytest.mark.parametrize("ended", sorted(ENDED))
async def test_an_ended_subscription_lets_go_of_its_group(ended: SubscriptionStatus) -> None:
    store, group, old, new = _world(ENDED[ended])
    assert old.status(CLOCK.today()) is ended
    linked = await _handler(store).link(STAFF, LinkNamespace(new.id, group.id))
    assert linked.subscription.namespace_id == group.id
    assert store.subscriptions[new.id].namespace_id == group.id
    assert store.subscriptions[old.id].namespace_id is None
    assert [s.id for s in store.subscriptions.values() if s.namespace_id == group.id] == [new.id]


async def test_an_active_subscription_keeps_its_group() -> None:
    store, group, old, new = _world({})
    with pytest.raises(NamespaceAlreadyLinked):
        await _handler(store).link(STAFF, LinkNamespace(new.id, group.id))
    assert store.subscriptions[old.id].namespace_id == group.id
    assert store.subscriptions[new.id].namespace_id is None

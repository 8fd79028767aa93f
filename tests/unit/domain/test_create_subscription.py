"""createSubscription's rules, on in-memory ports."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from domain.errors import Forbidden, IdempotencyKeyReused, NotFound, ValidationFailed
from domain.model.activation_code import hash_activation_code
from domain.model.enums import Channel, Deployment, Plan
from domain.policy import grantable
from domain.principal import Principal, PrincipalKind
from domain.use_cases.create_subscription import (
    CreateSubscription,
    CreateSubscriptionHandler,
    NewCustomer,
    SegmentSpec,
)

from fakes import FixedClock
from memory import MemoryUnitOfWork, Store

STAFF = Principal(PrincipalKind.STAFF, subject="ops", scopes=grantable(PrincipalKind.STAFF))
PARTNER = Principal(
    PrincipalKind.PARTNER,
    subject="reseller",
    partner_id="p-1",
    scopes=grantable(PrincipalKind.PARTNER),
)
PORTAL = Principal(
    PrincipalKind.PORTAL_USER, subject="usr_1", scopes=grantable(PrincipalKind.PORTAL_USER)
)
YEAR = (SegmentSpec(date(2026, 12, 1), date(2027, 12, 1), 50),)
CODE = "ABCDEFGHJKLMNPQRSTUVWXYZ"


def _command(**overrides: object) -> CreateSubscription:
    values: dict[str, object] = {
        "deployment": Deployment.SELF_MANAGED,
        "plan": Plan.PREMIUM,
        "segments": YEAR,
        "new_customer": NewCustomer("Acme", "Ada", "ada@acme.test"),
    }
    values.update(overrides)
    return CreateSubscription(**values)  # type: ignore[arg-type]


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def handler(store: Store) -> CreateSubscriptionHandler:
    clock = FixedClock.on(date(2026, 11, 30))
    return CreateSubscriptionHandler(lambda: MemoryUnitOfWork(store), clock, lambda: CODE)


async def test_a_self_managed_sale_stores_the_code_hashed_and_audits(
    handler: CreateSubscriptionHandler, store: Store
) -> None:
    created = await handler(STAFF, _command())
    assert created.activation_code == CODE
    assert store.activation_codes == {created.subscription.id: hash_activation_code(CODE)}
    [entry] = store.audit
    assert (entry.actor_kind, entry.action, entry.object_id) == (
        "STAFF",
        "createSubscription",
        created.subscription.id,
    )
    assert entry.before == {}
    assert entry.after["plan"] == "PREMIUM"


async def test_saas_and_dedicated_sales_get_no_code(
    handler: CreateSubscriptionHandler, store: Store
) -> None:
    for deployment in (Deployment.GITLAB_COM, Deployment.DEDICATED):
        created = await handler(STAFF, _command(deployment=deployment))
        assert created.activation_code is None
    assert store.activation_codes == {}


async def test_a_failure_keeps_nothing(handler: CreateSubscriptionHandler, store: Store) -> None:
    with pytest.raises(ValidationFailed):
        await handler(STAFF, _command(max_instances=0))
    assert store.customers == {}
    assert store.subscriptions == {}
    assert store.audit == []


async def test_a_partner_sells_for_itself_through_its_channel(
    handler: CreateSubscriptionHandler, store: Store
) -> None:
    created = await handler(PARTNER, _command(channel=Channel.RESELLER))
    assert created.subscription.partner_id == "p-1"
    with pytest.raises(ValidationFailed) as refused:
        await handler(PARTNER, _command(channel=Channel.SALES))
    assert refused.value.path == ("channel",)
    with pytest.raises(ValidationFailed):
        await handler(PARTNER, _command(channel=Channel.RESELLER, partner_id="p-2"))


async def test_a_partner_sees_only_the_customers_it_sold_to(
    handler: CreateSubscriptionHandler, store: Store
) -> None:
    mine = (await handler(PARTNER, _command(channel=Channel.RESELLER))).subscription.customer_id
    theirs = (await handler(STAFF, _command())).subscription.customer_id
    again = _command(channel=Channel.MARKETPLACE, new_customer=None, customer_id=mine)
    assert (await handler(PARTNER, again)).subscription.customer_id == mine
    with pytest.raises(NotFound):
        await handler(
            PARTNER, _command(channel=Channel.RESELLER, new_customer=None, customer_id=theirs)
        )
    with pytest.raises(NotFound):
        await handler(STAFF, _command(new_customer=None, customer_id=uuid.uuid4()))


async def test_portal_users_may_not_sell(handler: CreateSubscriptionHandler) -> None:
    with pytest.raises(Forbidden):
        await handler(PORTAL, _command())


async def test_an_idempotency_key_replays_and_refuses_other_input(
    handler: CreateSubscriptionHandler, store: Store
) -> None:
    first = await handler(STAFF, _command(idempotency_key="k"))
    again = await handler(STAFF, _command(idempotency_key="k"))
    assert again.replayed
    assert again.subscription.id == first.subscription.id
    assert again.activation_code is None
    assert len(store.subscriptions) == 1
    with pytest.raises(IdempotencyKeyReused):
        await handler(STAFF, _command(idempotency_key="k", plan=Plan.ULTIMATE))

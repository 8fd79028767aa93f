"""Webhooks in the domain: secrets, URLs, the catalogue, what is signed, the retry span, who
sees which endpoint, and which endpoints a sale's event goes to (in the sale's transaction)."""

from __future__ import annotations

import base64
import random
import uuid
from datetime import date, timedelta

import pytest

from domain.errors import NotFound, ValidationFailed
from domain.model.customer import Customer, Membership
from domain.model.enums import Channel, Deployment, Plan, Role
from domain.model.provision_event import backoff_delay
from domain.model.webhook import (
    DEFAULT_ATTEMPTS,
    PAYLOAD_VERSION,
    WEBHOOK_DELIVERY_KIND,
    WebhookEndpoint,
    WebhookEventType,
    attempts_for,
    body_of,
    check_event_types,
    check_url,
    message,
    new_secret,
    signed_content,
)
from domain.policy import grantable, sees_webhook_endpoint
from domain.principal import Principal, PrincipalKind
from domain.use_cases.cancel_subscription import CancelSubscription, CancelSubscriptionHandler
from domain.use_cases.create_subscription import (
    CreateSubscription,
    CreateSubscriptionHandler,
    SegmentSpec,
)
from domain.use_cases.webhooks import CreateWebhookEndpoint, UpdateWebhookEndpoint, WebhookEndpoints

from fakes import FixedClock
from memory import MemoryUnitOfWork, Store

STAFF = Principal(PrincipalKind.STAFF, subject="ops", scopes=grantable(PrincipalKind.STAFF))
PARTNER = Principal(
    PrincipalKind.PARTNER, subject="r1", partner_id="p-1", scopes=grantable(PrincipalKind.PARTNER)
)
OTHER_PARTNER = Principal(
    PrincipalKind.PARTNER, subject="r2", partner_id="p-2", scopes=grantable(PrincipalKind.PARTNER)
)
ALICE = Principal(
    PrincipalKind.PORTAL_USER, subject="alice", scopes=grantable(PrincipalKind.PORTAL_USER)
)
BOB = Principal(
    PrincipalKind.PORTAL_USER, subject="bob", scopes=grantable(PrincipalKind.PORTAL_USER)
)
CLOCK = FixedClock.on(date(2026, 11, 30))
CREATED = WebhookEventType.SUBSCRIPTION_CREATED.value


def test_a_secret_is_whsec_and_base64_of_24_random_bytes() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 24
    assert new_secret() != secret
    assert new_secret(lambda n: b"\x01" * n) == "whsec_" + base64.b64encode(b"\x01" * 24).decode()


@pytest.mark.parametrize(
    ("url", "allow", "ok"),
    [
        ("https://hooks.example.com/in", False, True),
        ("http://hooks.example.com/in", False, False),
        ("http://hooks.example.com/in", True, False),  # http only to loopback, even allowed
        ("http://127.0.0.1:8080/in", False, False),
        ("http://127.0.0.1:8080/in", True, True),
        ("http://[::1]/in", True, True),
        ("http://localhost/in", True, True),
        ("https://user:pw@hooks.example.com/", False, False),
        ("ftp://hooks.example.com/", True, False),
        ("https://", False, False),
        ("https://h.example.com:99999/", False, False),
        ("", False, False),
    ],
)
def test_urls_are_https_or_loopback_http_where_allowed(url: str, allow: bool, ok: bool) -> None:
    if ok:
        assert check_url(url, allow_http_loopback=allow) == url
    else:
        with pytest.raises(ValidationFailed) as refused:
            check_url(url, allow_http_loopback=allow)
        assert refused.value.path == ("url",)


def test_event_types_are_known_once_each_and_at_least_one() -> None:
    assert check_event_types(["subscription.cancelled", CREATED, CREATED]) == (
        WebhookEventType.SUBSCRIPTION_CREATED,
        WebhookEventType.SUBSCRIPTION_CANCELLED,
    )
    with pytest.raises(ValidationFailed, match=r"unknown event type 'subscription\.eaten'"):
        check_event_types(["subscription.eaten"])
    with pytest.raises(ValidationFailed, match="at least one"):
        check_event_types([])


def test_the_catalogue_starts_with_the_lifecycle() -> None:
    assert {t.value for t in WebhookEventType} == {
        "subscription.created",
        "subscription.changed",
        "subscription.renewed",
        "subscription.cancelled",
        "license.issued",
        "instance.activated",
        "trial.started",
        "trial.ended",
        "namespace.provisioned",
        "provisioning.failed",
        "provisioning.resolved",
        "usage.over_seats",
    }


def test_the_message_is_versioned_and_its_body_is_stable() -> None:
    body = message(WebhookEventType.SUBSCRIPTION_CREATED, CLOCK.now(), {"b": 1, "a": [2]})
    assert body == {
        "type": "subscription.created",
        "version": PAYLOAD_VERSION,
        "timestamp": "2026-11-30T12:00:00Z",
        "data": {"b": 1, "a": [2]},
    }
    sent = body_of({"message": body})
    assert sent == body_of({"message": dict(reversed(list(body.items())))})
    assert sent.startswith('{"data":{"a":[2],"b":1},"timestamp":')


def test_what_is_signed_is_id_dot_timestamp_dot_body() -> None:
    assert signed_content("msg_1", 1700000000, '{"a":1}') == b'msg_1.1700000000.{"a":1}'
    with pytest.raises(ValueError, match="may not contain"):
        signed_content("msg.1", 1700000000, "{}")


def test_deliveries_are_retried_for_at_least_a_day_under_the_default_backoff() -> None:
    base, cap = timedelta(seconds=2), timedelta(minutes=10)
    assert attempts_for(timedelta(hours=24), base=base, cap=cap) == DEFAULT_ATTEMPTS
    for seed in range(50):
        draw = random.Random(seed).random
        waits = [
            backoff_delay(n, base=base, cap=cap, random=draw) for n in range(1, DEFAULT_ATTEMPTS)
        ]
        assert sum(waits, timedelta()) >= timedelta(hours=24), seed
    # The span follows the backoff: a larger cap needs fewer attempts.
    assert attempts_for(timedelta(hours=24), base=base, cap=cap * 6) < DEFAULT_ATTEMPTS
    assert attempts_for(timedelta(0), base=base, cap=cap) == 1


CUSTOMER_A, CUSTOMER_B = uuid.uuid4(), uuid.uuid4()


@pytest.mark.parametrize(
    ("principal", "customer", "partner", "member", "sees"),
    [
        (STAFF, None, None, False, True),
        (STAFF, CUSTOMER_A, None, False, True),
        (STAFF, None, "p-1", False, True),
        (PARTNER, None, "p-1", False, True),
        (OTHER_PARTNER, None, "p-1", False, False),
        (PARTNER, None, None, False, False),  # a global endpoint is staff's
        (PARTNER, CUSTOMER_A, None, False, False),
        (ALICE, CUSTOMER_A, None, True, True),
        (ALICE, CUSTOMER_B, None, False, False),
        (ALICE, None, None, False, False),
        (ALICE, None, "p-1", False, False),
        (Principal(PrincipalKind.ANONYMOUS), None, None, False, False),
    ],
)
def test_who_sees_which_endpoint(
    principal: Principal, customer: uuid.UUID | None, partner: str | None, member: bool, sees: bool
) -> None:
    assert sees_webhook_endpoint(principal, customer, partner, member=member) is sees


@pytest.fixture
def store() -> Store:
    store = Store()
    for customer_id, company in ((CUSTOMER_A, "A"), (CUSTOMER_B, "B")):
        store.customers[customer_id] = Customer(
            company, "C", f"c@{company}.test", CLOCK.now(), id=customer_id
        )
    store.memberships += [
        Membership(CUSTOMER_A, "alice", Role.OWNER),
        Membership(CUSTOMER_B, "bob", Role.OWNER),
    ]
    return store


@pytest.fixture
def endpoints(store: Store) -> WebhookEndpoints:
    return WebhookEndpoints(lambda: MemoryUnitOfWork(store), CLOCK)


def _endpoint(url: str, customer: uuid.UUID | None = None, *types: str) -> CreateWebhookEndpoint:
    return CreateWebhookEndpoint(url=url, event_types=types or (CREATED,), customer_id=customer)


async def test_each_owner_gets_its_own_endpoint_and_others_read_not_found(
    endpoints: WebhookEndpoints,
) -> None:
    alice = await endpoints.create(ALICE, _endpoint("https://a.test/h", CUSTOMER_A))
    partner = await endpoints.create(PARTNER, _endpoint("https://p.test/h"))
    staff = await endpoints.create(STAFF, _endpoint("https://ops.test/h"))
    assert (alice.endpoint.customer_id, alice.endpoint.partner_id) == (CUSTOMER_A, None)
    assert (partner.endpoint.customer_id, partner.endpoint.partner_id) == (None, "p-1")
    assert staff.endpoint.is_global
    assert alice.secret.startswith("whsec_")
    for who, endpoint in (
        (BOB, alice.endpoint),
        (OTHER_PARTNER, partner.endpoint),
        (PARTNER, alice.endpoint),
        (ALICE, staff.endpoint),
        (BOB, partner.endpoint),
    ):
        for act in (
            endpoints.get(who, endpoint.id),
            endpoints.delete(who, endpoint.id),
            endpoints.update(who, UpdateWebhookEndpoint(endpoint.id, enabled=False)),
        ):
            with pytest.raises(NotFound):
                await act
    assert (await endpoints.get(STAFF, alice.endpoint.id)).url == "https://a.test/h"
    # Registering for another customer reads as a missing customer, too.
    with pytest.raises(NotFound) as refused:
        await endpoints.create(BOB, _endpoint("https://b.test/h", CUSTOMER_A))
    assert refused.value.path == ("customerId",)
    with pytest.raises(ValidationFailed):
        await endpoints.create(ALICE, _endpoint("https://a.test/h"))


async def test_a_sale_records_one_delivery_per_endpoint_that_hears_it(
    endpoints: WebhookEndpoints, store: Store
) -> None:
    hearing = [
        await endpoints.create(ALICE, _endpoint("https://a.test/h", CUSTOMER_A)),
        await endpoints.create(PARTNER, _endpoint("https://p.test/h")),
        await endpoints.create(STAFF, _endpoint("https://ops.test/h")),
    ]
    deaf = [
        await endpoints.create(BOB, _endpoint("https://b.test/h", CUSTOMER_B)),
        await endpoints.create(OTHER_PARTNER, _endpoint("https://p2.test/h")),
        await endpoints.create(
            STAFF, _endpoint("https://ops.test/cancel", None, "subscription.cancelled")
        ),
    ]
    off = await endpoints.create(ALICE, _endpoint("https://a.test/off", CUSTOMER_A))
    await endpoints.update(ALICE, UpdateWebhookEndpoint(off.endpoint.id, enabled=False))

    sell = CreateSubscriptionHandler(lambda: MemoryUnitOfWork(store), CLOCK)
    # Sold by partner p-1 to customer A (staff record the reseller's sale).
    sold = await sell(
        STAFF,
        CreateSubscription(
            deployment=Deployment.GITLAB_COM,
            plan=Plan.ULTIMATE,
            segments=(SegmentSpec(date(2026, 12, 1), date(2027, 12, 1), 20),),
            customer_id=CUSTOMER_A,
            channel=Channel.RESELLER,
            partner_id="p-1",
        ),
    )
    rows = [e for e in store.events if e.kind == WEBHOOK_DELIVERY_KIND]
    assert sorted(r.payload["endpoint_id"] for r in rows) == sorted(
        str(c.endpoint.id) for c in hearing
    )
    assert not {str(c.endpoint.id) for c in deaf} & {r.payload["endpoint_id"] for r in rows}
    for row in rows:
        assert row.subscription_id == sold.subscription.id
        assert row.max_attempts == DEFAULT_ATTEMPTS
        assert row.payload["message"]["type"] == "subscription.created"
        assert row.payload["message"]["data"]["subscription"]["name"] == sold.subscription.name
        assert row.payload["message"]["data"]["subscription"]["seats"] == 20
        assert not any(c.secret in repr(row.payload) for c in hearing)

    cancel = CancelSubscriptionHandler(lambda: MemoryUnitOfWork(store), CLOCK)
    await cancel(STAFF, CancelSubscription(sold.subscription.id, at_period_end=False))
    cancelled = [
        e
        for e in store.events
        if e.kind == WEBHOOK_DELIVERY_KIND and e.payload["event_type"] == "subscription.cancelled"
    ]
    assert [r.payload["endpoint_id"] for r in cancelled] == [str(deaf[2].endpoint.id)]
    assert cancelled[0].payload["message"]["data"]["immediately"] is True


async def test_a_failed_sale_records_no_delivery(endpoints: WebhookEndpoints, store: Store) -> None:
    await endpoints.create(STAFF, _endpoint("https://ops.test/h"))
    sell = CreateSubscriptionHandler(lambda: MemoryUnitOfWork(store), CLOCK)
    with pytest.raises(NotFound):
        await sell(
            STAFF,
            CreateSubscription(
                deployment=Deployment.GITLAB_COM,
                plan=Plan.ULTIMATE,
                segments=(SegmentSpec(date(2026, 12, 1), date(2027, 12, 1), 20),),
                customer_id=uuid.uuid4(),
            ),
        )
    assert store.events == []


def test_a_rotation_signs_with_both_secrets_until_the_overlap_ends() -> None:
    endpoint = WebhookEndpoint(
        url="https://a.test/h",
        event_types=(WebhookEventType.TRIAL_STARTED,),
        secret="whsec_old",
        created_at=CLOCK.now(),
    )
    endpoint.rotate("whsec_new", CLOCK.now(), timedelta(hours=1))
    assert endpoint.secret == "whsec_new"
    assert endpoint.signing_secrets(CLOCK.now()) == ("whsec_new", "whsec_old")
    assert endpoint.signing_secrets(CLOCK.now() + timedelta(hours=1)) == ("whsec_new", "whsec_old")
    later = CLOCK.now() + timedelta(hours=1, microseconds=1)
    assert endpoint.signing_secrets(later) == ("whsec_new",)
    endpoint.rotate("whsec_newer", CLOCK.now(), timedelta(0))  # no overlap: the old one stops
    assert endpoint.signing_secrets(CLOCK.now()) == ("whsec_newer",)
    with pytest.raises(ValidationFailed) as refused:
        endpoint.rotate("whsec_x", CLOCK.now(), timedelta(days=8))
    assert refused.value.path == ("overlapSeconds",)


async def test_rotating_another_tenants_secret_reads_not_found(
    endpoints: WebhookEndpoints, store: Store
) -> None:
    alice = await endpoints.create(ALICE, _endpoint("https://a.test/h", CUSTOMER_A))
    with pytest.raises(NotFound):
        await endpoints.rotate_secret(BOB, alice.endpoint.id)
    rotated = await endpoints.rotate_secret(ALICE, alice.endpoint.id)
    assert rotated.secret != alice.secret
    assert store.webhook_endpoints[alice.endpoint.id].previous_secret == alice.secret

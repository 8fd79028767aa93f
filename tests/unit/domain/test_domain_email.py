"""EMAIL rows: their payload, secrets that staff never see, and the rows the sale records."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from domain.model.email import EMAIL_KIND, EmailTemplate, email_event, redact_secrets
from domain.model.enums import Deployment, Plan
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

NOW = datetime(2026, 1, 1, tzinfo=UTC)
STAFF = Principal(PrincipalKind.STAFF, subject="ops", scopes=grantable(PrincipalKind.STAFF))
CODE = "ABCDEFGHJKLMNPQRSTUVWXYZ"


def test_an_email_event_carries_template_recipient_context_and_references() -> None:
    license_id = uuid.uuid4()
    event = email_event(
        EmailTemplate.LICENSE_DELIVERED,
        "ada@acme.test",
        {"subscription_name": "A-S00000001"},
        now=NOW,
        max_attempts=3,
        license_id=license_id,
    )
    assert event.kind == EMAIL_KIND
    assert event.payload == {
        "template": "license_delivered",
        "to": "ada@acme.test",
        "context": {"subscription_name": "A-S00000001"},
        "license_id": str(license_id),
    }
    assert event.max_attempts == 3


def test_secrets_are_redacted_for_people() -> None:
    payload = {"template": "activation_code", "secrets": {"activation_code": CODE}}
    assert redact_secrets(payload) == {
        "template": "activation_code",
        "secrets": {"activation_code": "[redacted]"},
    }
    assert payload["secrets"] == {"activation_code": CODE}  # the row itself is unchanged
    assert redact_secrets({"secrets": "odd"}) == {"secrets": "[redacted]"}
    assert redact_secrets({"to": "x"}) == {"to": "x"}


async def test_a_self_managed_sale_records_its_code_email_once() -> None:
    store = Store()
    handler = CreateSubscriptionHandler(
        lambda: MemoryUnitOfWork(store), FixedClock.on(date(2026, 11, 30)), lambda: CODE
    )
    command = CreateSubscription(
        deployment=Deployment.SELF_MANAGED,
        plan=Plan.ULTIMATE,
        segments=(SegmentSpec(date(2026, 12, 1), date(2027, 12, 1), 50),),
        new_customer=NewCustomer("Acme", "Ada", "ada@acme.test"),
        idempotency_key="sale-1",
    )
    created = await handler(STAFF, command)
    await handler(STAFF, command)  # a replay sends nothing again
    [event] = store.events
    assert event.kind == EMAIL_KIND
    assert event.subscription_id == created.subscription.id
    assert event.payload["to"] == "ada@acme.test"
    assert event.payload["secrets"] == {"activation_code": CODE}
    assert event.payload["context"] == {
        "subscription_name": created.subscription.name,
        "contact_name": "Ada",
        "company": "Acme",
        "plan": "Ultimate",
        "seats": 50,
        "starts_on": "2026-12-01",
        "ends_on": "2027-12-01",
    }


async def test_a_gitlab_com_sale_sends_no_code() -> None:
    store = Store()
    handler = CreateSubscriptionHandler(
        lambda: MemoryUnitOfWork(store), FixedClock.on(date(2026, 11, 30))
    )
    await handler(
        STAFF,
        CreateSubscription(
            deployment=Deployment.GITLAB_COM,
            plan=Plan.PREMIUM,
            segments=(SegmentSpec(date(2026, 12, 1), date(2027, 12, 1), 5),),
            new_customer=NewCustomer("Acme", "Ada", "ada@acme.test"),
        ),
    )
    assert store.events == []

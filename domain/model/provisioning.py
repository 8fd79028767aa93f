"""What GitLab.com must be told about a namespace (protocol §6, the ``provision`` endpoint):
the ledger rows the linking and trial use cases record, and the worker sends."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from domain.model.enums import AddOnKind, TrialType
from domain.model.namespace import Namespace
from domain.model.provision_event import ProvisionEvent
from domain.model.subscription import Subscription
from domain.model.trial import Trial

NAMESPACE_PROVISION = "NAMESPACE_PROVISION"
_ADD_ONS = {AddOnKind.DUO_PRO: "duo_pro", AddOnKind.DUO_ENTERPRISE: "duo_enterprise"}


def provision_body(
    namespace: Namespace, subscription: Subscription | None, today: date
) -> dict[str, Any]:
    """The ``provision`` body: the subscription's plan, seats, dates, minutes, storage and
    add-ons; without a subscription, the group's base plan (a revert). ``purchase_xid`` and the
    dates come from the subscription, so sending the same body again changes nothing."""
    if subscription is None:
        return {
            "base_product": {
                "plan_code": namespace.base_plan.value.lower(),
                "trial": False,
                "start_date": today.isoformat(),
                "end_date": None,
                "seats": 0,
                "auto_renew": False,
            }
        }
    term = subscription.current_term(today)
    minutes = sum(a.quantity for a in subscription.add_ons if a.kind is AddOnKind.COMPUTE_MINUTES)
    storage = [a for a in subscription.add_ons if a.kind is AddOnKind.STORAGE_GB]
    purchases: dict[str, list[dict[str, Any]]] = {}
    for add_on in subscription.add_ons:
        name = _ADD_ONS.get(add_on.kind)
        if name:
            purchases.setdefault(name, []).append(
                {
                    "started_on": add_on.start_date.isoformat(),
                    "expires_on": add_on.end_date.isoformat(),
                    "quantity": add_on.quantity,
                    "purchase_xid": subscription.name,
                    "trial": False,
                }
            )
    body: dict[str, Any] = {
        "base_product": {
            "plan_code": subscription.plan.value.lower(),
            "start_date": term.start_date.isoformat(),
            "end_date": term.end_date.isoformat(),
            "seats": subscription.seats(today),
            "trial": False,
            "auto_renew": subscription.auto_renew,
        },
        "compute_minutes": {"extra_shared_runners_minutes_limit": minutes},
        "storage": {
            # GitLab counts purchased storage in MiB; we sell it in GB.
            "additional_purchased_storage_size": sum(a.quantity for a in storage) * 1024,
            "additional_purchased_storage_ends_on": max(
                (a.end_date for a in storage), default=term.end_date
            ).isoformat(),
        },
    }
    if purchases:
        body["add_on_purchases"] = purchases
    return body


TRIAL_PLAN_CODES = {
    TrialType.ULTIMATE: "ultimate_trial",
    TrialType.ULTIMATE_ON_PREMIUM: "ultimate_trial_paid_customer",
}


def trial_body(
    namespace: Namespace, trial: Trial, subscription: Subscription | None, today: date
) -> dict[str, Any]:
    """The ``provision`` body that starts (or extends, or reactivates) a trial: the trial plan
    over the group's own term, or an add-on purchase marked as a trial. The trial's dates and
    id make a re-send change nothing."""
    if trial.type is TrialType.DUO_ENTERPRISE:
        seats = subscription.seats(today) if subscription else 1
        return {
            "add_on_purchases": {
                "duo_enterprise": [
                    {
                        "started_on": trial.starts_on.isoformat(),
                        "expires_on": trial.ends_on.isoformat(),
                        "quantity": seats,
                        "purchase_xid": f"trial-{trial.id}",
                        "trial": True,
                    }
                ]
            }
        }
    base = provision_body(namespace, subscription, today)["base_product"]
    return {
        "base_product": {
            **base,
            "plan_code": TRIAL_PLAN_CODES[trial.type],
            "trial": True,
            "trial_starts_on": trial.starts_on.isoformat(),
            "trial_ends_on": trial.ends_on.isoformat(),
            "start_date": base["start_date"] if subscription else trial.starts_on.isoformat(),
            "end_date": base["end_date"] if subscription else trial.ends_on.isoformat(),
        }
    }


def namespace_provision(
    namespace: Namespace,
    body: dict[str, Any],
    now: datetime,
    max_attempts: int,
    *,
    subscription_id: uuid.UUID | None = None,
    correlation_id: str | None = None,
) -> ProvisionEvent:
    """The ledger row that sends ``body`` to GitLab.com's provision endpoint for the group."""
    return ProvisionEvent.new(
        NAMESPACE_PROVISION,
        {"namespace": namespace.gitlab_id, "provision": body},
        now=now,
        max_attempts=max_attempts,
        correlation_id=correlation_id,
        subscription_id=subscription_id,
        namespace_id=namespace.id,
    )

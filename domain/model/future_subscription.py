"""Terms bought ahead, as a GitLab instance is told about them when it activates and at every
seat link (protocol §2.1 S1 and S2, §4)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from domain.model.customer import Customer
from domain.model.subscription import Subscription, Term


@dataclass(frozen=True)
class FutureSubscription:
    """A term that starts after today: the subscription's plan and cloud flags, the
    customer as licensee, the term's dates and the seats it starts with."""

    cloud_license_enabled: bool
    offline_cloud_license_enabled: bool
    plan: str
    """GitLab's plan name: ``premium`` or ``ultimate``."""
    name: str
    company: str
    email: str
    starts_at: date
    expires_at: date
    """Exclusive, like every end date."""
    users_in_license_count: int


def future_subscriptions(
    subscription: Subscription, customer: Customer, terms: Iterable[Term]
) -> tuple[FutureSubscription, ...]:
    """``terms`` (those of ``subscription`` that start later) as GitLab lists them."""
    mode = subscription.licensing_mode
    return tuple(
        FutureSubscription(
            cloud_license_enabled=mode is not None and mode.is_cloud,
            offline_cloud_license_enabled=mode is not None and mode.is_offline_cloud,
            plan=subscription.plan.value.lower(),
            name=customer.contact_name,
            company=customer.company,
            email=customer.contact_email,
            starts_at=term.start_date,
            expires_at=term.end_date,
            users_in_license_count=term.segments[0].seats,
        )
        for term in terms
    )

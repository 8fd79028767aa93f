"""Future subscriptions: terms bought ahead, as GitLab instances are told about them."""

from __future__ import annotations

from datetime import date

import pytest

from domain.model.customer import Customer
from domain.model.enums import Deployment, LicensingMode, Plan
from domain.model.future_subscription import FutureSubscription, future_subscriptions

from builders import CREATED_AT, RAMP_END, RAMP_START, YEAR_2, renewed, subscription, term

CUSTOMER = Customer("Acme", "Ada Admin", "ada@example.com", CREATED_AT)
RENEWAL = term((RAMP_END, date(2028, 1, 15), 600), (date(2028, 1, 15), date(2029, 1, 15), 700))


def test_only_terms_after_today_are_future() -> None:
    sub = renewed(subscription(), RENEWAL)
    assert sub.future_terms(YEAR_2) == (RENEWAL,)
    assert sub.future_terms(RAMP_START) == (RENEWAL,)
    assert sub.future_terms(RAMP_END) == ()


def test_a_future_term_starts_with_its_first_segments_seats() -> None:
    sub = renewed(subscription(deployment=Deployment.SELF_MANAGED, plan=Plan.ULTIMATE), RENEWAL)
    assert future_subscriptions(sub, CUSTOMER, sub.future_terms(YEAR_2)) == (
        FutureSubscription(
            cloud_license_enabled=True,
            offline_cloud_license_enabled=False,
            plan="ultimate",
            name="Ada Admin",
            company="Acme",
            email="ada@example.com",
            starts_at=RAMP_END,
            expires_at=date(2029, 1, 15),
            users_in_license_count=600,
        ),
    )


@pytest.mark.parametrize(
    ("mode", "cloud", "offline"),
    [
        (LicensingMode.ONLINE_CLOUD, True, False),
        (LicensingMode.OFFLINE_CLOUD, True, True),
        (LicensingMode.LEGACY, False, False),
    ],
)
def test_cloud_flags_follow_the_licensing_mode(
    mode: LicensingMode, cloud: bool, offline: bool
) -> None:
    sub = subscription(deployment=Deployment.SELF_MANAGED, licensing_mode=mode)
    [future] = future_subscriptions(sub, CUSTOMER, [RENEWAL])
    assert (future.cloud_license_enabled, future.offline_cloud_license_enabled) == (cloud, offline)

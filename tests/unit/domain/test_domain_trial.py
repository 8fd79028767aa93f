"""Trial: a time-boxed plan that ends by itself on its end date (exclusive)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest

from domain.errors import ValidationFailed
from domain.model.enums import NamespacePlan, TrialStatus, TrialType
from domain.model.trial import Trial

from fakes import FixedClock

STARTS_ON = date(2025, 3, 1)
ENDS_ON = STARTS_ON + timedelta(days=30)
NAMESPACE_ID = uuid.UUID("018f0000-0000-7000-8000-00000000000a")
SUBSCRIPTION_ID = uuid.UUID("018f0000-0000-7000-8000-00000000000b")


def trial(**overrides: Any) -> Trial:
    fields: dict[str, Any] = {
        "type": TrialType.ULTIMATE,
        "starts_on": STARTS_ON,
        "ends_on": ENDS_ON,
        "created_at": FixedClock.on(STARTS_ON).now(),
        "namespace_id": NAMESPACE_ID,
    }
    fields.update(overrides)
    return Trial(**fields)


@pytest.mark.parametrize("ends_on", [STARTS_ON, STARTS_ON - timedelta(days=1)])
def test_trial_must_end_after_it_starts(ends_on: date) -> None:
    with pytest.raises(ValidationFailed) as raised:
        trial(ends_on=ends_on)
    assert raised.value.code == "VALIDATION_FAILED"
    assert raised.value.path == ("endsOn",)


def test_one_day_trial_is_valid() -> None:
    assert trial(ends_on=STARTS_ON + timedelta(days=1)).is_active(STARTS_ON)


@pytest.mark.parametrize(
    ("namespace_id", "subscription_id"),
    [(None, None), (NAMESPACE_ID, SUBSCRIPTION_ID)],
)
def test_trial_is_on_exactly_one_of_namespace_or_subscription(
    namespace_id: uuid.UUID | None, subscription_id: uuid.UUID | None
) -> None:
    with pytest.raises(ValidationFailed):
        trial(namespace_id=namespace_id, subscription_id=subscription_id)


def test_self_managed_trial_is_on_a_subscription() -> None:
    sm = trial(namespace_id=None, subscription_id=SUBSCRIPTION_ID, email="ops@example.com")
    assert sm.subscription_id == SUBSCRIPTION_ID
    assert sm.namespace_id is None


@pytest.mark.parametrize(
    ("day", "status"),
    [
        (STARTS_ON - timedelta(days=1), TrialStatus.EXPIRED),
        (STARTS_ON, TrialStatus.ACTIVE),
        (ENDS_ON - timedelta(days=1), TrialStatus.ACTIVE),
        (ENDS_ON, TrialStatus.EXPIRED),
        (ENDS_ON + timedelta(days=90), TrialStatus.EXPIRED),
    ],
)
def test_trial_status_by_day(day: date, status: TrialStatus) -> None:
    clock = FixedClock.on(day)
    subject = trial()
    assert subject.status(clock.today()) is status
    assert subject.is_active(clock.today()) is (status is TrialStatus.ACTIVE)


def test_trial_expires_by_itself_as_the_clock_passes_its_end() -> None:
    clock = FixedClock.on(ENDS_ON - timedelta(days=1))
    subject = trial()
    assert subject.status(clock.today()) is TrialStatus.ACTIVE
    clock.advance(timedelta(days=1))
    assert subject.status(clock.today()) is TrialStatus.EXPIRED


@pytest.mark.parametrize(
    ("trial_type", "overlay"),
    [
        (TrialType.ULTIMATE, NamespacePlan.ULTIMATE_TRIAL),
        (TrialType.ULTIMATE_ON_PREMIUM, NamespacePlan.ULTIMATE_TRIAL_PAID_CUSTOMER),
        (TrialType.DUO_ENTERPRISE, None),
    ],
)
def test_plan_overlay_per_trial_type(trial_type: TrialType, overlay: NamespacePlan | None) -> None:
    assert trial(type=trial_type).plan_overlay == overlay

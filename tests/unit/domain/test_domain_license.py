"""License: seats, validity period, cloud flags and expiry."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest

from domain.errors import ValidationFailed
from domain.model.enums import LicensingMode, Plan
from domain.model.license import License, Licensee

from fakes import FixedClock

STARTS_AT = date(2025, 1, 15)
EXPIRES_AT = date(2026, 1, 15)


def license_(**overrides: Any) -> License:
    fields: dict[str, Any] = {
        "subscription_id": uuid.UUID("018f0000-0000-7000-8000-0000000000cc"),
        "mode": LicensingMode.ONLINE_CLOUD,
        "plan": Plan.ULTIMATE,
        "seats": 50,
        "starts_at": STARTS_AT,
        "expires_at": EXPIRES_AT,
        "licensee": Licensee("Ada Admin", "ada@example.com", "Acme"),
        "license_key": "opaque-envelope",
        "created_at": FixedClock.on(STARTS_AT).now(),
    }
    fields.update(overrides)
    return License(**fields)


@pytest.mark.parametrize("seats", [0, -1])
def test_license_grants_at_least_one_seat(seats: int) -> None:
    with pytest.raises(ValidationFailed) as raised:
        license_(seats=seats)
    assert raised.value.code == "VALIDATION_FAILED"
    assert raised.value.path == ("seats",)


def test_one_seat_license_is_valid() -> None:
    assert license_(seats=1).seats == 1


@pytest.mark.parametrize("expires_at", [STARTS_AT, STARTS_AT - timedelta(days=1)])
def test_license_expires_after_it_starts(expires_at: date) -> None:
    with pytest.raises(ValidationFailed) as raised:
        license_(expires_at=expires_at)
    assert raised.value.path == ("expiresAt",)


@pytest.mark.parametrize(
    ("mode", "cloud", "offline"),
    [
        (LicensingMode.ONLINE_CLOUD, True, False),
        (LicensingMode.OFFLINE_CLOUD, True, True),
        (LicensingMode.LEGACY, False, False),
    ],
)
def test_cloud_flags_per_mode(mode: LicensingMode, cloud: bool, offline: bool) -> None:
    subject = license_(mode=mode)
    assert subject.cloud_licensing_enabled is cloud
    assert subject.offline_cloud_licensing_enabled is offline


@pytest.mark.parametrize(
    ("day", "expired"),
    [
        (STARTS_AT, False),
        (EXPIRES_AT - timedelta(days=1), False),
        (EXPIRES_AT, True),
        (EXPIRES_AT + timedelta(days=1), True),
    ],
)
def test_license_is_expired_from_its_expiry_date(day: date, expired: bool) -> None:
    assert license_().is_expired(FixedClock.on(day).today()) is expired


def test_license_defaults_describe_a_plain_paid_license() -> None:
    subject = license_()
    assert (subject.trial, subject.cancelled, subject.add_ons) == (False, False, ())
    assert subject.instance_id is None

"""A License as GitLab's license attributes: keys, order, formats, defaults and refusals."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

import pytest

from domain.errors import ValidationFailed
from domain.model.enums import AddOnKind, LicensingMode, Plan
from domain.model.license import License, Licensee
from domain.model.license_attributes import attribute_problems, license_attributes
from domain.model.subscription import AddOn

from fakes import FixedClock

STARTS_AT = date(2025, 1, 15)
EXPIRES_AT = date(2028, 1, 15)  # a three-year term: the license covers all of it
LICENSE_ID = uuid.UUID("018f0000-0000-7000-8000-0000000000aa")
SUBSCRIPTION_ID = uuid.UUID("018f0000-0000-7000-8000-0000000000cc")
NAME = "A-S00012345"


def license_(**overrides: Any) -> License:
    fields: dict[str, Any] = {
        "id": LICENSE_ID,
        "subscription_id": SUBSCRIPTION_ID,
        "mode": LicensingMode.ONLINE_CLOUD,
        "plan": Plan.ULTIMATE,
        "seats": 250,
        "starts_at": STARTS_AT,
        "expires_at": EXPIRES_AT,
        "licensee": Licensee("Ada Admin", "ada@example.com", "Acme"),
        "license_key": "",
        "created_at": FixedClock.on(STARTS_AT).now(),
    }
    fields.update(overrides)
    return License(**fields)


def test_a_paid_online_license_reads_like_the_gem_writes_it() -> None:
    attributes = license_attributes(license_(auto_renew=True), subscription_name=NAME)
    assert attributes == {
        "version": 1,
        "licensee": {"Name": "Ada Admin", "Email": "ada@example.com", "Company": "Acme"},
        "issued_at": "2025-01-15",
        "expires_at": "2028-01-15",
        "notify_admins_at": "2028-01-15",
        "notify_users_at": "2028-01-15",
        "block_changes_at": "2028-01-29",
        "cloud_licensing_enabled": True,
        "offline_cloud_licensing_enabled": False,
        "auto_renew_enabled": True,
        "seat_reconciliation_enabled": False,
        "operational_metrics_enabled": False,
        "generated_from_customers_dot": True,
        "generated_from_cancellation": False,
        "restrictions": {
            "active_user_count": 250,
            "plan": "ultimate",
            "trial": False,
            "id": str(LICENSE_ID),
            "subscription_id": str(SUBSCRIPTION_ID),
            "subscription_name": NAME,
        },
    }


def test_keys_come_in_the_gems_order() -> None:
    attributes = license_attributes(license_(), subscription_name=NAME)
    assert list(attributes) == [
        "version", "licensee", "issued_at", "expires_at", "notify_admins_at",
        "notify_users_at", "block_changes_at", "cloud_licensing_enabled",
        "offline_cloud_licensing_enabled", "auto_renew_enabled", "seat_reconciliation_enabled",
        "operational_metrics_enabled", "generated_from_customers_dot",
        "generated_from_cancellation", "restrictions",
    ]  # fmt: skip
    assert list(attributes["licensee"]) == ["Name", "Email", "Company"]


def test_attributes_are_plain_json() -> None:
    attributes = license_attributes(license_(), subscription_name=NAME)
    assert json.loads(json.dumps(attributes)) == attributes


@pytest.mark.parametrize(
    ("mode", "cloud", "offline"),
    [
        (LicensingMode.ONLINE_CLOUD, True, False),
        (LicensingMode.OFFLINE_CLOUD, True, True),
        (LicensingMode.LEGACY, False, False),
    ],
)
def test_cloud_flags_follow_the_mode(mode: LicensingMode, cloud: bool, offline: bool) -> None:
    attributes = license_attributes(license_(mode=mode), subscription_name=NAME)
    assert attributes["cloud_licensing_enabled"] is cloud
    assert attributes["offline_cloud_licensing_enabled"] is offline
    assert attribute_problems(attributes) == []


def test_a_trial_has_no_block_changes_date() -> None:
    attributes = license_attributes(
        license_(trial=True, plan=Plan.ULTIMATE, expires_at=date(2025, 2, 14)),
        subscription_name=NAME,
    )
    assert "block_changes_at" not in attributes
    assert attributes["restrictions"]["trial"] is True
    assert attributes["expires_at"] == "2025-02-14"


def test_dates_set_on_the_license_win_over_the_convention() -> None:
    attributes = license_attributes(
        license_(
            notify_admins_at=date(2027, 12, 1),
            notify_users_at=date(2028, 1, 1),
            block_changes_at=date(2028, 2, 1),
        ),
        subscription_name=NAME,
    )
    assert (
        attributes["notify_admins_at"],
        attributes["notify_users_at"],
        attributes["block_changes_at"],
    ) == ("2027-12-01", "2028-01-01", "2028-02-01")


def test_a_cancellation_key_says_so() -> None:
    attributes = license_attributes(license_(cancelled=True), subscription_name=NAME)
    assert attributes["generated_from_cancellation"] is True


def test_premium_and_reconciliation() -> None:
    attributes = license_attributes(
        license_(plan=Plan.PREMIUM, reconciliation_enabled=True), subscription_name=NAME
    )
    assert attributes["restrictions"]["plan"] == "premium"
    assert attributes["seat_reconciliation_enabled"] is True


def test_duo_add_ons_become_add_on_products_and_saas_add_ons_are_left_out() -> None:
    duo_pro = AddOn(AddOnKind.DUO_PRO, 20, STARTS_AT, EXPIRES_AT)
    duo_enterprise = AddOn(AddOnKind.DUO_ENTERPRISE, 5, date(2026, 1, 15), EXPIRES_AT)
    minutes = AddOn(AddOnKind.COMPUTE_MINUTES, 1000, STARTS_AT, EXPIRES_AT)
    attributes = license_attributes(
        license_(add_ons=(duo_pro, minutes, duo_enterprise)), subscription_name=NAME
    )
    assert attributes["restrictions"]["add_on_products"] == {
        "duo_pro": [
            {
                "quantity": 20,
                "started_on": "2025-01-15",
                "expires_on": "2028-01-15",
                "purchase_xid": NAME,
                "trial": False,
            }
        ],
        "duo_enterprise": [
            {
                "quantity": 5,
                "started_on": "2026-01-15",
                "expires_on": "2028-01-15",
                "purchase_xid": NAME,
                "trial": False,
            }
        ],
    }


def test_without_license_add_ons_there_is_no_add_on_products_key() -> None:
    minutes = AddOn(AddOnKind.STORAGE_GB, 10, STARTS_AT, EXPIRES_AT)
    attributes = license_attributes(license_(add_ons=(minutes,)), subscription_name=NAME)
    assert "add_on_products" not in attributes["restrictions"]


def test_free_has_no_license() -> None:
    with pytest.raises(ValidationFailed) as raised:
        license_attributes(license_(plan=Plan.FREE), subscription_name=NAME)
    assert raised.value.path == ("plan",)


def test_the_subscription_name_must_be_one() -> None:
    with pytest.raises(ValidationFailed):
        license_attributes(license_(), subscription_name="S-1")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"version": 2}, "version 2 is not 1"),
        ({"licensee": {}}, "licensee is not a non-empty object"),
        ({"licensee": "Ada"}, "licensee is not a non-empty object"),
        ({"issued_at": "15/01/2025"}, "issued_at is not a YYYY-MM-DD date"),
        ({"expires_at": None}, "expires_at is not a YYYY-MM-DD date"),
        ({"restrictions": []}, "restrictions is not an object"),
        (
            {"cloud_licensing_enabled": False, "offline_cloud_licensing_enabled": True},
            "an offline cloud license must also be a cloud license",
        ),
    ],
)
def test_attribute_problems_are_gitlabs_validity_rules(
    change: dict[str, object], problem: str
) -> None:
    attributes = {**license_attributes(license_(), subscription_name=NAME), **change}
    assert attribute_problems(attributes) == [problem]


def test_missing_dates_are_problems() -> None:
    attributes = license_attributes(license_(), subscription_name=NAME)
    del attributes["issued_at"], attributes["expires_at"]
    assert attribute_problems(attributes) == ["issued_at is missing", "expires_at is missing"]

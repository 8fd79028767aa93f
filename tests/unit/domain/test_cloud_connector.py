"""The Cloud Connector rule: which services and scopes a license's plan and add-ons unlock."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest

from domain.errors import LicenseExpired, LicenseNotOnlineCloud
from domain.model.cloud_connector import (
    SERVICE_TOKEN_LIFETIME,
    check_licence_for_access,
    service_access,
)
from domain.model.enums import AddOnKind, LicensingMode, Plan
from domain.model.ids import new_id
from domain.model.license import License, Licensee
from domain.model.subscription import AddOn

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
TODAY = NOW.date()


def _license(plan: Plan = Plan.ULTIMATE, *add_ons: AddOnKind) -> License:
    start, end = date(2026, 1, 1), date(2027, 1, 1)
    return License(
        subscription_id=new_id(),
        mode=LicensingMode.ONLINE_CLOUD,
        plan=plan,
        seats=10,
        starts_at=start,
        expires_at=end,
        licensee=Licensee("Ada", "ada@example.com", "Acme"),
        license_key="key",
        created_at=NOW,
        add_ons=tuple(AddOn(kind, 3, start, end) for kind in add_ons),
    )


def test_duo_enterprise_unlocks_the_enterprise_services_and_scopes() -> None:
    access = service_access(_license(Plan.ULTIMATE, AddOnKind.DUO_ENTERPRISE), NOW)
    names = {s.name: s.bundled_with for s in access.services}
    assert names["generate_description"] == ("duo_enterprise",)
    assert names["code_suggestions"] == ("duo_enterprise",)
    assert {"ask_build", "code_suggestions"} <= set(access.scopes)
    assert access.duo_seats == 3
    assert access.expires_at - access.issued_at == SERVICE_TOKEN_LIFETIME
    assert access.not_before == NOW - timedelta(seconds=5)


def test_without_a_duo_add_on_only_the_free_services() -> None:
    for license_ in (_license(Plan.PREMIUM), _license(Plan.FREE, AddOnKind.DUO_PRO)):
        access = service_access(license_, NOW)
        assert all(s.start is None for s in access.services)
        assert "code_suggestions" not in access.scopes
        assert access.duo_seats == 0


def test_only_current_online_cloud_licenses() -> None:
    check_licence_for_access(_license(), TODAY)
    grace = dataclasses.replace(_license(), expires_at=TODAY - timedelta(days=14))
    check_licence_for_access(grace, TODAY)
    with pytest.raises(LicenseExpired):
        check_licence_for_access(
            dataclasses.replace(grace, expires_at=TODAY - timedelta(15)), TODAY
        )
    for mode in (LicensingMode.OFFLINE_CLOUD, LicensingMode.LEGACY):
        with pytest.raises(LicenseNotOnlineCloud):
            check_licence_for_access(dataclasses.replace(_license(), mode=mode), TODAY)

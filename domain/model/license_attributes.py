"""A License as the JSON attributes GitLab reads from a license key (protocol §3.3, §3.4).

Keys come in the order the ``gitlab-license`` gem writes them; dates are ``YYYY-MM-DD``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from domain.errors import ValidationFailed
from domain.model.enums import AddOnKind, Plan
from domain.model.license import License
from domain.model.subscription import is_subscription_name

VERSION = 1
# Portal convention (GitLab's license factory): users may still change things for two weeks.
BLOCK_CHANGES_AFTER = timedelta(days=14)
LICENSE_PLANS = {Plan.PREMIUM: "premium", Plan.ULTIMATE: "ultimate"}
# Add-ons a self-managed instance provisions from its license; compute minutes and storage
# exist on GitLab.com only.
LICENSE_ADD_ONS = {AddOnKind.DUO_PRO: "duo_pro", AddOnKind.DUO_ENTERPRISE: "duo_enterprise"}
_DATES = ("issued_at", "expires_at", "notify_admins_at", "notify_users_at", "block_changes_at")


def _day(value: date) -> str:
    return value.isoformat()


def _restrictions(license_: License, subscription_name: str) -> dict[str, object]:
    restrictions: dict[str, object] = {
        "active_user_count": license_.seats,
        "plan": LICENSE_PLANS[license_.plan],
        "trial": license_.trial,
        "id": str(license_.id),
        "subscription_id": str(license_.subscription_id),
        "subscription_name": subscription_name,
    }
    products: dict[str, list[dict[str, object]]] = {}
    for add_on in license_.add_ons:
        name = LICENSE_ADD_ONS.get(add_on.kind)
        if name is None:
            continue
        products.setdefault(name, []).append(
            {
                "quantity": add_on.quantity,
                "started_on": _day(add_on.start_date),
                "expires_on": _day(add_on.end_date),
                "purchase_xid": subscription_name,
                "trial": license_.trial,
            }
        )
    if products:
        restrictions["add_on_products"] = products
    return restrictions


def license_attributes(license_: License, *, subscription_name: str) -> dict[str, object]:
    """GitLab's attributes for ``license_`` of the subscription called ``subscription_name``.

    Notification dates default to the expiry date and ``block_changes_at`` to two weeks after
    it (none for a trial), unless the license sets them.
    """
    if not is_subscription_name(subscription_name):
        raise ValidationFailed(f"{subscription_name!r} is not a subscription name")
    if license_.plan not in LICENSE_PLANS:
        raise ValidationFailed(
            f"a {license_.plan.value} plan has no self-managed license", path=("plan",)
        )
    expires_at = license_.expires_at
    block_changes_at = license_.block_changes_at
    if block_changes_at is None and not license_.trial:
        block_changes_at = expires_at + BLOCK_CHANGES_AFTER
    attributes: dict[str, object] = {
        "version": VERSION,
        "licensee": {
            "Name": license_.licensee.name,
            "Email": license_.licensee.email,
            "Company": license_.licensee.company,
        },
        "issued_at": _day(license_.starts_at),
        "expires_at": _day(expires_at),
        "notify_admins_at": _day(license_.notify_admins_at or expires_at),
        "notify_users_at": _day(license_.notify_users_at or expires_at),
    }
    if block_changes_at is not None:
        attributes["block_changes_at"] = _day(block_changes_at)
    attributes.update(
        {
            "cloud_licensing_enabled": license_.cloud_licensing_enabled,
            "offline_cloud_licensing_enabled": license_.offline_cloud_licensing_enabled,
            "auto_renew_enabled": license_.auto_renew,
            "seat_reconciliation_enabled": license_.reconciliation_enabled,
            "operational_metrics_enabled": False,
            "generated_from_customers_dot": True,
            "generated_from_cancellation": license_.cancelled,
            "restrictions": _restrictions(license_, subscription_name),
        }
    )
    return attributes


def _is_day(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == len("YYYY-MM-DD")


def attribute_problems(attributes: Mapping[str, Any]) -> list[str]:
    """Why GitLab would refuse to load these attributes (its ``valid?`` and version rules);
    empty when it would load them."""
    problems = []
    if attributes.get("version", VERSION) != VERSION:
        problems.append(f"version {attributes.get('version')!r} is not {VERSION}")
    licensee = attributes.get("licensee")
    if not isinstance(licensee, dict) or not licensee:
        problems.append("licensee is not a non-empty object")
    for key in _DATES:
        if key in attributes and not _is_day(attributes[key]):
            problems.append(f"{key} is not a YYYY-MM-DD date")
    for key in ("issued_at", "expires_at"):
        if key not in attributes:
            problems.append(f"{key} is missing")
    if not isinstance(attributes.get("restrictions", {}), dict):
        problems.append("restrictions is not an object")
    if attributes.get("offline_cloud_licensing_enabled") is True and (
        attributes.get("cloud_licensing_enabled") is not True
    ):
        problems.append("an offline cloud license must also be a cloud license")
    return problems

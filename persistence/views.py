"""Read-side views: rows shown as they are, for lists where building entities would cost more
than the page (CQRS's read side; the write side still goes through entities)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg
import orjson

from domain.model.enums import LicensingMode, Plan
from persistence.mappers import licensing_mode_of, plan_of


class LicenseView(asyncpg.Record):
    """A license row (asyncpg builds it directly); attributes read the row when asked for."""

    __slots__ = ()

    @property
    def id(self) -> uuid.UUID:
        value: uuid.UUID = self["id"]
        return value

    @property
    def subscription_id(self) -> uuid.UUID:
        value: uuid.UUID = self["subscription"]
        return value

    @property
    def instance_id(self) -> uuid.UUID | None:
        value: uuid.UUID | None = self["instance"]
        return value

    @property
    def mode(self) -> LicensingMode:
        return licensing_mode_of(self["mode"])

    @property
    def plan(self) -> Plan:
        return plan_of(self["plan"])

    @property
    def seats(self) -> int:
        value: int = self["seats"]
        return value

    @property
    def starts_at(self) -> date:
        value: date = self["starts_at"]
        return value

    @property
    def expires_at(self) -> date:
        value: date = self["expires_at"]
        return value

    @property
    def trial(self) -> bool:
        value: bool = self["trial"]
        return value

    @property
    def cancelled(self) -> bool:
        value: bool = self["cancelled"]
        return value

    @property
    def created_at(self) -> datetime:
        value: datetime = self["created_at"]
        return value


@dataclass(frozen=True)
class ProvisioningStepView:
    """A GitLab.com provisioning step of a namespace, as its customer may see it: what it does
    and how far it got; never its payload or errors (``Namespace.provisioningSteps``)."""

    description: str
    status: str
    attempts: int
    created_at: datetime
    updated_at: datetime


def provisioning_step_view(
    payload: object, status: str, attempts: int, created_at: datetime, updated_at: datetime
) -> ProvisioningStepView:
    """A NAMESPACE_PROVISION event as its customer may see it (its payload as stored: JSON
    text or decoded)."""
    if isinstance(payload, str):
        payload = orjson.loads(payload)
    described = describe_provisioning(payload if isinstance(payload, dict) else {})
    return ProvisioningStepView(described, status, attempts, created_at, updated_at)


def describe_provisioning(payload: dict[str, Any]) -> str:
    """One line for people from a NAMESPACE_PROVISION body (protocol §6)."""
    body = payload.get("provision") or {}
    base = body.get("base_product") or {}
    parts = []
    if base:
        plan = str(base.get("plan_code") or "free").replace("_", " ")
        parts.append(f"{'trial' if base.get('trial') else 'plan'} {plan}")
        if base.get("seats"):
            parts.append(f"{base['seats']} seats")
    minutes = (body.get("compute_minutes") or {}).get("extra_shared_runners_minutes_limit")
    if minutes:
        parts.append(f"{minutes} extra compute minutes")
    add_ons = body.get("add_on_purchases") or {}
    if add_ons:
        parts.append("add-ons " + ", ".join(sorted(str(k).replace("_", " ") for k in add_ons)))
    return ("Set " + ", ".join(parts)) if parts else "Update the group"

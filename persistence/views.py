"""Read-side views: rows shown as they are, for lists where building entities would cost more
than the page (CQRS's read side; the write side still goes through entities)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import asyncpg

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

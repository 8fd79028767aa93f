"""Read-side views: rows shown as they are, for lists where building entities would cost more
than the page (CQRS's read side; the write side still goes through entities)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from domain.model.enums import LicensingMode, Plan
from persistence.mappers import Row, licensing_mode_of, plan_of


class LicenseView:
    """A license row; each attribute is read from the row when asked for."""

    __slots__ = ("_row",)

    def __init__(self, row: Row) -> None:
        self._row = row

    @property
    def id(self) -> uuid.UUID:
        value: uuid.UUID = self._row["id"]
        return value

    @property
    def subscription_id(self) -> uuid.UUID:
        value: uuid.UUID = self._row["subscription"]
        return value

    @property
    def instance_id(self) -> uuid.UUID | None:
        value: uuid.UUID | None = self._row["instance"]
        return value

    @property
    def mode(self) -> LicensingMode:
        return licensing_mode_of(self._row["mode"])

    @property
    def plan(self) -> Plan:
        return plan_of(self._row["plan"])

    @property
    def seats(self) -> int:
        value: int = self._row["seats"]
        return value

    @property
    def starts_at(self) -> date:
        value: date = self._row["starts_at"]
        return value

    @property
    def expires_at(self) -> date:
        value: date = self._row["expires_at"]
        return value

    @property
    def trial(self) -> bool:
        value: bool = self._row["trial"]
        return value

    @property
    def cancelled(self) -> bool:
        value: bool = self._row["cancelled"]
        return value

    @property
    def created_at(self) -> datetime:
        value: datetime = self._row["created_at"]
        return value

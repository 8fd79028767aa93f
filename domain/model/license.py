"""License: the signed statement of what an instance may use (DESIGN §2, protocol §3)."""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import NamedTuple

from domain.errors import ValidationFailed
from domain.model.enums import LicensingMode, Plan
from domain.model.ids import new_id
from domain.model.subscription import AddOn

_BOUNDARY_LINE = re.compile(r"^\s*-*\s*(BEGIN|END) .+? LICENSE\s*-*\s*$", re.MULTILINE)
_WHITESPACE = re.compile(r"\s+")


def license_key_digest(license_key: str) -> str:
    """What identifies a key's text: SHA-256 of its base64 without the optional BEGIN/END
    boundary lines and without any whitespace, which the envelope ignores (CRLF, line
    breaks, a missing or extra trailing newline). Two texts with one digest decode alike."""
    payload = _WHITESPACE.sub("", _BOUNDARY_LINE.sub("", license_key))
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()


class Licensee(NamedTuple):
    """Who the license is for, as GitLab shows it."""

    name: str
    email: str
    company: str


@dataclass
class License:
    """An issued license; ``license_key`` is the envelope handed to the instance, byte for byte."""

    subscription_id: uuid.UUID
    mode: LicensingMode
    plan: Plan
    seats: int
    starts_at: date
    expires_at: date
    licensee: Licensee
    license_key: str
    created_at: datetime
    instance_id: uuid.UUID | None = None
    trial: bool = False
    cancelled: bool = False
    auto_renew: bool = False
    reconciliation_enabled: bool = False
    add_ons: tuple[AddOn, ...] = ()
    notify_admins_at: date | None = None
    notify_users_at: date | None = None
    block_changes_at: date | None = None
    id: uuid.UUID = field(default_factory=new_id)
    retires_instance: uuid.UUID | None = None
    """Set on a retired instance's end key (docs/instances.md): that instance's last license,
    not the subscription's - never its newest license."""

    def __post_init__(self) -> None:
        if self.seats < 1:
            raise ValidationFailed("a license grants at least one seat", path=("seats",))
        if self.expires_at <= self.starts_at:
            raise ValidationFailed("a license must expire after it starts", path=("expiresAt",))

    @property
    def cloud_licensing_enabled(self) -> bool:
        return self.mode.is_cloud

    @property
    def offline_cloud_licensing_enabled(self) -> bool:
        return self.mode.is_offline_cloud

    def is_expired(self, today: date) -> bool:
        return today >= self.expires_at

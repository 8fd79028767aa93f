"""Instance: a self-managed GitLab installation bound to a subscription by activation."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime

from domain.errors import ValidationFailed
from domain.model.fleet import InstanceRole
from domain.model.ids import new_id

_CANONICAL_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


def parse_instance_identifier(value: str) -> str:
    """GitLab sends its instance UUID in canonical form; anything else is refused before any
    lookup (Python's UUID parser alone would accept braces, URNs and stray hyphens)."""
    value = value.strip()
    if _CANONICAL_UUID.fullmatch(value) is None:
        raise ValidationFailed(
            "instanceIdentifier must be a UUID like 5d2b7c1e-8f4a-4c1b-9a53-2f8e6d0c4b71",
            path=("instanceIdentifier",),
        )
    return str(uuid.UUID(value))


@dataclass
class Instance:
    """An installation, known by the identifier it sends, with what it last told us."""

    instance_identifier: str
    subscription_id: uuid.UUID
    activated_at: datetime
    hostname: str | None = None
    gitlab_version: str | None = None
    last_synced_at: datetime | None = None
    id: uuid.UUID = field(default_factory=new_id)
    role: InstanceRole = InstanceRole.PRODUCTION
    retired_at: datetime | None = None
    """When it was retired or replaced (docs/instances.md); None while in service."""
    access_ends_on: date | None = None
    """The end date its end key carries; set exactly when retired."""
    replaced_by: uuid.UUID | None = None
    """The instance that replaced it (a hardware move), if any."""

    @property
    def retired(self) -> bool:
        return self.retired_at is not None

    def __post_init__(self) -> None:
        self.instance_identifier = parse_instance_identifier(self.instance_identifier)

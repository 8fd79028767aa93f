"""Instance: a self-managed GitLab installation bound to a subscription by activation."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from domain.errors import ValidationFailed
from domain.model.ids import new_id


def parse_instance_identifier(value: str) -> str:
    """GitLab sends its instance UUID; anything else is refused before any lookup."""
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise ValidationFailed(
            "instanceIdentifier must be a UUID", path=("instanceIdentifier",)
        ) from None


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

    def __post_init__(self) -> None:
        self.instance_identifier = parse_instance_identifier(self.instance_identifier)

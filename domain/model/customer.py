"""Customer: the billing account, and the portal users who are its members."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from domain.errors import ValidationFailed
from domain.model.enums import Role
from domain.model.ids import new_id

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def validate_email(email: str, *, path: tuple[str, ...] = ("email",)) -> str:
    """Return the email trimmed and lower-cased, or raise ``ValidationFailed``."""
    cleaned = email.strip().lower()
    if len(cleaned) > 254 or not _EMAIL.match(cleaned):
        raise ValidationFailed(f"{email!r} is not an email address", path=path)
    return cleaned


def validate_text(value: str, name: str, *, max_length: int = 200) -> str:
    """Return a required free-text field trimmed, or raise ``ValidationFailed``."""
    cleaned = value.strip()
    if not cleaned:
        raise ValidationFailed(f"{name} must not be empty", path=(name,))
    if len(cleaned) > max_length:
        raise ValidationFailed(f"{name} is longer than {max_length} characters", path=(name,))
    return cleaned


@dataclass
class Customer:
    """A company that buys subscriptions; its contact receives the emails."""

    company: str
    contact_name: str
    contact_email: str
    created_at: datetime
    id: uuid.UUID = field(default_factory=new_id)

    def __post_init__(self) -> None:
        self.company = validate_text(self.company, "company")
        self.contact_name = validate_text(self.contact_name, "contactName")
        self.contact_email = validate_email(self.contact_email, path=("contactEmail",))


@dataclass(frozen=True)
class Membership:
    """A portal user's role in one customer."""

    customer_id: uuid.UUID
    user_subject: str
    role: Role

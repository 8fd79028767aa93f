"""Partner: an organisation that sells Provision subscriptions to its own customers (a reseller,
a distributor or a marketplace). Its id is the string subscriptions and partner tokens carry."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from domain.errors import ValidationFailed
from domain.model.customer import validate_text
from domain.model.enums import Channel

PARTNER_ID_MAX = 100
_PARTNER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9:._-]*")


class PartnerKind(StrEnum):
    """What kind of organisation the partner is."""

    RESELLER = "RESELLER"
    DISTRIBUTOR = "DISTRIBUTOR"
    MARKETPLACE = "MARKETPLACE"

    @classmethod
    def for_channel(cls, channel: Channel) -> PartnerKind:
        """The kind assumed for a partner first met on a subscription of ``channel``."""
        return cls.MARKETPLACE if channel is Channel.MARKETPLACE else cls.RESELLER


def check_partner_id(value: str, *, path: tuple[str, ...] = ("id",)) -> str:
    """A partner id: 1 to 100 letters, digits and ``:._-``, starting with a letter or digit."""
    if not 0 < len(value) <= PARTNER_ID_MAX or not _PARTNER_ID.fullmatch(value):
        raise ValidationFailed(
            f"a partner id is 1 to {PARTNER_ID_MAX} letters, digits and ':._-', starting with"
            " a letter or digit",
            path=path,
        )
    return value


@dataclass
class Partner:
    """A partner organisation; the subscriptions it sold name it by ``id``."""

    id: str
    name: str
    kind: PartnerKind
    created_at: datetime

    def __post_init__(self) -> None:
        self.id = check_partner_id(self.id)
        self.name = validate_text(self.name, "name")

    @classmethod
    def first_met(cls, partner_id: str, channel: Channel, at: datetime) -> Partner:
        """The row made for a partner id seen on a subscription before anyone registered it:
        named after its id until staff rename it."""
        return cls(partner_id, partner_id, PartnerKind.for_channel(channel), at)

    def update(self, *, name: str | None = None, kind: PartnerKind | None = None) -> None:
        if name is not None:
            self.name = validate_text(name, "name")
        if kind is not None:
            self.kind = kind

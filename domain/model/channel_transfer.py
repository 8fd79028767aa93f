"""A transfer of a subscription between channels (direct and a partner, or one partner and
another): staff record it with a reason and the moment it takes effect; a future one waits,
PENDING, until the Clock reaches that moment (docs/partners.md)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from domain.errors import ValidationFailed
from domain.model.customer import validate_text
from domain.model.enums import Channel
from domain.model.ids import new_id
from domain.model.subscription import Subscription


class TransferStatus(StrEnum):
    PENDING = "PENDING"
    """Recorded; takes effect when the Clock reaches ``effective_at``."""
    APPLIED = "APPLIED"
    SUPERSEDED = "SUPERSEDED"
    """A later transfer of the same subscription replaced it before it took effect."""


def check_destination(channel: Channel, partner_id: str | None) -> None:
    """A partner channel names its partner; a direct one names none."""
    if channel.needs_partner and not partner_id:
        raise ValidationFailed(
            f"a transfer to {channel.value} names the partner (toPartnerId)",
            path=("toPartnerId",),
        )
    if not channel.needs_partner and partner_id:
        raise ValidationFailed(
            f"a {channel.value} subscription has no partner: leave toPartnerId out",
            path=("toPartnerId",),
        )


@dataclass
class ChannelTransfer:
    """One move of ``subscription_id`` from its channel (and partner) to another."""

    subscription_id: uuid.UUID
    from_channel: Channel
    from_partner_id: str | None
    to_channel: Channel
    to_partner_id: str | None
    effective_at: datetime
    reason: str
    requested_at: datetime
    requested_by: str | None
    status: TransferStatus = TransferStatus.PENDING
    applied_at: datetime | None = None
    id: uuid.UUID = field(default_factory=new_id)

    def __post_init__(self) -> None:
        self.reason = validate_text(self.reason, "reason", max_length=500)
        check_destination(self.to_channel, self.to_partner_id)

    @classmethod
    def of(
        cls,
        subscription: Subscription,
        to_channel: Channel,
        to_partner_id: str | None,
        *,
        effective_at: datetime,
        reason: str,
        now: datetime,
        requested_by: str | None,
    ) -> ChannelTransfer:
        if (to_channel, to_partner_id) == (subscription.channel, subscription.partner_id):
            raise ValidationFailed(
                "the subscription is on that channel already", path=("toChannel",)
            )
        return cls(
            subscription.id,
            subscription.channel,
            subscription.partner_id,
            to_channel,
            to_partner_id,
            effective_at,
            reason,
            now,
            requested_by,
        )

    def is_due(self, now: datetime) -> bool:
        return self.status is TransferStatus.PENDING and self.effective_at <= now

    def apply(self, subscription: Subscription, now: datetime) -> None:
        """Move the subscription: from now on it is sold through the new channel and partner."""
        assert subscription.id == self.subscription_id
        assert self.status is TransferStatus.PENDING, self.status
        subscription.channel = self.to_channel
        subscription.partner_id = self.to_partner_id
        self.status = TransferStatus.APPLIED
        self.applied_at = now

    def supersede(self) -> None:
        assert self.status is TransferStatus.PENDING, self.status
        self.status = TransferStatus.SUPERSEDED

"""Trial: a time-boxed plan on a namespace, or a self-managed trial subscription."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime

from domain.errors import ValidationFailed
from domain.model.enums import NamespacePlan, TrialStatus, TrialType
from domain.model.ids import new_id

_OVERLAYS = {
    TrialType.ULTIMATE: NamespacePlan.ULTIMATE_TRIAL,
    TrialType.ULTIMATE_ON_PREMIUM: NamespacePlan.ULTIMATE_TRIAL_PAID_CUSTOMER,
}


@dataclass
class Trial:
    """A trial; it ends by itself on ``ends_on`` (exclusive), when the namespace reverts."""

    type: TrialType
    starts_on: date
    ends_on: date
    created_at: datetime
    namespace_id: uuid.UUID | None = None
    subscription_id: uuid.UUID | None = None
    email: str | None = None
    reverts_to: NamespacePlan | None = None
    extended: bool = False
    reactivated: bool = False
    id: uuid.UUID = field(default_factory=new_id)

    def __post_init__(self) -> None:
        if self.ends_on <= self.starts_on:
            raise ValidationFailed("a trial must end after it starts", path=("endsOn",))
        if (self.namespace_id is None) == (self.subscription_id is None):
            raise ValidationFailed("a trial is either on a namespace or on a subscription")

    @property
    def plan_overlay(self) -> NamespacePlan | None:
        """The namespace plan this trial shows while active (add-on trials show none)."""
        return _OVERLAYS.get(self.type)

    def is_active(self, today: date) -> bool:
        return self.starts_on <= today < self.ends_on

    def has_ended(self, today: date) -> bool:
        """From ``ends_on`` on (the end is exclusive): a namespace trial is then reverted by
        the expiry job (``TrialRepository.claim_ended``)."""
        return today >= self.ends_on

    def status(self, today: date) -> TrialStatus:
        return TrialStatus.ACTIVE if self.is_active(today) else TrialStatus.EXPIRED

"""changeSubscription: seats of the current (or a future) segment, and auto-renewal."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from domain.errors import ValidationFailed
from domain.model.channel_policy import SubscriptionAction
from domain.model.subscription import Subscription
from domain.model.webhook import DEFAULT_ATTEMPTS, WebhookEventType
from domain.ports import Clock, UnitOfWork
from domain.principal import Principal
from domain.use_cases.subscription_changes_shared import Changed, run_subscription_change
from domain.use_cases.webhooks import record_webhooks


@dataclass(frozen=True)
class ChangeSubscription:
    subscription_id: uuid.UUID
    seats: int | None = None
    segment_start_date: date | None = None
    auto_renew: bool | None = None
    idempotency_key: str | None = None


def _actions(command: ChangeSubscription) -> tuple[SubscriptionAction, ...]:
    """What the channel policy is asked about: each part of the change given."""
    asked = []
    if command.seats is not None:
        asked.append(SubscriptionAction.ADD_SEATS)
    if command.auto_renew is not None:
        asked.append(SubscriptionAction.TOGGLE_AUTO_RENEW)
    return tuple(asked)


class ChangeSubscriptionHandler:
    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        clock: Clock,
        webhook_attempts: int = DEFAULT_ATTEMPTS,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._webhook_attempts = webhook_attempts

    async def __call__(self, principal: Principal, command: ChangeSubscription) -> Changed:
        if command.seats is None and command.auto_renew is None:
            raise ValidationFailed(
                "nothing to change: give `seats` or `autoRenew`", path=("seats",)
            )
        if command.segment_start_date is not None and command.seats is None:
            raise ValidationFailed("`segmentStartDate` goes with `seats`", path=("seats",))

        async def change(uow: UnitOfWork, sub: Subscription, now: datetime) -> dict[str, Any]:
            if command.seats is not None:
                sub.change_seats(command.seats, now.date(), command.segment_start_date)
            if command.auto_renew is not None:
                if command.auto_renew and sub.cancel_at_period_end:
                    raise ValidationFailed(
                        "a subscription cancelled at period end does not renew",
                        path=("autoRenew",),
                    )
                sub.auto_renew = command.auto_renew
            await record_webhooks(
                uow,
                WebhookEventType.SUBSCRIPTION_CHANGED,
                sub,
                now,
                max_attempts=self._webhook_attempts,
            )
            return {}

        return await run_subscription_change(
            self._unit_of_work,
            self._clock,
            principal,
            subscription_id=command.subscription_id,
            operation="changeSubscription",
            idempotency_key=command.idempotency_key,
            request={
                "id": str(command.subscription_id),
                "seats": command.seats,
                "segmentStartDate": command.segment_start_date,
                "autoRenew": command.auto_renew,
            },
            apply=change,
            actions=_actions(command),
        )

"""cancelSubscription: at period end (the default: it stays active until the term ends and
does not renew) or now."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.model.channel_policy import SubscriptionAction
from domain.model.subscription import Subscription
from domain.model.webhook import DEFAULT_ATTEMPTS, WebhookEventType
from domain.ports import Clock, UnitOfWork
from domain.principal import Principal
from domain.use_cases.emails import subscription_cancelled
from domain.use_cases.subscription_changes_shared import Changed, run_subscription_change
from domain.use_cases.webhooks import record_webhooks


@dataclass(frozen=True)
class CancelSubscription:
    subscription_id: uuid.UUID
    at_period_end: bool = True
    reason: str | None = None
    idempotency_key: str | None = None


class CancelSubscriptionHandler:
    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        clock: Clock,
        webhook_attempts: int = DEFAULT_ATTEMPTS,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._webhook_attempts = webhook_attempts

    async def __call__(self, principal: Principal, command: CancelSubscription) -> Changed:
        async def cancel(uow: UnitOfWork, sub: Subscription, now: datetime) -> dict[str, Any]:
            sub.cancel(at_period_end=command.at_period_end, now=now, today=now.date())
            await subscription_cancelled(uow, sub, now)
            immediately = sub.cancelled_at is not None
            await record_webhooks(
                uow,
                WebhookEventType.SUBSCRIPTION_CANCELLED,
                sub,
                now,
                {
                    "immediately": immediately,
                    "effective_on": (now.date() if immediately else sub.end_date).isoformat(),
                },
                max_attempts=self._webhook_attempts,
            )
            return {"reason": command.reason}

        return await run_subscription_change(
            self._unit_of_work,
            self._clock,
            principal,
            subscription_id=command.subscription_id,
            operation="cancelSubscription",
            idempotency_key=command.idempotency_key,
            request={"id": str(command.subscription_id), "atPeriodEnd": command.at_period_end},
            apply=cancel,
            actions=(SubscriptionAction.CANCEL,),
        )

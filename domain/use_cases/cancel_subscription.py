"""cancelSubscription: at period end (the default: it stays active until the term ends and
does not renew) or now."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.model.subscription import Subscription
from domain.ports import Clock, UnitOfWork
from domain.principal import Principal
from domain.use_cases.emails import subscription_cancelled
from domain.use_cases.subscription_changes_shared import Changed, run_subscription_change


@dataclass(frozen=True)
class CancelSubscription:
    subscription_id: uuid.UUID
    at_period_end: bool = True
    reason: str | None = None
    idempotency_key: str | None = None


class CancelSubscriptionHandler:
    def __init__(self, unit_of_work: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock

    async def __call__(self, principal: Principal, command: CancelSubscription) -> Changed:
        async def cancel(uow: UnitOfWork, sub: Subscription, now: datetime) -> dict[str, Any]:
            sub.cancel(at_period_end=command.at_period_end, now=now, today=now.date())
            await subscription_cancelled(uow, sub, now)
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
        )

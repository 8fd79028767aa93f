"""renewSubscription: a new term, starting when the current one ends."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from domain.model.channel_policy import SubscriptionAction
from domain.model.subscription import Segment, Subscription, Term
from domain.model.webhook import DEFAULT_ATTEMPTS, WebhookEventType
from domain.ports import Clock, UnitOfWork
from domain.principal import Principal
from domain.use_cases.create_subscription import SegmentSpec
from domain.use_cases.emails import subscription_renewed
from domain.use_cases.subscription_changes_shared import Changed, run_subscription_change
from domain.use_cases.webhooks import record_webhooks


@dataclass(frozen=True)
class RenewSubscription:
    subscription_id: uuid.UUID
    segments: tuple[SegmentSpec, ...]
    idempotency_key: str | None = None


class RenewSubscriptionHandler:
    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        clock: Clock,
        webhook_attempts: int = DEFAULT_ATTEMPTS,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._webhook_attempts = webhook_attempts

    async def __call__(self, principal: Principal, command: RenewSubscription) -> Changed:
        async def renew(uow: UnitOfWork, sub: Subscription, now: datetime) -> dict[str, Any]:
            sub.renew(Term(tuple(Segment(**asdict(s)) for s in command.segments)), now.date())
            await subscription_renewed(uow, sub, now)
            await record_webhooks(
                uow,
                WebhookEventType.SUBSCRIPTION_RENEWED,
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
            operation="renewSubscription",
            idempotency_key=command.idempotency_key,
            request={
                "id": str(command.subscription_id),
                "segments": [asdict(s) for s in command.segments],
            },
            apply=renew,
            actions=(SubscriptionAction.RENEW,),
        )

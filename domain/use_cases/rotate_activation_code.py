"""rotateActivationCode: a new code for a self-managed subscription; the old one stops working.
The new code is shown once."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.errors import ValidationFailed
from domain.model.activation_code import hash_activation_code, new_activation_code
from domain.model.channel_policy import SubscriptionAction
from domain.model.enums import Deployment
from domain.model.subscription import Subscription
from domain.ports import Clock, UnitOfWork
from domain.principal import Principal
from domain.use_cases.subscription_changes_shared import Changed, run_subscription_change


@dataclass(frozen=True)
class RotateActivationCode:
    subscription_id: uuid.UUID


class RotateActivationCodeHandler:
    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        clock: Clock,
        new_code: Callable[[], str] = new_activation_code,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._new_code = new_code

    async def __call__(
        self, principal: Principal, command: RotateActivationCode
    ) -> tuple[Changed, str]:
        code = self._new_code()

        async def rotate(uow: UnitOfWork, sub: Subscription, now: datetime) -> dict[str, Any]:
            if sub.deployment is not Deployment.SELF_MANAGED:
                raise ValidationFailed(
                    "only self-managed subscriptions have an activation code",
                    path=("subscriptionId",),
                )
            await uow.activation_codes.set(sub.id, hash_activation_code(code), now)
            return {}

        changed = await run_subscription_change(
            self._unit_of_work,
            self._clock,
            principal,
            subscription_id=command.subscription_id,
            operation="rotateActivationCode",
            idempotency_key=None,  # a retry should not hand out a second new code silently
            request={},
            apply=rotate,
            actions=(SubscriptionAction.ROTATE_ACTIVATION_CODE,),
        )
        return changed, code

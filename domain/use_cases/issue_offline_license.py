"""issueOfflineLicense: the license file of an offline-cloud, legacy or Dedicated subscription
(no seat link reaches us from there). Unchanged content keeps the same key, byte for byte."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from domain.errors import NotFound, SubscriptionNotActive, ValidationFailed
from domain.model.enums import Deployment, LicensingMode, SubscriptionStatus
from domain.model.license import License
from domain.model.subscription import Subscription
from domain.model.webhook import DEFAULT_ATTEMPTS
from domain.policy import Access, Resource, require_scope
from domain.ports import Clock, LicenseSigner, UnitOfWork
from domain.principal import Principal
from domain.use_cases.licensing import issue_current_license
from domain.use_cases.subscription_changes_shared import may_act_on

OFFLINE_MODES = (LicensingMode.OFFLINE_CLOUD, LicensingMode.LEGACY)


@dataclass(frozen=True)
class IssueOfflineLicense:
    subscription_id: uuid.UUID


@dataclass(frozen=True)
class OfflineLicense:
    subscription: Subscription
    license: License
    new: bool


class IssueOfflineLicenseHandler:
    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        clock: Clock,
        signer: LicenseSigner,
        webhook_attempts: int = DEFAULT_ATTEMPTS,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._signer = signer
        self._webhook_attempts = webhook_attempts

    async def __call__(self, principal: Principal, command: IssueOfflineLicense) -> OfflineLicense:
        require_scope(principal, Resource.LICENSES, Access.WRITE)
        async with self._unit_of_work() as uow:
            subscription = await uow.subscriptions.lock(command.subscription_id)
            if subscription is None:
                raise NotFound("no such subscription", path=("subscriptionId",))
            await may_act_on(uow, principal, subscription)
            now = self._clock.now()
            if subscription.deployment is Deployment.GITLAB_COM or (
                subscription.licensing_mode not in OFFLINE_MODES
            ):
                raise ValidationFailed(
                    "only offline-cloud and legacy subscriptions get a license file; online"
                    " cloud instances activate with their code",
                    path=("subscriptionId",),
                )
            status = subscription.status(now.date())
            if status in (SubscriptionStatus.EXPIRED, SubscriptionStatus.CANCELLED):
                raise SubscriptionNotActive(f"the subscription is {status.value.lower()}")
            customer = await uow.customers.get(subscription.customer_id)
            assert customer is not None
            issued = await issue_current_license(
                uow,
                self._signer,
                subscription,
                customer,
                now,
                caller=principal,
                operation="issueOfflineLicense",
                webhook_attempts=self._webhook_attempts,
            )
            new = issued.created_at == now  # signed just now (else the unchanged one)
            await uow.commit()
        assert issued is not None
        return OfflineLicense(subscription, issued, new)

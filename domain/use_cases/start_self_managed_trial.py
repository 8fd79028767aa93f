"""A self-managed Ultimate trial (protocol §5): one per email and type; a 30-day online-cloud
Ultimate trial subscription whose activation code is returned, for GitLab to activate at once.
Its license says ``trial: true``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from domain.errors import TrialAlreadyUsed
from domain.model.activation_code import hash_activation_code, new_activation_code
from domain.model.audit import AuditEntry
from domain.model.customer import Customer, validate_email, validate_text
from domain.model.enums import Channel, Deployment, LicensingMode, Plan, TrialType
from domain.model.subscription import Segment, Subscription, Term
from domain.model.trial import Trial
from domain.model.webhook import DEFAULT_ATTEMPTS, WebhookEventType
from domain.ports import Clock, UnitOfWork
from domain.principal import Principal, PrincipalKind
from domain.use_cases.webhooks import record_webhooks, trial_data


@dataclass(frozen=True)
class StartSelfManagedTrial:
    name: str
    email: str
    company: str
    seats: int = 100
    days: int = 30


@dataclass(frozen=True)
class TrialStarted:
    subscription: Subscription
    trial: Trial
    activation_code: str


class StartSelfManagedTrialHandler:
    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        clock: Clock,
        new_code: Callable[[], str] = new_activation_code,
        webhook_attempts: int = DEFAULT_ATTEMPTS,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._new_code = new_code
        self._webhook_attempts = webhook_attempts

    async def __call__(self, command: StartSelfManagedTrial) -> TrialStarted:
        email = validate_email(command.email, path=("email",))
        name = validate_text(command.name, "name")
        company = validate_text(command.company, "company")
        now = self._clock.now()
        today = now.date()
        code = self._new_code()
        async with self._unit_of_work() as uow:
            if await uow.trials.email_used(email, TrialType.ULTIMATE):
                raise TrialAlreadyUsed("only one trial per email and type", path=("email",))
            customer = Customer(company, name, email, now)
            await uow.customers.add(customer)
            subscription = Subscription(
                name=await uow.subscriptions.next_name(),
                customer_id=customer.id,
                deployment=Deployment.SELF_MANAGED,
                plan=Plan.ULTIMATE,
                channel=Channel.WEB_DIRECT,
                terms=(
                    Term((Segment(today, today + timedelta(days=command.days), command.seats),)),
                ),
                licensing_mode=LicensingMode.ONLINE_CLOUD,
                auto_renew=False,
                created_at=now,
            )
            await uow.subscriptions.add(subscription)
            trial = Trial(
                type=TrialType.ULTIMATE,
                starts_on=subscription.start_date,
                ends_on=subscription.end_date,
                created_at=now,
                subscription_id=subscription.id,
                email=email,
            )
            await uow.trials.add(trial)  # the unique index settles a race between two
            await uow.activation_codes.set(subscription.id, hash_activation_code(code), now)
            await record_webhooks(
                uow,
                WebhookEventType.TRIAL_STARTED,
                subscription,
                now,
                trial_data(trial, None),
                max_attempts=self._webhook_attempts,
            )
            await uow.audit.record(
                AuditEntry.of(
                    Principal(PrincipalKind.ANONYMOUS, subject=email),
                    "startSelfManagedTrial",
                    "Subscription",
                    subscription.id,
                    now,
                    after={"name": subscription.name, "plan": "ULTIMATE", "trial": True},
                )
            )
            await uow.commit()
        return TrialStarted(subscription, trial, code)

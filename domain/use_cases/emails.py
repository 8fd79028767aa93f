"""The lifecycle emails: what each event sends, to whom, and the key that makes it once.

Producers call these inside their own unit of work, so the EMAIL row commits with the change
or not at all. Every row carries a ``once`` key naming the fact it reports and is recorded with
``Outbox.record_once``: an idempotent replay (which does not run the change again), a repeated
report, or two overlapping job runs never record a second email about the same fact.

| email | once key |
|---|---|
| subscription_renewed | ``subscription_renewed:<subscription>:<new term start>`` |
| subscription_cancelled | ``subscription_cancelled:<subscription>:<now|period_end>`` |
| trial_started | ``trial_started:<trial>:<owner email>`` |
| seat_overage | ``seat_overage:<subscription>:<term start>`` (once per term) |
| trial_ending_soon | ``trial_ending_soon:<trial>:<ends_on>:<owner email>`` |
| subscription_expiring | ``subscription_expiring:<subscription>:<ends_on>`` |
| instance_stopped_syncing | ``instance_stopped_syncing:<instance>:<last sync>`` |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.model.email import EmailTemplate, email_event
from domain.model.enums import SubscriptionStatus, TrialType
from domain.model.namespace import Namespace
from domain.model.subscription import Subscription
from domain.model.trial import Trial
from domain.ports import Clock, UnitOfWork
from domain.use_cases.fleet import remind_stopped_syncing

TRIAL_NAMES = {
    TrialType.ULTIMATE: "GitLab Ultimate trial",
    TrialType.ULTIMATE_ON_PREMIUM: "GitLab Ultimate trial",
    TrialType.DUO_ENTERPRISE: "GitLab Duo Enterprise trial",
}


async def _to_customer(
    uow: UnitOfWork,
    subscription: Subscription,
    template: EmailTemplate,
    context: dict[str, object],
    *,
    once: str,
    now: datetime,
    max_attempts: int,
) -> bool:
    customer = await uow.customers.get(subscription.customer_id)
    if customer is None:
        return False
    return await uow.outbox.record_once(
        email_event(
            template,
            customer.contact_email,
            {
                "subscription_name": subscription.name,
                "contact_name": customer.contact_name,
                "company": customer.company,
                **context,
            },
            now=now,
            max_attempts=max_attempts,
            subscription_id=subscription.id,
            once=once,
        )
    )


async def subscription_renewed(
    uow: UnitOfWork, subscription: Subscription, now: datetime, max_attempts: int = 8
) -> bool:
    """The customer's contact hears of the new (last) term."""
    term = subscription.terms[-1]
    return await _to_customer(
        uow,
        subscription,
        EmailTemplate.SUBSCRIPTION_RENEWED,
        {
            "starts_on": term.start_date.isoformat(),
            "ends_on": term.end_date.isoformat(),
            "seats": term.segments[0].seats,
        },
        once=f"subscription_renewed:{subscription.id}:{term.start_date.isoformat()}",
        now=now,
        max_attempts=max_attempts,
    )


async def subscription_cancelled(
    uow: UnitOfWork, subscription: Subscription, now: datetime, max_attempts: int = 8
) -> bool:
    """The customer's contact hears when the cancellation takes effect."""
    immediately = subscription.cancelled_at is not None
    effective = now.date() if immediately else subscription.end_date
    return await _to_customer(
        uow,
        subscription,
        EmailTemplate.SUBSCRIPTION_CANCELLED,
        {"effective_on": effective.isoformat(), "immediately": immediately},
        once=f"subscription_cancelled:{subscription.id}:{'now' if immediately else 'period_end'}",
        now=now,
        max_attempts=max_attempts,
    )


async def seat_overage(
    uow: UnitOfWork,
    subscription: Subscription,
    max_seats_used: int,
    now: datetime,
    max_attempts: int = 8,
) -> bool:
    """When usage first exceeds the seats in a term, the customer's contact hears of it once
    for that term (later, larger reports in the same term send nothing)."""
    today = now.date()
    if subscription.status(today) is not SubscriptionStatus.ACTIVE:
        return False
    seats = subscription.seats(today)
    if max_seats_used <= seats:
        return False
    term = subscription.current_term(today)
    return await _to_customer(
        uow,
        subscription,
        EmailTemplate.SEAT_OVERAGE,
        {"seats": seats, "max_seats_used": max_seats_used, "overage": max_seats_used - seats},
        once=f"seat_overage:{subscription.id}:{term.start_date.isoformat()}",
        now=now,
        max_attempts=max_attempts,
    )


async def _to_owners(
    uow: UnitOfWork,
    namespace: Namespace,
    trial: Trial,
    template: EmailTemplate,
    context: dict[str, object],
    once: str,
    now: datetime,
    max_attempts: int,
) -> int:
    sent = 0
    for email in namespace.owner_emails:
        sent += await uow.outbox.record_once(
            email_event(
                template,
                email,
                {
                    "contact_name": email,
                    "trial_name": TRIAL_NAMES[trial.type],
                    "target": namespace.path,
                    "ends_on": trial.ends_on.isoformat(),
                    **context,
                },
                now=now,
                max_attempts=max_attempts,
                namespace_id=namespace.id,
                once=f"{once}:{email.lower()}",
            )
        )
    return sent


async def trial_started(
    uow: UnitOfWork, namespace: Namespace, trial: Trial, now: datetime, max_attempts: int = 8
) -> int:
    """Each owner of the group hears of the trial (none when GitLab sent no owner emails)."""
    days_left = (trial.ends_on - now.date()).days
    return await _to_owners(
        uow,
        namespace,
        trial,
        EmailTemplate.TRIAL_STARTED,
        {"days_left": days_left},
        f"trial_started:{trial.id}",
        now,
        max_attempts,
    )


@dataclass(frozen=True)
class ReminderSettings:
    trial_ending_days: int = 7
    subscription_expiring_days: int = 30
    max_attempts: int = 8
    instance_stale_days: int = 7


class Reminders:
    """The scheduled sweeps: trials ending within N days, subscriptions ending within N days
    that will not renew. A sweep catches up by itself (everything inside the window not told
    yet), and the once keys make overlapping runs and the next day's run send nothing new."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        clock: Clock,
        settings: ReminderSettings | None = None,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._settings = settings or ReminderSettings()

    async def trials_ending_soon(self) -> int:
        now = self._clock.now()
        today = now.date()
        last = today + timedelta(days=self._settings.trial_ending_days)
        sent = 0
        async with self._unit_of_work() as uow:
            for trial in await uow.trials.ending_between(today + timedelta(days=1), last):
                assert trial.namespace_id is not None
                namespace = await uow.namespaces.get(trial.namespace_id)
                if namespace is None:
                    continue
                sent += await _to_owners(
                    uow,
                    namespace,
                    trial,
                    EmailTemplate.TRIAL_ENDING_SOON,
                    {"days_left": (trial.ends_on - today).days},
                    f"trial_ending_soon:{trial.id}:{trial.ends_on.isoformat()}",
                    now,
                    self._settings.max_attempts,
                )
            await uow.commit()
        return sent

    async def subscriptions_expiring(self) -> int:
        now = self._clock.now()
        today = now.date()
        last = today + timedelta(days=self._settings.subscription_expiring_days)
        sent = 0
        async with self._unit_of_work() as uow:
            for sub in await uow.subscriptions.ending_without_renewal(
                today + timedelta(days=1), last
            ):
                sent += await _to_customer(
                    uow,
                    sub,
                    EmailTemplate.SUBSCRIPTION_EXPIRING,
                    {
                        "ends_on": sub.end_date.isoformat(),
                        "days_left": (sub.end_date - today).days,
                        "auto_renew": sub.will_renew,
                    },
                    once=f"subscription_expiring:{sub.id}:{sub.end_date.isoformat()}",
                    now=now,
                    max_attempts=self._settings.max_attempts,
                )
            await uow.commit()
        return sent

    async def instances_stopped_syncing(self) -> int:
        """One email per instance and silence (docs/instances.md)."""
        async with self._unit_of_work() as uow:
            sent = await remind_stopped_syncing(
                uow,
                self._clock.now(),
                self._settings.instance_stale_days,
                self._settings.max_attempts,
            )
            await uow.commit()
        return sent

"""Namespace trials (DESIGN §2 Trial): apply (portal owner/admin, GitLab.com, staff), ask for
eligibility, extend and reactivate (staff, once each), and the expiry job that reverts ended
trials by itself. Every change records its GitLab.com provisioning in the ledger and an audit
entry, in the same transaction."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from domain.errors import DomainError, Forbidden, NotFound
from domain.model.audit import AuditEntry
from domain.model.enums import TrialType
from domain.model.idempotency import check_idempotency_key
from domain.model.namespace import Namespace
from domain.model.provision_event import ProvisionEvent
from domain.model.provisioning import namespace_provision, provision_body, trial_body
from domain.model.trial import Trial
from domain.model.trial_rules import (
    DEFAULT_LENGTHS,
    active_plan_trial,
    eligible_when_never_seen,
    extend,
    reactivate,
    reverts_to,
    same_application,
    trial_dates,
    why_not,
)
from domain.model.webhook import DEFAULT_ATTEMPTS, WebhookEventType
from domain.policy import Access, Resource, require_scope
from domain.ports import Clock, UnitOfWork
from domain.principal import Principal, PrincipalKind
from domain.use_cases.emails import trial_started
from domain.use_cases.keyed import replay_or_run
from domain.use_cases.link_namespace import may_see_namespace, owns
from domain.use_cases.webhooks import record_namespace_event, trial_data

APPLIERS = (PrincipalKind.STAFF, PrincipalKind.GITLAB_COM, PrincipalKind.PORTAL_USER)


@dataclass(frozen=True)
class ApplyTrial:
    namespace_id: uuid.UUID
    type: TrialType
    idempotency_key: str | None = None
    with_plan_trial: bool = False
    """The Duo Enterprise part of a combined trial: it takes the plan trial's dates."""
    repeat_is_same: bool = False
    """An active trial of this type is this application repeated (GitLab.com retrying): it
    is answered with that trial (``repeated``) instead of "had a trial already"."""


@dataclass(frozen=True)
class Eligibility:
    namespace: Namespace
    type: TrialType
    reason: DomainError | None

    @property
    def eligible(self) -> bool:
        return self.reason is None


@dataclass(frozen=True)
class TrialChanged:
    trial: Trial
    namespace: Namespace
    replayed: bool = False
    repeated: bool = False


@dataclass
class TrialSettings:
    lengths: Mapping[TrialType, timedelta] = field(default_factory=lambda: dict(DEFAULT_LENGTHS))
    max_attempts: int = 8


class Trials:
    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        clock: Clock,
        settings: TrialSettings | None = None,
        webhook_attempts: int = DEFAULT_ATTEMPTS,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._settings = settings or TrialSettings()
        self._webhook_attempts = webhook_attempts

    def _event(
        self, namespace: Namespace, body: dict[str, object], now: datetime
    ) -> ProvisionEvent:
        return namespace_provision(namespace, body, now, self._settings.max_attempts)

    @staticmethod
    def _may_ask(principal: Principal, namespace: Namespace) -> bool:
        """Whether the caller may ask for this group: its owner, or a service (GitLab.com
        asks on behalf of its owner; staff may)."""
        if principal.kind is PrincipalKind.PORTAL_USER:
            return owns(principal, namespace)
        return True

    async def apply(self, principal: Principal, command: ApplyTrial) -> TrialChanged:
        require_scope(principal, Resource.TRIALS, Access.WRITE)
        if principal.kind not in APPLIERS:
            raise Forbidden("trials are asked for by a group's owner, GitLab.com or staff")
        key = check_idempotency_key(command.idempotency_key)
        request = {"namespace": str(command.namespace_id), "type": command.type.value}
        async with self._unit_of_work() as uow:
            repeated = False

            async def start() -> dict[str, str]:
                nonlocal repeated
                now = self._clock.now()
                today = now.date()
                # Locked: applications for one group queue, so only one of a type can pass.
                namespace = await uow.namespaces.lock(command.namespace_id)
                if namespace is None or not await may_see_namespace(uow, principal, namespace):
                    raise NotFound("no such namespace", path=("namespaceId",))
                trials = list(await uow.trials.for_namespace(namespace.id))
                owner = self._may_ask(principal, namespace)
                earlier = same_application(trials, command.type, today)
                if command.repeat_is_same and owner and earlier is not None:
                    repeated = True
                    return {"trial": str(earlier.id)}
                reason = why_not(namespace, trials, command.type, today, owner=owner)
                if reason is not None:
                    raise reason
                starts_on, ends_on = trial_dates(
                    command.type,
                    today,
                    self._settings.lengths[command.type],
                    active_plan_trial(trials, today) if command.with_plan_trial else None,
                )
                trial = Trial(
                    type=command.type,
                    starts_on=starts_on,
                    ends_on=ends_on,
                    created_at=now,
                    namespace_id=namespace.id,
                    reverts_to=reverts_to(command.type, namespace.base_plan),
                )
                await uow.trials.add(trial)
                await trial_started(uow, namespace, trial, now, self._settings.max_attempts)
                linked = await uow.subscriptions.linked_to(namespace.id)
                await uow.outbox.record(
                    self._event(namespace, trial_body(namespace, trial, linked, today), now)
                )
                await record_namespace_event(
                    uow,
                    WebhookEventType.TRIAL_STARTED,
                    namespace,
                    trial_data(trial, namespace),
                    now,
                    linked=linked,
                    max_attempts=self._webhook_attempts,
                )
                await uow.audit.record(
                    AuditEntry.of(
                        principal,
                        "applyTrial",
                        "Trial",
                        trial.id,
                        now,
                        after={
                            "namespace": namespace.gitlab_id,
                            "type": trial.type.value,
                            "endsOn": trial.ends_on.isoformat(),
                        },
                        idempotency_key=key,
                    )
                )
                return {"trial": str(trial.id)}

            result, replayed = await replay_or_run(
                uow, principal, "applyTrial", key, request, start, clock=self._clock
            )
            trial = await uow.trials.get(uuid.UUID(result["trial"]))
            assert trial is not None
            assert trial.namespace_id is not None
            namespace = await uow.namespaces.get(trial.namespace_id)
            await uow.commit()
        assert namespace is not None
        return TrialChanged(trial, namespace, replayed, repeated)

    async def eligibility(
        self,
        principal: Principal,
        namespace_ids: Sequence[uuid.UUID],
        types: Sequence[TrialType],
    ) -> list[Eligibility]:
        """Per namespace and type: eligible, or why not. Namespaces the caller may not see
        are left out (the caller passes only visible ids)."""
        require_scope(principal, Resource.TRIALS, Access.READ)
        today = self._clock.today()
        answers: list[Eligibility] = []
        async with self._unit_of_work() as uow:
            for namespace_id in namespace_ids:
                namespace = await uow.namespaces.get(namespace_id)
                if namespace is None:
                    continue
                trials = list(await uow.trials.for_namespace(namespace_id))
                owner = self._may_ask(principal, namespace)
                for trial_type in types:
                    answers.append(
                        Eligibility(
                            namespace,
                            trial_type,
                            why_not(namespace, trials, trial_type, today, owner=owner),
                        )
                    )
        return answers

    def eligible_when_never_seen(self, types: Sequence[TrialType]) -> list[TrialType]:
        """The types a namespace Provision has never seen may have (GitLab.com asks about
        groups before it sends them): those of a free top-level group with no trials."""
        today = self._clock.today()
        return [t for t in types if eligible_when_never_seen(t, today)]

    async def _change(
        self,
        principal: Principal,
        trial_id: uuid.UUID,
        action: str,
        change: Callable[[Trial, Namespace, date], None],
    ) -> TrialChanged:
        require_scope(principal, Resource.TRIALS, Access.WRITE)
        if principal.kind is not PrincipalKind.STAFF:
            raise Forbidden("staff extend and reactivate trials")
        async with self._unit_of_work() as uow:
            now = self._clock.now()
            today = now.date()
            trial = await uow.trials.get(trial_id)
            if trial is None or trial.namespace_id is None:
                raise NotFound("no such namespace trial", path=("trialId",))
            namespace = await uow.namespaces.lock(trial.namespace_id)
            assert namespace is not None
            before = {"startsOn": trial.starts_on.isoformat(), "endsOn": trial.ends_on.isoformat()}
            change(trial, namespace, today)
            await uow.trials.save(trial)
            linked = await uow.subscriptions.linked_to(namespace.id)
            await uow.outbox.record(
                self._event(namespace, trial_body(namespace, trial, linked, today), now)
            )
            await uow.audit.record(
                AuditEntry.of(
                    principal,
                    action,
                    "Trial",
                    trial.id,
                    now,
                    before=before,
                    after={
                        "startsOn": trial.starts_on.isoformat(),
                        "endsOn": trial.ends_on.isoformat(),
                    },
                )
            )
            await uow.commit()
        return TrialChanged(trial, namespace)

    async def extend(self, principal: Principal, trial_id: uuid.UUID) -> TrialChanged:
        def change(trial: Trial, namespace: Namespace, today: date) -> None:
            extend(trial, self._settings.lengths[trial.type], today)

        return await self._change(principal, trial_id, "extendTrial", change)

    async def reactivate(self, principal: Principal, trial_id: uuid.UUID) -> TrialChanged:
        def change(trial: Trial, namespace: Namespace, today: date) -> None:
            reactivate(trial, namespace, self._settings.lengths[trial.type], today)

        return await self._change(principal, trial_id, "reactivateTrial", change)

    async def expire(self, today: date, batch: int = 100) -> list[Trial]:
        """The scheduled job: revert every namespace trial that ended by ``today``. Each trial
        is claimed by one statement, so two workers running this at once revert it once."""
        reverted: list[Trial] = []
        while True:
            async with self._unit_of_work() as uow:
                now = self._clock.now()
                claimed = list(await uow.trials.claim_ended(today, batch))
                for trial in claimed:
                    assert trial.namespace_id is not None
                    namespace = await uow.namespaces.get(trial.namespace_id)
                    if namespace is None or trial.reverts_to is None:
                        continue  # add-on trials end on GitLab.com by their own dates
                    linked = await uow.subscriptions.linked_to(namespace.id)
                    await uow.outbox.record(
                        self._event(namespace, provision_body(namespace, linked, today), now)
                    )
                    await record_namespace_event(
                        uow,
                        WebhookEventType.TRIAL_ENDED,
                        namespace,
                        {
                            **trial_data(trial, namespace),
                            "reverts_to": trial.reverts_to.value,
                        },
                        now,
                        linked=linked,
                        max_attempts=self._webhook_attempts,
                    )
                    await uow.audit.record(
                        AuditEntry.of(
                            Principal(PrincipalKind.STAFF, subject="provision:trial-expiry"),
                            "expireTrial",
                            "Trial",
                            trial.id,
                            now,
                            after={"revertsTo": trial.reverts_to.value},
                        )
                    )
                await uow.commit()
            reverted += claimed
            if len(claimed) < batch:
                return reverted

"""Who gets which trial (DESIGN §2 Trial, protocol §5): each rule answers with the reason
why not, never just no."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

from domain.errors import (
    AlreadyUltimate,
    DomainError,
    NamespaceNotTopLevel,
    NotNamespaceOwner,
    TrialAlreadyExtended,
    TrialAlreadyReactivated,
    TrialAlreadyUsed,
    TrialNotActive,
    TrialNotExpired,
    TrialRequiresFreePlan,
    TrialRequiresPremiumPlan,
)
from domain.model.enums import NamespaceKind, NamespacePlan, TrialType
from domain.model.namespace import Namespace
from domain.model.trial import Trial

ULTIMATE_PLANS = (
    NamespacePlan.ULTIMATE,
    NamespacePlan.ULTIMATE_TRIAL,
    NamespacePlan.ULTIMATE_TRIAL_PAID_CUSTOMER,
)
DEFAULT_LENGTHS = {
    TrialType.ULTIMATE: timedelta(days=30),
    TrialType.ULTIMATE_ON_PREMIUM: timedelta(days=30),
    TrialType.DUO_ENTERPRISE: timedelta(days=60),
}


def why_not(
    namespace: Namespace,
    trials: Sequence[Trial],
    trial_type: TrialType,
    today: date,
    *,
    owner: bool = True,
) -> DomainError | None:
    """None when the namespace may have this trial; else the reason, as an error to raise or
    to show. ``owner`` is whether the asking person owns the group (True for services)."""
    if namespace.kind is not NamespaceKind.GROUP or not namespace.top_level:
        return NamespaceNotTopLevel("only top-level groups get trials", path=("namespaceId",))
    if not owner:
        return NotNamespaceOwner("you do not own this group", path=("namespaceId",))
    if any(t.type is trial_type for t in trials):
        return TrialAlreadyUsed(
            f"this group had a {trial_type.value} trial already", path=("type",)
        )
    if trial_type in (TrialType.ULTIMATE, TrialType.ULTIMATE_ON_PREMIUM):
        if namespace.effective_plan(list(trials), today) in ULTIMATE_PLANS:
            return AlreadyUltimate("the group is on Ultimate already", path=("type",))
        if trial_type is TrialType.ULTIMATE and namespace.base_plan is not NamespacePlan.FREE:
            return TrialRequiresFreePlan(
                "a paid group gets the ULTIMATE_ON_PREMIUM trial", path=("type",)
            )
        if (
            trial_type is TrialType.ULTIMATE_ON_PREMIUM
            and namespace.base_plan is not NamespacePlan.PREMIUM
        ):
            return TrialRequiresPremiumPlan(
                "ULTIMATE_ON_PREMIUM is for groups on paid Premium", path=("type",)
            )
    return None


def trial_dates(
    trial_type: TrialType, today: date, length: timedelta, plan_trial: Trial | None = None
) -> tuple[date, date]:
    """When a new trial starts and ends: ``length`` from today. The add-on of a combined trial
    (Ultimate with Duo Enterprise, asked for in one request) runs with the plan trial it came
    with, ``plan_trial``: both start and end on the same days, as GitLab shows them as one."""
    if trial_type is TrialType.DUO_ENTERPRISE and plan_trial is not None:
        return plan_trial.starts_on, plan_trial.ends_on
    return today, today + length


def active_plan_trial(trials: Sequence[Trial], today: date) -> Trial | None:
    """The group's latest active Ultimate (or Ultimate on Premium) trial, if any."""
    active = [t for t in trials if t.type is not TrialType.DUO_ENTERPRISE and t.is_active(today)]
    return max(active, key=lambda t: t.created_at, default=None)


def same_application(trials: Sequence[Trial], trial_type: TrialType, today: date) -> Trial | None:
    """The group's active trial of ``trial_type``, if it has one: GitLab.com asking for it
    again is the same application repeated (its first answer failed or was lost), not a
    second trial; the repeat is answered by finishing the first one's provisioning."""
    active = [t for t in trials if t.type is trial_type and t.is_active(today)]
    return max(active, key=lambda t: t.created_at, default=None)


def eligible_when_never_seen(trial_type: TrialType, today: date) -> bool:
    """Whether a namespace Provision has never seen may have ``trial_type``. GitLab.com asks
    about groups before it has sent them: such a group is a free top-level group with no trial
    history here, and is answered as one (the same rule, on that group)."""
    unseen = Namespace(
        gitlab_id=1,
        path="unseen",
        name="unseen",
        kind=NamespaceKind.GROUP,
        created_at=datetime.combine(today, time(), tzinfo=UTC),
    )
    return why_not(unseen, (), trial_type, today) is None


def reverts_to(trial_type: TrialType, base_plan: NamespacePlan) -> NamespacePlan | None:
    """The plan a group falls back to when the trial ends: exactly the one it had (an
    Ultimate trial on Premium goes back to Premium, never to Free); add-on trials change no
    plan."""
    if trial_type is TrialType.DUO_ENTERPRISE:
        return None
    return base_plan


def _once(trial: Trial) -> None:
    # GitLab's rule: a trial is extended or reactivated once, not both (protocol §5).
    if trial.extended:
        raise TrialAlreadyExtended("the trial was extended before", path=("trialId",))
    if trial.reactivated:
        raise TrialAlreadyReactivated("the trial was reactivated before", path=("trialId",))


def extend(trial: Trial, length: timedelta, today: date) -> None:
    """Staff extend an active trial, once (and not one that was reactivated)."""
    _once(trial)
    if not trial.is_active(today):
        raise TrialNotActive("only an active trial is extended", path=("trialId",))
    trial.ends_on = trial.ends_on + length
    trial.extended = True


def reactivate(trial: Trial, namespace: Namespace, length: timedelta, today: date) -> None:
    """Staff reactivate an expired trial on a free group, once (and not one that was
    extended): it runs again from today."""
    _once(trial)
    if trial.is_active(today) or today < trial.starts_on:
        raise TrialNotExpired("the trial has not ended", path=("trialId",))
    if namespace.base_plan is not NamespacePlan.FREE:
        raise TrialNotExpired("only a trial on a free group is reactivated", path=("trialId",))
    trial.starts_on = today
    trial.ends_on = today + length
    trial.reactivated = True

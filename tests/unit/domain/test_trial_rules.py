"""Trial rules: the eligibility matrix (plan, history, kind, ownership), the reversion
target, and the extension and reactivation limits."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest

from domain.errors import (
    TrialAlreadyExtended,
    TrialAlreadyReactivated,
    TrialNotActive,
    TrialNotExpired,
)
from domain.model.enums import NamespaceKind, NamespacePlan, TrialType
from domain.model.namespace import Namespace
from domain.model.trial import Trial
from domain.model.trial_rules import (
    DEFAULT_LENGTHS,
    active_plan_trial,
    extend,
    reactivate,
    reverts_to,
    same_application,
    trial_dates,
    why_not,
)

TODAY = date(2026, 11, 30)
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
GROUP = Namespace(gitlab_id=1, path="g", name="G", kind=NamespaceKind.GROUP, created_at=NOW)


def _trial(trial_type: TrialType, *, days_ago: int = 0, length: int = 30) -> Trial:
    start = TODAY - timedelta(days=days_ago)
    return Trial(
        type=trial_type,
        starts_on=start,
        ends_on=start + timedelta(days=length),
        created_at=NOW,
        namespace_id=GROUP.id,
    )


U, UP, DUO = TrialType.ULTIMATE, TrialType.ULTIMATE_ON_PREMIUM, TrialType.DUO_ENTERPRISE
FREE, PREMIUM, ULTIMATE = NamespacePlan.FREE, NamespacePlan.PREMIUM, NamespacePlan.ULTIMATE


@pytest.mark.parametrize(
    ("plan", "history", "asked", "expected"),
    [
        (FREE, [], U, None),
        (FREE, [], UP, "TRIAL_REQUIRES_PREMIUM_PLAN"),
        (FREE, [], DUO, None),
        (PREMIUM, [], U, "TRIAL_REQUIRES_FREE_PLAN"),
        (PREMIUM, [], UP, None),
        (PREMIUM, [], DUO, None),
        (ULTIMATE, [], U, "ALREADY_ULTIMATE"),
        (ULTIMATE, [], UP, "ALREADY_ULTIMATE"),
        (ULTIMATE, [], DUO, None),
        (FREE, [U], U, "TRIAL_ALREADY_USED"),  # active or not, once per type
        (FREE, ["old U"], U, "TRIAL_ALREADY_USED"),
        (FREE, [DUO], U, None),
        (FREE, [DUO], DUO, "TRIAL_ALREADY_USED"),
        (PREMIUM, [UP], DUO, None),
        (PREMIUM, ["old UP"], UP, "TRIAL_ALREADY_USED"),
        (PREMIUM, [U], UP, "ALREADY_ULTIMATE"),  # an active Ultimate trial shows Ultimate
    ],
)
def test_eligibility_by_plan_and_history(
    plan: NamespacePlan, history: list[object], asked: TrialType, expected: str | None
) -> None:
    namespace = dataclasses.replace(GROUP, base_plan=plan)
    trials = []
    for item in history:
        if isinstance(item, TrialType):
            trials.append(_trial(item))
        else:  # "old X": a trial of type X that ended long ago
            assert isinstance(item, str)
            old = {"U": TrialType.ULTIMATE, "UP": TrialType.ULTIMATE_ON_PREMIUM}[item[4:]]
            trials.append(_trial(old, days_ago=90))
    reason = why_not(namespace, trials, asked, TODAY)
    assert (reason.code if reason else None) == expected


@pytest.mark.parametrize(
    ("namespace", "owner", "expected"),
    [
        (dataclasses.replace(GROUP, parent_gitlab_id=9), True, "NAMESPACE_NOT_TOP_LEVEL"),
        (dataclasses.replace(GROUP, kind=NamespaceKind.USER), True, "NAMESPACE_NOT_TOP_LEVEL"),
        (GROUP, False, "NOT_NAMESPACE_OWNER"),
        (GROUP, True, None),
    ],
)
def test_eligibility_by_kind_and_ownership(
    namespace: Namespace, owner: bool, expected: str | None
) -> None:
    reason = why_not(namespace, [], TrialType.ULTIMATE, TODAY, owner=owner)
    assert (reason.code if reason else None) == expected


def test_a_group_reverts_to_exactly_its_base_plan() -> None:
    assert reverts_to(U, FREE) is FREE
    assert reverts_to(UP, PREMIUM) is PREMIUM  # never to Free
    assert reverts_to(DUO, PREMIUM) is None  # add-on trials change no plan


def test_extend_once_and_only_while_active() -> None:
    trial = _trial(U, days_ago=10)
    extend(trial, timedelta(days=30), TODAY)
    assert trial.ends_on == TODAY + timedelta(days=50)
    with pytest.raises(TrialAlreadyExtended):
        extend(trial, timedelta(days=30), TODAY)
    with pytest.raises(TrialNotActive):
        extend(_trial(U, days_ago=40), timedelta(days=30), TODAY)


def test_reactivate_once_only_expired_and_only_on_a_free_group() -> None:
    with pytest.raises(TrialNotExpired):
        reactivate(_trial(U, days_ago=5), GROUP, timedelta(days=30), TODAY)
    with pytest.raises(TrialNotExpired):
        reactivate(
            _trial(UP, days_ago=40),
            dataclasses.replace(GROUP, base_plan=PREMIUM),
            timedelta(days=30),
            TODAY,
        )
    trial = _trial(U, days_ago=40)
    reactivate(trial, GROUP, timedelta(days=30), TODAY)
    assert (trial.starts_on, trial.ends_on, trial.reactivated) == (
        TODAY,
        TODAY + timedelta(days=30),
        True,
    )
    trial.ends_on = TODAY  # ended again
    with pytest.raises(TrialAlreadyReactivated):
        reactivate(trial, GROUP, timedelta(days=30), TODAY + timedelta(days=1))
    with pytest.raises(TrialAlreadyReactivated):  # once, and not both (GitLab's rule)
        extend(_reactivated_and_active(), timedelta(days=30), TODAY)
    extended = _trial(U, days_ago=10)
    extend(extended, timedelta(days=1), TODAY)
    extended.ends_on = TODAY
    with pytest.raises(TrialAlreadyExtended):
        reactivate(extended, GROUP, timedelta(days=30), TODAY + timedelta(days=1))


def _reactivated_and_active() -> Trial:
    trial = _trial(U, days_ago=1)
    trial.reactivated = True
    return trial


def test_a_trial_that_has_not_started_is_not_reactivated() -> None:
    tomorrow = _trial(U, days_ago=-1)  # starts tomorrow: not active, yet not ended either
    assert not tomorrow.is_active(TODAY)
    with pytest.raises(TrialNotExpired):
        reactivate(tomorrow, GROUP, timedelta(days=30), TODAY)
    assert (tomorrow.starts_on, tomorrow.reactivated) == (TODAY + timedelta(days=1), False)
    ended = _trial(U, days_ago=30)  # its end date is today: ended
    reactivate(ended, GROUP, timedelta(days=30), TODAY)
    assert ended.reactivated


def test_the_add_on_of_a_combined_trial_runs_with_the_plan_trial() -> None:
    ultimate = _trial(U, days_ago=0, length=30)
    assert trial_dates(DUO, TODAY, DEFAULT_LENGTHS[DUO], ultimate) == (
        ultimate.starts_on,
        ultimate.ends_on,
    )
    # Alone, the add-on trial runs its own length (60 days); a plan trial ignores the argument.
    assert trial_dates(DUO, TODAY, DEFAULT_LENGTHS[DUO]) == (TODAY, TODAY + timedelta(days=60))
    assert trial_dates(U, TODAY, DEFAULT_LENGTHS[U], ultimate) == (
        TODAY,
        TODAY + timedelta(days=30),
    )


def test_the_plan_trial_a_combined_add_on_follows_is_the_active_one() -> None:
    ended = _trial(U, days_ago=40)
    duo = _trial(DUO)
    assert active_plan_trial([ended, duo], TODAY) is None
    current = _trial(UP, days_ago=1)
    assert active_plan_trial([ended, duo, current], TODAY) is current


def test_asking_again_for_an_active_trial_is_the_same_application() -> None:
    active, ended = _trial(U, days_ago=2), _trial(DUO, days_ago=70, length=60)
    assert same_application([active, ended], U, TODAY) is active
    assert same_application([active, ended], DUO, TODAY) is None  # had, and over: refused
    assert same_application([active], UP, TODAY) is None

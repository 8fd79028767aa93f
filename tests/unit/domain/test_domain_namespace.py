"""Namespace: Provision's copy of a GitLab.com group, its base plan and trial overlays."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from domain.errors import ValidationFailed
from domain.model.enums import NamespaceKind, NamespacePlan, TrialType
from domain.model.namespace import Namespace, NamespaceUsage
from domain.model.trial import Trial

from fakes import FixedClock

CLOCK = FixedClock.on(date(2025, 3, 1))


def namespace(**overrides: Any) -> Namespace:
    fields: dict[str, Any] = {
        "gitlab_id": 42,
        "path": "acme",
        "name": "Acme",
        "kind": NamespaceKind.GROUP,
        "created_at": CLOCK.now(),
    }
    fields.update(overrides)
    return Namespace(**fields)


def trial_on(group: Namespace, trial_type: TrialType, starts_on: date, days: int = 30) -> Trial:
    return Trial(
        type=trial_type,
        starts_on=starts_on,
        ends_on=starts_on + timedelta(days=days),
        created_at=CLOCK.now(),
        namespace_id=group.id,
    )


@pytest.mark.parametrize("gitlab_id", [0, -7])
def test_gitlab_id_is_positive(gitlab_id: int) -> None:
    with pytest.raises(ValidationFailed) as raised:
        namespace(gitlab_id=gitlab_id)
    assert raised.value.code == "VALIDATION_FAILED"
    assert raised.value.path == ("gitlabId",)


@pytest.mark.parametrize("path", ["", "   "])
def test_path_is_required(path: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        namespace(path=path)
    assert raised.value.path == ("path",)


def test_namespace_is_not_its_own_parent() -> None:
    with pytest.raises(ValidationFailed) as raised:
        namespace(gitlab_id=42, parent_gitlab_id=42)
    assert raised.value.path == ("parentGitlabId",)


def test_top_level_is_a_namespace_without_parent() -> None:
    assert namespace().top_level
    assert not namespace(gitlab_id=43, parent_gitlab_id=42).top_level


@pytest.mark.parametrize(
    "plan", [NamespacePlan.ULTIMATE_TRIAL, NamespacePlan.ULTIMATE_TRIAL_PAID_CUSTOMER]
)
def test_trial_plan_is_never_a_base_plan(plan: NamespacePlan) -> None:
    with pytest.raises(ValidationFailed):
        namespace(base_plan=plan)


def test_base_plan_defaults_to_free() -> None:
    assert namespace().base_plan is NamespacePlan.FREE


@pytest.mark.parametrize("plan", [NamespacePlan.PREMIUM, NamespacePlan.ULTIMATE])
def test_without_trials_the_effective_plan_is_the_base_plan(plan: NamespacePlan) -> None:
    assert namespace(base_plan=plan).effective_plan([], CLOCK.today()) is plan


def test_active_ultimate_trial_shows_ultimate_trial_until_it_ends() -> None:
    group = namespace()
    trials = [trial_on(group, TrialType.ULTIMATE, date(2025, 2, 15))]
    clock = FixedClock.on(date(2025, 2, 15))
    assert group.effective_plan(trials, clock.today()) is NamespacePlan.ULTIMATE_TRIAL
    clock.set(date(2025, 3, 16))
    assert group.effective_plan(trials, clock.today()) is NamespacePlan.ULTIMATE_TRIAL
    clock.set(date(2025, 3, 17))
    assert group.effective_plan(trials, clock.today()) is NamespacePlan.FREE


def test_trial_not_yet_started_does_not_overlay() -> None:
    group = namespace()
    trials = [trial_on(group, TrialType.ULTIMATE, date(2025, 3, 2))]
    assert group.effective_plan(trials, CLOCK.today()) is NamespacePlan.FREE


def test_ultimate_on_premium_overlays_and_reverts_to_premium() -> None:
    group = namespace(base_plan=NamespacePlan.PREMIUM)
    trials = [trial_on(group, TrialType.ULTIMATE_ON_PREMIUM, date(2025, 2, 15))]
    clock = FixedClock.on(date(2025, 3, 1))
    assert group.effective_plan(trials, clock.today()) is (
        NamespacePlan.ULTIMATE_TRIAL_PAID_CUSTOMER
    )
    clock.advance(timedelta(days=30))
    assert group.effective_plan(trials, clock.today()) is NamespacePlan.PREMIUM


@pytest.mark.parametrize("base", [NamespacePlan.FREE, NamespacePlan.PREMIUM])
def test_add_on_trial_does_not_change_the_plan(base: NamespacePlan) -> None:
    group = namespace(base_plan=base)
    trials = [trial_on(group, TrialType.DUO_ENTERPRISE, date(2025, 2, 15), days=60)]
    assert trials[0].is_active(CLOCK.today())
    assert group.effective_plan(trials, CLOCK.today()) is base


def test_active_overlay_wins_over_expired_and_add_on_trials() -> None:
    group = namespace()
    trials = [
        trial_on(group, TrialType.ULTIMATE, date(2024, 1, 1)),
        trial_on(group, TrialType.DUO_ENTERPRISE, date(2025, 2, 15), days=60),
        trial_on(group, TrialType.ULTIMATE, date(2025, 2, 20)),
    ]
    assert group.effective_plan(trials, CLOCK.today()) is NamespacePlan.ULTIMATE_TRIAL


# NamespaceUsage


def usage(**overrides: int) -> NamespaceUsage:
    figures = {
        "billable_members": 5,
        "max_seats_used": 7,
        "compute_minutes_used": 400,
        "storage_used_bytes": 10**9,
    }
    figures.update(overrides)
    return NamespaceUsage(**figures, reported_at=CLOCK.now())


def test_usage_accepts_zeros() -> None:
    zero = usage(billable_members=0, max_seats_used=0, compute_minutes_used=0, storage_used_bytes=0)
    assert zero.max_seats_used == 0


@pytest.mark.parametrize(
    "figure", ["billable_members", "max_seats_used", "compute_minutes_used", "storage_used_bytes"]
)
def test_usage_refuses_negatives(figure: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        usage(**{figure: -1})
    assert raised.value.code == "VALIDATION_FAILED"

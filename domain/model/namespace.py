"""Namespace: our copy of a GitLab.com group or user namespace, kept current by GitLab.com."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime

from domain.errors import ValidationFailed
from domain.model.enums import NamespaceKind, NamespacePlan
from domain.model.ids import new_id
from domain.model.trial import Trial


@dataclass(frozen=True)
class NamespaceUsage:
    """The latest usage GitLab.com reported for a namespace."""

    billable_members: int
    max_seats_used: int
    compute_minutes_used: int
    storage_used_bytes: int
    reported_at: datetime

    def __post_init__(self) -> None:
        for attribute, field_name in (
            ("billable_members", "billableMembers"),
            ("max_seats_used", "maxSeatsUsed"),
            ("compute_minutes_used", "computeMinutesUsed"),
        ):
            if getattr(self, attribute) < 0:
                raise ValidationFailed(f"{field_name} must not be negative", path=(field_name,))
        if self.storage_used_bytes < 0:
            raise ValidationFailed("storage used must not be negative", path=("storageUsedBytes",))


@dataclass
class Namespace:
    """A GitLab.com namespace, identified by its GitLab id; its base plan is what it pays for."""

    gitlab_id: int
    path: str
    name: str
    kind: NamespaceKind
    created_at: datetime
    parent_gitlab_id: int | None = None
    owner_user_ids: tuple[int, ...] = ()
    owner_emails: tuple[str, ...] = ()
    base_plan: NamespacePlan = NamespacePlan.FREE
    usage: NamespaceUsage | None = None
    subscription_id: uuid.UUID | None = None
    id: uuid.UUID = field(default_factory=new_id)

    def __post_init__(self) -> None:
        if self.gitlab_id < 1:
            raise ValidationFailed("gitlabId must be a positive integer", path=("gitlabId",))
        if not self.path.strip():
            raise ValidationFailed("path must not be empty", path=("path",))
        if self.parent_gitlab_id == self.gitlab_id:
            raise ValidationFailed("a namespace cannot be its own parent", path=("parentGitlabId",))
        if self.base_plan in (
            NamespacePlan.ULTIMATE_TRIAL,
            NamespacePlan.ULTIMATE_TRIAL_PAID_CUSTOMER,
        ):
            raise ValidationFailed(
                "a trial plan is an overlay, never a base plan", path=("basePlan",)
            )

    @property
    def top_level(self) -> bool:
        return self.parent_gitlab_id is None

    def effective_plan(self, trials: list[Trial], today: date) -> NamespacePlan:
        """The base plan, or the plan of an active trial that overlays it."""
        for trial in trials:
            overlay = trial.plan_overlay
            if overlay is not None and trial.is_active(today):
                return overlay
        return self.base_plan


# GitLab's plan names and the base plan each stands for: a trial is an overlay on the plan
# under it (the paid-customer Ultimate trial runs on Premium); legacy metal names map to tiers.
_GITLAB_BASE_PLANS = {
    "free": NamespacePlan.FREE,
    "premium_trial": NamespacePlan.FREE,
    "ultimate_trial": NamespacePlan.FREE,
    "bronze": NamespacePlan.PREMIUM,
    "silver": NamespacePlan.PREMIUM,
    "premium": NamespacePlan.PREMIUM,
    "ultimate_trial_paid_customer": NamespacePlan.PREMIUM,
    "gold": NamespacePlan.ULTIMATE,
    "ultimate": NamespacePlan.ULTIMATE,
}


def base_plan_of(gitlab_plan: str) -> NamespacePlan | None:
    """The base plan GitLab.com's plan name stands for; None for a name not known here."""
    return _GITLAB_BASE_PLANS.get(gitlab_plan.strip().lower())

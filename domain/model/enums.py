"""The closed vocabularies of the domain (DESIGN §2)."""

from __future__ import annotations

from enum import StrEnum


class Plan(StrEnum):
    """A product tier a subscription sells."""

    FREE = "FREE"
    PREMIUM = "PREMIUM"
    ULTIMATE = "ULTIMATE"


class NamespacePlan(StrEnum):
    """The plan code GitLab.com shows on a namespace, trial overlays included."""

    FREE = "FREE"
    PREMIUM = "PREMIUM"
    ULTIMATE = "ULTIMATE"
    ULTIMATE_TRIAL = "ULTIMATE_TRIAL"
    ULTIMATE_TRIAL_PAID_CUSTOMER = "ULTIMATE_TRIAL_PAID_CUSTOMER"


class Deployment(StrEnum):
    """Where the product runs for the customer."""

    GITLAB_COM = "GITLAB_COM"
    SELF_MANAGED = "SELF_MANAGED"
    DEDICATED = "DEDICATED"


class Channel(StrEnum):
    """How the subscription was sold."""

    WEB_DIRECT = "WEB_DIRECT"
    SALES = "SALES"
    RESELLER = "RESELLER"
    MARKETPLACE = "MARKETPLACE"

    @property
    def needs_partner(self) -> bool:
        return self in (Channel.RESELLER, Channel.MARKETPLACE)


class LicensingMode(StrEnum):
    """How a self-managed instance receives its license."""

    ONLINE_CLOUD = "ONLINE_CLOUD"
    OFFLINE_CLOUD = "OFFLINE_CLOUD"
    LEGACY = "LEGACY"

    @property
    def is_cloud(self) -> bool:
        """Online and offline cloud licenses are both cloud licenses (GitLab's flags)."""
        return self in (LicensingMode.ONLINE_CLOUD, LicensingMode.OFFLINE_CLOUD)

    @property
    def is_offline_cloud(self) -> bool:
        return self is LicensingMode.OFFLINE_CLOUD


class SubscriptionStatus(StrEnum):
    """A subscription's status, always derived from its dates and cancellation."""

    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    EXPIRED = "EXPIRED"
    CANCELLED = "CANCELLED"


class TrialType(StrEnum):
    """The kinds of trial a namespace or an email may get."""

    ULTIMATE = "ULTIMATE"
    ULTIMATE_ON_PREMIUM = "ULTIMATE_ON_PREMIUM"
    DUO_ENTERPRISE = "DUO_ENTERPRISE"


class TrialStatus(StrEnum):
    """Whether a trial covers today."""

    ACTIVE = "ACTIVE"
    EXPIRED = "EXPIRED"


class NamespaceKind(StrEnum):
    """A GitLab.com namespace is a group or a user's personal namespace."""

    GROUP = "GROUP"
    USER = "USER"


class Role(StrEnum):
    """A portal user's role in a customer."""

    OWNER = "OWNER"
    ADMIN = "ADMIN"
    VIEWER = "VIEWER"


class AddOnKind(StrEnum):
    """What an add-on adds to a subscription."""

    COMPUTE_MINUTES = "COMPUTE_MINUTES"
    STORAGE_GB = "STORAGE_GB"
    DUO_PRO = "DUO_PRO"
    DUO_ENTERPRISE = "DUO_ENTERPRISE"

"""Domain errors: one class per broken rule, each with a stable client-facing code."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every expected failure.

    ``code`` is stable and shown to clients (GraphQL ``ErrorCode``); ``path`` names the input
    field at fault when there is one.
    """

    code = "DOMAIN_ERROR"

    def __init__(self, message: str, *, path: tuple[str, ...] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


class ValidationFailed(DomainError):
    """An input or a value object broke a rule about its own shape (seats < 1, dates reversed)."""

    code = "VALIDATION_FAILED"


class NotFound(DomainError):
    """The object does not exist, or the principal may not see it (the two read the same)."""

    code = "NOT_FOUND"


class InvalidId(ValidationFailed):
    """An opaque ID or cursor that this API did not hand out."""

    code = "VALIDATION_FAILED"


class IdempotencyKeyReused(DomainError):
    """The idempotency key was used before with a different input."""

    code = "IDEMPOTENCY_KEY_REUSED"


class Unauthenticated(DomainError):
    """The operation needs an authenticated principal."""

    code = "UNAUTHENTICATED"


class Forbidden(DomainError):
    """The principal is authenticated but lacks the scope for the operation."""

    code = "FORBIDDEN"


class IdempotencyKeyInFlight(DomainError):
    """Another request with the same idempotency key is being processed; retry shortly."""

    code = "IDEMPOTENCY_KEY_IN_FLIGHT"


class SubscriptionNotActive(DomainError):
    """The subscription is expired, cancelled or not started, and this needs it running."""

    code = "SUBSCRIPTION_NOT_ACTIVE"


class SubscriptionAlreadyCancelled(DomainError):
    """The subscription was cancelled before."""

    code = "SUBSCRIPTION_ALREADY_CANCELLED"


class ActivationCodeInvalid(DomainError):
    """The activation code is malformed or belongs to no subscription."""

    code = "ACTIVATION_CODE_INVALID"


class SubscriptionNotCloudLicensable(DomainError):
    """The subscription has no cloud license to activate (legacy licensing or GitLab.com)."""

    code = "SUBSCRIPTION_NOT_CLOUD_LICENSABLE"


class InstanceLimitReached(DomainError):
    """``maxInstances`` distinct instances have activated the subscription already."""

    code = "INSTANCE_LIMIT_REACHED"


class TrialAlreadyUsed(DomainError):
    """This email (or namespace) has had this type of trial before: one each."""

    code = "TRIAL_ALREADY_USED"


class SubscriptionNotSaas(DomainError):
    """Only GitLab.com subscriptions link to namespaces."""

    code = "SUBSCRIPTION_NOT_SAAS"


class NamespaceNotTopLevel(DomainError):
    """Only top-level groups are linked or trialled."""

    code = "NAMESPACE_NOT_TOP_LEVEL"


class NotNamespaceOwner(DomainError):
    """The portal user does not own the group."""

    code = "NOT_NAMESPACE_OWNER"


class NamespaceAlreadyLinked(DomainError):
    """The group already has an active paid subscription."""

    code = "NAMESPACE_ALREADY_LINKED"


class IllegalTransition(DomainError):
    """The ledger row cannot move from its status to the one asked for (a DEAD row does not
    succeed; a SUCCEEDED row is not retried), or the caller does not hold its lease."""

    code = "ILLEGAL_TRANSITION"


class ProvisionEventNotRetryable(IllegalTransition):
    """Only a FAILED or DEAD ledger row is sent again by staff (a PENDING or RUNNING one is on
    its way, a SUCCEEDED one is done, a RESOLVED one was closed by a person)."""

    code = "PROVISION_EVENT_NOT_RETRYABLE"


class ProvisionEventNotResolvable(IllegalTransition):
    """Only a FAILED or DEAD ledger row is closed by a person (the others are running, done, or
    closed already)."""

    code = "PROVISION_EVENT_NOT_RESOLVABLE"


class AlreadyUltimate(DomainError):
    """The group is on Ultimate (paid or trial) already."""

    code = "ALREADY_ULTIMATE"


class TrialRequiresFreePlan(DomainError):
    """An ULTIMATE trial is for a free group; a Premium group gets ULTIMATE_ON_PREMIUM."""

    code = "TRIAL_REQUIRES_FREE_PLAN"


class TrialRequiresPremiumPlan(DomainError):
    """An ULTIMATE_ON_PREMIUM trial is for a group on paid Premium."""

    code = "TRIAL_REQUIRES_PREMIUM_PLAN"


class TrialAlreadyExtended(DomainError):
    """Staff extend a trial once."""

    code = "TRIAL_ALREADY_EXTENDED"


class TrialAlreadyReactivated(DomainError):
    """Staff reactivate a trial once."""

    code = "TRIAL_ALREADY_REACTIVATED"


class TrialNotActive(DomainError):
    """Only an active trial is extended."""

    code = "TRIAL_NOT_ACTIVE"


class TrialNotExpired(DomainError):
    """Only an expired trial on a free group is reactivated."""

    code = "TRIAL_NOT_EXPIRED"


class LicenseAlreadyCancelled(DomainError):
    """The subscription's license was cancelled before (a cancellation key exists)."""

    code = "LICENSE_ALREADY_CANCELLED"


class LicenseKeyUnknown(NotFound):
    """The license key is not one Provision issued (or is garbled): nothing is recorded."""

    code = "NOT_FOUND"


class LicenseNotOnlineCloud(DomainError):
    """Cloud Connector access is for online cloud licenses only (legacy and offline cloud
    licenses, and cancellation keys, get none)."""

    code = "LICENSE_NOT_ONLINE_CLOUD"


class LicenseExpired(DomainError):
    """The license ended longer ago than the grace period allows."""

    code = "LICENSE_EXPIRED"


class ManagedByPartner(DomainError):
    """The subscription was sold by a partner (reseller or marketplace), who manages its terms:
    its customer sees it but asks the partner to add seats, renew, change or cancel it."""

    code = "MANAGED_BY_PARTNER"


class NotASandbox(DomainError):
    """Only a sandbox tenant's clock moves; a real customer always sees the system clock."""

    code = "NOT_A_SANDBOX"


class ClockNotForward(ValidationFailed):
    """A test clock only moves forwards."""

    code = "CLOCK_NOT_FORWARD"

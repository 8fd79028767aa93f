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


class LicenseAlreadyCancelled(DomainError):
    """The subscription's license was cancelled before (a cancellation key exists)."""

    code = "LICENSE_ALREADY_CANCELLED"


class LicenseKeyUnknown(NotFound):
    """The license key is not one Provision issued (or is garbled): nothing is recorded."""

    code = "NOT_FOUND"

"""Who may do what (DESIGN §6): scopes, what each kind of principal may be granted, and how
far each kind reaches into each resource.

Adapters enforce this: the API checks scopes on every root field and mutation, and the read
models turn ``reach`` into SQL so that another tenant's rows are never fetched.
"""

from __future__ import annotations

import uuid
from enum import StrEnum

from domain.errors import Forbidden, Unauthenticated
from domain.principal import Principal, PrincipalKind


class Resource(StrEnum):
    """What a scope is about; scopes are ``<resource>:read`` and ``<resource>:write``."""

    CUSTOMERS = "customers"
    SUBSCRIPTIONS = "subscriptions"
    NAMESPACES = "namespaces"
    TRIALS = "trials"
    LICENSES = "licenses"
    INSTANCES = "instances"
    USAGE = "usage"
    PROVISION_EVENTS = "provision_events"
    AUDIT = "audit"
    WEBHOOKS = "webhooks"
    MARKETPLACES = "marketplaces"
    PARTNERS = "partners"
    REPORTS = "reports"


class Access(StrEnum):
    READ = "read"
    WRITE = "write"


def scope(resource: Resource, access: Access) -> str:
    return f"{resource.value}:{access.value}"


SCOPE_MEANINGS: dict[str, str] = {
    "customers:read": "See customers (billing accounts) and their contacts.",
    "customers:write": "Create and change customers.",
    "subscriptions:read": "See subscriptions, their terms, seats, add-ons and status.",
    "subscriptions:write": "Create, renew, change and cancel subscriptions; rotate codes.",
    "namespaces:read": "See GitLab.com namespaces, their plan, usage and overage.",
    "namespaces:write": "Upsert namespaces, report their usage, link and unlink them.",
    "trials:read": "See trials and ask for trial eligibility.",
    "trials:write": "Start, extend and reactivate trials.",
    "licenses:read": "See licenses and their keys.",
    "licenses:write": "Issue and cancel licenses; set roles of, retire and replace instances.",
    "instances:read": "See activated self-managed instances.",
    "usage:read": "See seat-link usage reports and overage.",
    "usage:write": "Report usage (seat link, license usage files).",
    "provision_events:read": "See the provisioning ledger.",
    "provision_events:write": "Retry and resolve provisioning ledger rows.",
    "audit:read": "See the audit trail.",
    "webhooks:read": "See webhook endpoints (never their secrets).",
    "webhooks:write": "Register, change and delete webhook endpoints.",
    "marketplaces:read": "See marketplace offer mappings and the marketplace inbox.",
    "marketplaces:write": "Map marketplace offers to plans, seats and terms.",
    "partners:read": "See partner organisations (a partner: itself).",
    "partners:write": "Register partners, rename them; move subscriptions between channels.",
    "reports:read": "Run the staff reports (docs/reports.md): aggregates over every tenant.",
}
ALL_SCOPES: frozenset[str] = frozenset(SCOPE_MEANINGS)


def _scopes(*names: str) -> frozenset[str]:
    unknown = set(names) - ALL_SCOPES
    assert not unknown, unknown
    return frozenset(names)


GRANTABLE_SCOPES: dict[PrincipalKind, frozenset[str]] = {
    PrincipalKind.ANONYMOUS: frozenset(),
    PrincipalKind.STAFF: ALL_SCOPES,
    PrincipalKind.PORTAL_USER: _scopes(
        "customers:read",
        "customers:write",
        "subscriptions:read",
        "subscriptions:write",
        "namespaces:read",
        "namespaces:write",
        "trials:read",
        "trials:write",
        "licenses:read",
        "licenses:write",
        "instances:read",
        "usage:read",
        "usage:write",
        "webhooks:read",
        "webhooks:write",
    ),
    PrincipalKind.PARTNER: _scopes(
        "customers:read",
        "customers:write",
        "subscriptions:read",
        "subscriptions:write",
        "namespaces:read",
        "trials:read",
        "licenses:read",
        "instances:read",
        "usage:read",
        "webhooks:read",
        "webhooks:write",
        "partners:read",
    ),
    PrincipalKind.GITLAB_COM: _scopes(
        "namespaces:read", "namespaces:write", "trials:read", "trials:write"
    ),
    PrincipalKind.INSTANCE: _scopes(
        "subscriptions:read", "licenses:read", "instances:read", "usage:read", "usage:write"
    ),
}
"""The most a principal of each kind can hold; a token's scopes are a subset."""


def grantable(kind: PrincipalKind, requested: frozenset[str] | None = None) -> frozenset[str]:
    """The scopes a token for ``kind`` gets: what was asked for (all when nothing was),
    cut down to what the kind may hold."""
    allowed = GRANTABLE_SCOPES[kind]
    return allowed if requested is None else allowed & requested


class Reach(StrEnum):
    """How much of a resource a principal sees. Rows beyond its reach do not exist for it."""

    EVERYTHING = "EVERYTHING"
    OWN_CUSTOMERS = "OWN_CUSTOMERS"
    """Portal users: what belongs to the customers they are members of (and groups they own)."""
    OWN_CHANNEL = "OWN_CHANNEL"
    """Partners: the subscriptions they sold, and what hangs off them."""
    OWN_SUBSCRIPTION = "OWN_SUBSCRIPTION"
    """Instances: the subscription they activated, and what hangs off it."""
    NOTHING = "NOTHING"


_TENANT_RESOURCES = frozenset(Resource) - {
    Resource.PROVISION_EVENTS,
    Resource.AUDIT,
    Resource.MARKETPLACES,
    Resource.PARTNERS,
    Resource.REPORTS,
}
_REACH: dict[PrincipalKind, dict[Resource, Reach]] = {
    PrincipalKind.ANONYMOUS: {},
    PrincipalKind.STAFF: dict.fromkeys(Resource, Reach.EVERYTHING),
    PrincipalKind.PORTAL_USER: dict.fromkeys(_TENANT_RESOURCES, Reach.OWN_CUSTOMERS),
    # A partner sees its own partner row; a portal user sees the partner of a subscription it
    # sees (through the subscription), never the list.
    PrincipalKind.PARTNER: dict.fromkeys(
        _TENANT_RESOURCES | {Resource.PARTNERS}, Reach.OWN_CHANNEL
    ),
    PrincipalKind.GITLAB_COM: {
        Resource.NAMESPACES: Reach.EVERYTHING,
        Resource.TRIALS: Reach.EVERYTHING,
    },
    PrincipalKind.INSTANCE: {
        # Its subscription's customer is the licensee its license already names.
        Resource.CUSTOMERS: Reach.OWN_SUBSCRIPTION,
        Resource.SUBSCRIPTIONS: Reach.OWN_SUBSCRIPTION,
        Resource.LICENSES: Reach.OWN_SUBSCRIPTION,
        Resource.INSTANCES: Reach.OWN_SUBSCRIPTION,
        Resource.USAGE: Reach.OWN_SUBSCRIPTION,
    },
}


def reach(principal: Principal, resource: Resource) -> Reach:
    """How far ``principal`` sees into ``resource`` (a principal without the tenant fact its
    reach needs - a partner without a partner id - sees nothing)."""
    found = _REACH[principal.kind].get(resource, Reach.NOTHING)
    if found is Reach.OWN_CUSTOMERS and not principal.subject:
        return Reach.NOTHING
    if found is Reach.OWN_CHANNEL and not principal.partner_id:
        return Reach.NOTHING
    if found is Reach.OWN_SUBSCRIPTION and principal.subscription_id is None:
        return Reach.NOTHING
    return found


def require_scope(principal: Principal, resource: Resource, access: Access) -> None:
    """Raise ``Unauthenticated`` for nobody, ``Forbidden`` for a token without the scope."""
    if not principal.is_authenticated:
        raise Unauthenticated("sign in first: this field needs an access token")
    needed = scope(resource, access)
    if not principal.has_scope(needed):
        raise Forbidden(f"the access token lacks the `{needed}` scope")


def sees_webhook_endpoint(
    principal: Principal,
    customer_id: uuid.UUID | None,
    partner_id: str | None,
    *,
    member: bool,
) -> bool:
    """Whether ``principal`` sees (and may manage) an endpoint owned by ``customer_id`` or
    ``partner_id`` (neither: a global one). Staff see every endpoint; a partner its own; a
    portal user those of the customers it is a member of (``member``, looked up by the
    caller). Any other endpoint does not exist for it (NOT_FOUND, like every tenant row)."""
    level = reach(principal, Resource.WEBHOOKS)
    if level is Reach.EVERYTHING:
        return True
    if level is Reach.OWN_CHANNEL:
        return partner_id is not None and partner_id == principal.partner_id
    if level is Reach.OWN_CUSTOMERS:
        return customer_id is not None and member
    return False

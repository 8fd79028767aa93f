"""Cloud Connector access (protocols-next §2): which AI and other cloud services a self-managed
license unlocks, and what the service token it gets says.

GitLab asks every hour (older versions daily) with its license key. It reads
``availableServices`` as follows: a service whose ``serviceStartTime`` is null or in the future
is free; otherwise it needs an add-on purchase named in ``bundledWith``. The token goes to the
AI gateway (and the other backends), which verifies it through our JWKS.

Provision's rule: the services listed are the free ones plus those bundled with an add-on the
license carries (Duo Pro, Duo Enterprise), each with the bundles the license holds; add-ons
are sold on Premium and Ultimate only, so a Free license unlocks nothing paid. The token's
``scopes`` are the unit primitives of the listed services that the license's add-ons (or the
free tier) allow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from domain.errors import LicenseExpired, LicenseNotOnlineCloud
from domain.model.enums import AddOnKind, LicensingMode, Plan
from domain.model.license import License

SERVICE_TOKEN_LIFETIME = timedelta(days=3)
"""Self-managed and Dedicated tokens live 3 days (GitLab.com's: 1 h); GitLab syncs hourly."""
NOT_BEFORE_SKEW = timedelta(seconds=5)
GRACE_PERIOD = timedelta(days=14)
"""GitLab's own check: a license expired 10 days ago still syncs, one expired 15 days ago
does not."""
REALM = "self-managed"
AI_GATEWAY = "gitlab-ai-gateway"

DUO_PRO = "duo_pro"
DUO_ENTERPRISE = "duo_enterprise"
_BUNDLES = {AddOnKind.DUO_PRO: DUO_PRO, AddOnKind.DUO_ENTERPRISE: DUO_ENTERPRISE}
_PAID_PLANS = (Plan.PREMIUM, Plan.ULTIMATE)

_PRO_CHAT = ("duo_chat", "documentation_search", "include_file_context",
             "include_snippet_context", "explain_code", "refactor_code", "fix_code",
             "write_tests")  # fmt: skip
_ENTERPRISE_CHAT = (*_PRO_CHAT, "include_merge_request_context", "include_issue_context",
                    "include_dependency_context", "ask_build", "ask_commit", "ask_epic",
                    "ask_issue", "ask_merge_request")  # fmt: skip
_CUT_OFF = date(2024, 10, 17)


@dataclass(frozen=True)
class Service:
    """A Cloud Connector service (``ee/config/cloud_connector/access_data.yml``)."""

    name: str
    start: date | None  # the cut-off date; None: always free
    scopes: dict[str, tuple[str, ...]]  # per bundle (add-on name, or "" when free)
    audience: str = AI_GATEWAY


def _enterprise(name: str, scopes: tuple[str, ...] | None = None) -> Service:
    return Service(name, _CUT_OFF, {DUO_ENTERPRISE: scopes or (name,)})


def _free(name: str, scopes: tuple[str, ...], audience: str = AI_GATEWAY) -> Service:
    return Service(name, None, {"": scopes}, audience)


CATALOG: tuple[Service, ...] = (
    Service(
        "code_suggestions",
        date(2024, 2, 15),
        {DUO_PRO: ("code_suggestions",), DUO_ENTERPRISE: ("code_suggestions",)},
    ),
    Service("duo_chat", _CUT_OFF, {DUO_PRO: _PRO_CHAT, DUO_ENTERPRISE: _ENTERPRISE_CHAT}),
    *(
        _enterprise(name)
        for name in (
            "generate_description",
            "anthropic_proxy",
            "vertex_ai_proxy",
            "explain_vulnerability",
            "resolve_vulnerability",
            "glab_ask_git_command",
            "summarize_review",
            "troubleshoot_job",
            "generate_commit_message",
            "summarize_comments",
        )
    ),
    _enterprise("self_hosted_models", ("code_suggestions", *_ENTERPRISE_CHAT)),
    *(
        _free(name, (name,))
        for name in (
            "include_file_context",
            "include_snippet_context",
            "include_merge_request_context",
            "include_issue_context",
            "include_dependency_context",
        )
    ),
    _free("observability_all", ("observability_all",), "gitlab-observability-backend"),
    _free("sast", ("security_scans",), "gitlab-security-gateway"),
    _free(
        "duo_workflow",
        ("duo_workflow_execute_workflow", "duo_workflow_generate_token"),
        "gitlab-duo-workflow-service",
    ),
)


@dataclass(frozen=True)
class AvailableService:
    """One ``availableServices`` entry."""

    name: str
    start: date | None
    bundled_with: tuple[str, ...]


@dataclass(frozen=True)
class ServiceAccess:
    """What a license gets: its services and the content of its service token."""

    services: tuple[AvailableService, ...]
    scopes: tuple[str, ...]
    audiences: tuple[str, ...]
    duo_seats: int
    issued_at: datetime
    expires_at: datetime

    @property
    def not_before(self) -> datetime:
        return self.issued_at - NOT_BEFORE_SKEW


def check_licence_for_access(license_: License, today: date) -> None:
    """Raise why ``license_`` gets no Cloud Connector access (GitLab's own preconditions,
    checked again here: a portal must not hand out what the instance should not ask for)."""
    if license_.mode is not LicensingMode.ONLINE_CLOUD or license_.cancelled:
        raise LicenseNotOnlineCloud("License is not an online cloud license", path=("licenseKey",))
    if today > license_.expires_at + GRACE_PERIOD:
        raise LicenseExpired("License grace period has been expired", path=("licenseKey",))


def bundles_of(license_: License, today: date) -> tuple[str, ...]:
    """The add-on bundles a license holds today (Duo needs a paid plan)."""
    if license_.plan not in _PAID_PLANS:
        return ()
    held = {
        _BUNDLES[a.kind]
        for a in license_.add_ons
        if a.kind in _BUNDLES and a.start_date <= today < a.end_date
    }
    return tuple(sorted(held))


def service_access(license_: License, now: datetime) -> ServiceAccess:
    """The services, scopes and token times for a license that passed the check."""
    today = now.date()
    held = bundles_of(license_, today)
    services: list[AvailableService] = []
    scopes: set[str] = set()
    audiences: set[str] = set()
    for service in CATALOG:
        free = "" in service.scopes
        bundles = tuple(b for b in service.scopes if b in held)
        if not free and not bundles:
            continue
        services.append(AvailableService(service.name, service.start, bundles))
        audiences.add(service.audience)
        for bundle in ("", *bundles):
            scopes.update(service.scopes.get(bundle, ()))
    seats = sum(
        a.quantity
        for a in license_.add_ons
        if a.kind in _BUNDLES and a.start_date <= today < a.end_date
    )
    return ServiceAccess(
        services=tuple(services),
        scopes=tuple(sorted(scopes)),
        audiences=tuple(sorted(audiences)),
        duo_seats=seats if held else 0,
        issued_at=now,
        expires_at=now + SERVICE_TOKEN_LIFETIME,
    )

"""Settings, read from the environment once, at start-up."""

from __future__ import annotations

import ipaddress
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from auth.admin_pair import AdminPair
from auth.external import ExternalIssuerSettings
from auth.external_signin import ExternalSignInSettings
from auth.server import OAuthSettings
from auth.tokens import TokenSettings
from domain.model.webhook import attempts_for
from domain.principal import PrincipalKind


class SettingsError(ValueError):
    """A setting's value is not one it accepts; the message names the variable."""


class _Invalid(Exception):
    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_LEVELS = ("debug", "info", "warning", "error", "critical")
_KINDS = tuple(sorted(k.value for k in PrincipalKind if k.value != "ANONYMOUS"))


def _integer(low: int, high: int | None = None) -> Callable[[str], int]:
    expected = f"an integer {low}-{high}" if high is not None else f"an integer >= {low}"

    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise _Invalid(expected) from None
        if value < low or (high is not None and value > high):
            raise _Invalid(expected)
        return value

    return parse


def _number(low: float, *, above: bool = False) -> Callable[[str], float]:
    expected = f"a number {'>' if above else '>='} {low:g} (seconds)"

    def parse(raw: str) -> float:
        try:
            value = float(raw.strip())
        except ValueError:
            raise _Invalid(expected) from None
        if not math.isfinite(value) or value < low or (above and value == low):
            raise _Invalid(expected)
        return value

    return parse


def _flag(raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise _Invalid("true or false (also 1/0, yes/no, on/off)")


def _choice(*choices: str, lower: bool = False) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower() if lower else raw.strip()
        if value not in choices:
            raise _Invalid(f"one of {', '.join(choices)}")
        return value

    return parse


def _url(*schemes: str, host: bool = True) -> Callable[[str], str]:
    expected = f"a {' or '.join(s + '://' for s in schemes)} URL" + (" with a host" if host else "")

    def parse(raw: str) -> str:
        value = raw.strip()
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            raise _Invalid(expected) from None
        if parts.scheme not in schemes or (host and not parts.hostname):
            raise _Invalid(expected)
        return value

    return parse


def _text(raw: str) -> str:
    return raw.strip()


def _path(raw: str) -> Path:
    return Path(raw.strip())


def _origins(raw: str) -> tuple[str, ...]:
    origins = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
            raise _Invalid("comma-separated origins like https://portal.example")
    return origins


FORWARDED_IPS = "comma-separated IP addresses or networks (10.0.0.0/8), or *"


def forwarded_ips(raw: str) -> str:
    """uvicorn's --forwarded-allow-ips: comma-separated addresses or networks, or ``*``."""
    items = [item.strip() for item in raw.split(",") if item.strip()]
    for item in items:
        if item == "*":
            continue
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise _Invalid(FORWARDED_IPS) from None
    if not items:
        raise _Invalid(FORWARDED_IPS)
    return ",".join(items)


def _names(raw: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in raw.split(",") if p.strip())


_MASK = "********"


def _plain(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def _masked(value: object) -> str:
    return _MASK if value else ""


def _masked_url(value: object) -> str:
    """The URL with its password and query string (which may carry tokens) masked."""
    if not value:
        return ""
    parts = urlsplit(str(value))
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    if parts.username:
        user = parts.username + (f":{_MASK}" if parts.password is not None else "")
        netloc = f"{user}@{netloc}"
    return urlunsplit(
        (parts.scheme, netloc, parts.path, _MASK if parts.query else "", parts.fragment)
    )


def _masked_path(value: object) -> str:
    """Webhook URLs carry their secret in the path: only the scheme and host are shown."""
    if not value:
        return ""
    parts = urlsplit(str(value))
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/{_MASK}"


@dataclass(frozen=True)
class Variable:
    """One environment variable: the Settings field it sets, how its text is read, and how
    ``provision config`` shows its value (secrets masked)."""

    name: str
    field: str
    parse: Callable[[str], object]
    show: Callable[[object], str] = _plain

    def __post_init__(self) -> None:
        if self.show is _plain and self.name.endswith(_SECRET_SUFFIXES):
            object.__setattr__(self, "show", _masked)


_SECRET_SUFFIXES = ("_SECRET", "_TOKEN", "_PASSWORD", "_KEY")


@dataclass(frozen=True)
class Settings:
    """What can be configured. Every field has a default that works on a laptop."""

    database_url: str | None = None
    data_dir: Path = Path(".provision")
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    proxy_headers: bool = True
    """Trust X-Forwarded-For/-Proto from ``forwarded_allow_ips`` (uvicorn's --proxy-headers)."""
    forwarded_allow_ips: str = "127.0.0.1"
    """The proxies whose forwarded headers are trusted: addresses, networks or ``*``."""
    graphiql: bool = True
    development_mode: bool = False
    """Every customer is a sandbox with its own test clock (docs/test-clock.md); never in
    production."""
    max_query_depth: int = 10
    max_query_tokens: int = 2000
    max_aliases: int = 30
    max_query_length: int = 65536
    """Characters of query text, whitespace and comments included."""
    max_query_fields: int = 5000
    """Fields a document selects with its fragments expanded (once per spread)."""
    max_query_cost: int = 50000
    """Static cost: 1 per field, connections multiply what they select by their page size."""
    max_body_bytes: int = 1024 * 1024
    """Request bodies above this are refused with 413 before they are read."""
    introspection: str = "authenticated"
    """``authenticated``: callers with a token may introspect; ``open``: anyone may."""
    cors_origins: tuple[str, ...] = ()
    """Browser origins (``https://portal.example``) allowed to call the API; none by default."""
    pool_max: int = 10
    log_level: str = "info"
    log_format: str = "human"
    """``human`` (one readable line per record) or ``json`` (one JSON object per line)."""
    gc_interval: float = 1.0
    fast_reads: bool = True
    """Compile the read documents it can into one SQL statement (api/graphql/fast_read.py)."""
    issuer: str = "http://127.0.0.1:8000"
    audience: str = "provision-api"
    token_lifetime_seconds: int = 900
    key_refresh_seconds: float = 60.0
    auth_code_lifetime_seconds: int = 60
    refresh_token_lifetime_seconds: int = 30 * 24 * 3600
    auth_limit_window_seconds: int = 900
    signin_failures_per_account: int = 5
    signin_failures_per_address: int = 20
    token_failures_per_client: int = 10
    token_failures_per_address: int = 30
    gitlab_com_admin_email: str | None = None
    gitlab_com_admin_token: str | None = None
    external_issuer: str | None = None
    external_jwks_url: str | None = None
    external_audience: str | None = None
    external_kind: str = "PORTAL_USER"
    external_subject_claim: str = "sub"
    external_subject_prefix: str = "ext:"
    external_email_claim: str = "email"
    external_scope_claim: str = "scope"
    external_partner_claim: str | None = None
    external_signin_issuer: str | None = None
    """An OpenID provider people may sign in through on Provision's sign-in page."""
    external_signin_client_id: str | None = None
    external_signin_client_secret: str | None = None
    external_signin_name: str | None = None
    """The sign-in page's button says "Sign in with <this>"; unset: the provider's host."""
    worker_concurrency: int = 16
    worker_lease_seconds: float = 60.0
    worker_poll_seconds: float = 1.0
    worker_grace_seconds: float = 20.0
    worker_http_timeout_seconds: float = 10.0
    worker_plugins: tuple[str, ...] = ()
    ledger_max_attempts: int = 8
    ledger_backoff_base_seconds: float = 2.0
    ledger_backoff_max_seconds: float = 600.0
    alert_webhook_url: str | None = None
    alert_failures_threshold: int = 0
    alert_failures_window_seconds: int = 600
    metrics_token: str | None = None
    worker_metrics_port: int = 0
    """``provision worker`` serves its own metrics on this port (of ``host``); 0: it does not."""
    """When set, ``/metrics`` needs it as a bearer token; unset, it is open (internal network)."""
    gitlab_com_url: str | None = None
    """GitLab.com's base URL; when set, workers provision namespaces there (NAMESPACE_PROVISION)."""
    trial_provision_timeout_seconds: float = 5.0
    """How long a GitLab.com trial request waits for GitLab.com to acknowledge the trial's
    provisioning before it answers 422 (the ledger keeps retrying)."""
    smtp_url: str | None = None
    """``smtp://[user:password@]host:port[?starttls=true]`` (or ``smtps://``); unset, emails are
    written as ``.eml`` files into ``mail_dir``."""
    mail_dir: Path = Path(".provision/mail")
    mail_from: str = "Provision <noreply@provision.localhost>"
    mail_trial_ending_days: int = 7
    """The trial-ending-soon email goes this many days (or fewer) before a trial ends."""
    mail_subscription_expiring_days: int = 30
    """The expiring email goes this many days (or fewer) before a non-renewing term ends."""
    mail_reminders_every_seconds: float = 3600.0
    """How often the reminder jobs sweep."""
    instance_stale_days: int = 7
    """An instance without a seat link for this many days is listed as stopped syncing and
    its customer gets one reminder (docs/instances.md)."""
    webhooks_allow_http_loopback: bool = False
    portal: bool = True
    """Serve the customer portal at ``/portal/`` and keep its OAuth client registered."""
    trusted_documents_only_for_portal: bool = False
    """Portal users' tokens from the portal's client run the portal's registered documents only."""
    """Development and tests: accept ``http://`` webhook URLs to loopback addresses (else
    https only)."""
    webhook_timeout_seconds: float = 15.0
    """How long one delivery attempt may take (connect, send, answer)."""
    webhook_disable_after: int = 10
    """Disable an endpoint whose last this many events all failed permanently (0: never)."""
    webhook_staff_email: str | None = None
    """Who is emailed when a partner's or a global endpoint is disabled (a customer's
    endpoint: the customer's contact)."""
    dedicated_provisioner_url: str | None = None
    """The Dedicated tenant provisioner's base URL; when set, workers run DEDICATED_TENANT
    steps (docs/dedicated.md)."""
    dedicated_provisioner_token: str | None = None
    """The bearer token Provision sends to the provisioner."""
    dedicated_callback_secret: str | None = None
    """The HMAC secret the provisioner signs its callbacks with; unset, callbacks are refused."""
    dedicated_callback_tolerance_seconds: int = 300
    """How far a callback's timestamp may be from the Clock's now."""
    dedicated_renewal_days: int = 30
    """The next term's license goes to the tenant this many days before the current expires."""
    webhook_retry_hours: float = 24.0
    """How long a failing webhook delivery is retried (its attempts follow from the ledger's
    backoff: ``webhook_attempts``)."""
    aws_marketplace_url: str | None = None
    """The AWS Marketplace API (ResolveCustomer, GetEntitlements); unset, AWS intake is off."""
    aws_marketplace_token: str | None = None
    """The credential Provision sends to the AWS Marketplace API (a bearer token)."""
    aws_marketplace_sns_cert: Path | None = None
    """The PEM certificate whose key signs the SNS notifications (docs/marketplaces.md)."""
    azure_marketplace_url: str | None = None
    """The Azure SaaS Fulfillment API; unset, Azure intake is off."""
    azure_token_url: str | None = None
    """Where Provision gets its client-credentials token for the Azure API."""
    azure_client_id: str | None = None
    azure_client_secret: str | None = None
    azure_webhook_bearer: str | None = None
    """When set, every Azure webhook must carry ``Authorization: Bearer <this>`` as well."""
    stripe_webhook_secret: str | None = None
    """The ``whsec_…`` endpoint secret Stripe signs events with; unset, Stripe intake is off."""

    @property
    def webhook_attempts(self) -> int:
        """Attempts of a delivery row so that the ledger's backoff spans ``webhook_retry_hours``."""
        return attempts_for(
            timedelta(hours=self.webhook_retry_hours),
            base=timedelta(seconds=self.ledger_backoff_base_seconds),
            cap=timedelta(seconds=self.ledger_backoff_max_seconds),
        )

    def __post_init__(self) -> None:
        if bool(self.external_issuer) != bool(self.external_jwks_url):
            raise SettingsError(
                "set both PROVISION_EXTERNAL_ISSUER and PROVISION_EXTERNAL_JWKS_URL, or neither"
            )
        signin = (
            self.external_signin_issuer,
            self.external_signin_client_id,
            self.external_signin_client_secret,
        )
        if any(signin) and not all(signin):
            raise SettingsError(
                "set PROVISION_EXTERNAL_SIGNIN_ISSUER, PROVISION_EXTERNAL_SIGNIN_CLIENT_ID and "
                "PROVISION_EXTERNAL_SIGNIN_CLIENT_SECRET together, or none of them"
            )
        if self.external_signin_name is not None and not 0 < len(self.external_signin_name) <= 60:
            raise SettingsError("PROVISION_EXTERNAL_SIGNIN_NAME: expected 1-60 characters")
        if self.introspection not in ("authenticated", "open"):
            raise SettingsError("PROVISION_INTROSPECTION must be `authenticated` or `open`")
        allowed = {k.value for k in PrincipalKind} - {"ANONYMOUS"}
        if self.external_kind not in allowed:
            raise SettingsError(f"PROVISION_EXTERNAL_KIND must be one of {sorted(allowed)}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every variable in ``VARIABLES`` (set but empty counts as unset); a bad value
        raises ``SettingsError`` naming the variable, what it accepts and what it got."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for variable in VARIABLES:
            raw = env.get(variable.name, "")
            if raw.strip() == "":
                continue
            try:
                values[variable.field] = variable.parse(raw)
            except _Invalid as invalid:
                raise SettingsError(
                    f"{variable.name}: expected {invalid.expected}, got {raw!r}"
                ) from None
        return cls(**values)

    def effective(self, environ: Mapping[str, str] | None = None) -> list[tuple[str, str, str]]:
        """Every variable as ``(name, value, source)``: the value these settings hold, secrets
        masked, and whether it came from the ``environment`` or is the ``default``."""
        env = os.environ if environ is None else environ
        return [
            (
                variable.name,
                variable.show(getattr(self, variable.field)),
                "environment" if env.get(variable.name, "").strip() else "default",
            )
            for variable in VARIABLES
        ]

    @property
    def gitlab_com_admin_pair(self) -> AdminPair | None:
        """GitLab.com's admin header pair; None (every pair refused) unless both are set."""
        if not self.gitlab_com_admin_email or not self.gitlab_com_admin_token:
            return None
        return AdminPair(self.gitlab_com_admin_email, self.gitlab_com_admin_token)

    @property
    def token_settings(self) -> TokenSettings:
        return TokenSettings(
            issuer=self.issuer,
            audience=self.audience,
            lifetime=timedelta(seconds=self.token_lifetime_seconds),
        )

    @property
    def oauth_settings(self) -> OAuthSettings:
        return OAuthSettings(
            code_lifetime=timedelta(seconds=self.auth_code_lifetime_seconds),
            refresh_token_lifetime=timedelta(seconds=self.refresh_token_lifetime_seconds),
            limit_window=timedelta(seconds=self.auth_limit_window_seconds),
            signin_failures_per_account=self.signin_failures_per_account,
            signin_failures_per_address=self.signin_failures_per_address,
            token_failures_per_client=self.token_failures_per_client,
            token_failures_per_address=self.token_failures_per_address,
        )

    @property
    def external_issuer_settings(self) -> ExternalIssuerSettings | None:
        """The external OpenID provider to trust, if one is configured."""
        if not self.external_issuer or not self.external_jwks_url:
            return None
        return ExternalIssuerSettings(
            issuer=self.external_issuer,
            jwks_url=self.external_jwks_url,
            audience=self.external_audience or self.audience,
            kind=PrincipalKind(self.external_kind),
            subject_claim=self.external_subject_claim,
            subject_prefix=self.external_subject_prefix,
            email_claim=self.external_email_claim,
            scope_claim=self.external_scope_claim,
            partner_claim=self.external_partner_claim,
        )

    @property
    def external_signin_settings(self) -> ExternalSignInSettings | None:
        """The OpenID provider of the sign-in page's "Sign in with …" button, if configured."""
        issuer, client_id = self.external_signin_issuer, self.external_signin_client_id
        secret = self.external_signin_client_secret
        if not issuer or not client_id or not secret:
            return None
        name = self.external_signin_name or urlsplit(issuer).hostname or issuer
        return ExternalSignInSettings(
            issuer=issuer, client_id=client_id, client_secret=secret, name=name
        )

    @property
    def embedded_data_dir(self) -> Path:
        """Where the embedded PostgreSQL keeps its data when no DATABASE_URL is set."""
        return (self.data_dir / "postgres").resolve()


_POSITIVE = _integer(1)
_SECONDS = _integer(1)
VARIABLES: tuple[Variable, ...] = (
    Variable(
        "DATABASE_URL", "database_url", _url("postgres", "postgresql", host=False), _masked_url
    ),
    Variable("PROVISION_DATA_DIR", "data_dir", _path),
    Variable("PROVISION_HOST", "host", _text),
    Variable("PROVISION_PORT", "port", _integer(1, 65535)),
    Variable("PROVISION_WORKERS", "workers", _POSITIVE),
    Variable("PROVISION_PROXY_HEADERS", "proxy_headers", _flag),
    Variable("PROVISION_FORWARDED_ALLOW_IPS", "forwarded_allow_ips", forwarded_ips),
    Variable("PROVISION_GRAPHIQL", "graphiql", _flag),
    Variable("PROVISION_FAST_READS", "fast_reads", _flag),
    Variable("PROVISION_DEVELOPMENT_MODE", "development_mode", _flag),
    Variable("PROVISION_MAX_QUERY_DEPTH", "max_query_depth", _POSITIVE),
    Variable("PROVISION_MAX_QUERY_TOKENS", "max_query_tokens", _POSITIVE),
    Variable("PROVISION_MAX_ALIASES", "max_aliases", _integer(0)),
    Variable("PROVISION_MAX_QUERY_LENGTH", "max_query_length", _POSITIVE),
    Variable("PROVISION_MAX_QUERY_FIELDS", "max_query_fields", _POSITIVE),
    Variable("PROVISION_MAX_QUERY_COST", "max_query_cost", _POSITIVE),
    Variable("PROVISION_MAX_BODY_BYTES", "max_body_bytes", _POSITIVE),
    Variable("PROVISION_INTROSPECTION", "introspection", _choice("authenticated", "open")),
    Variable("PROVISION_CORS_ORIGINS", "cors_origins", _origins),
    Variable("PROVISION_DB_POOL_MAX", "pool_max", _POSITIVE),
    Variable("PROVISION_LOG_LEVEL", "log_level", _choice(*_LEVELS, lower=True)),
    Variable("PROVISION_LOG_FORMAT", "log_format", _choice("human", "json", lower=True)),
    Variable("PROVISION_GC_INTERVAL", "gc_interval", _number(0)),
    Variable("PROVISION_ISSUER", "issuer", _url("http", "https")),
    Variable("PROVISION_AUDIENCE", "audience", _text),
    Variable("PROVISION_TOKEN_LIFETIME", "token_lifetime_seconds", _SECONDS),
    Variable("PROVISION_KEY_REFRESH", "key_refresh_seconds", _number(0, above=True)),
    Variable("PROVISION_AUTH_CODE_LIFETIME", "auth_code_lifetime_seconds", _SECONDS),
    Variable("PROVISION_REFRESH_TOKEN_LIFETIME", "refresh_token_lifetime_seconds", _SECONDS),
    Variable("PROVISION_AUTH_LIMIT_WINDOW", "auth_limit_window_seconds", _SECONDS),
    Variable("PROVISION_SIGNIN_FAILURES_PER_ACCOUNT", "signin_failures_per_account", _POSITIVE),
    Variable("PROVISION_SIGNIN_FAILURES_PER_ADDRESS", "signin_failures_per_address", _POSITIVE),
    Variable("PROVISION_TOKEN_FAILURES_PER_CLIENT", "token_failures_per_client", _POSITIVE),
    Variable("PROVISION_TOKEN_FAILURES_PER_ADDRESS", "token_failures_per_address", _POSITIVE),
    Variable("PROVISION_GITLAB_COM_ADMIN_EMAIL", "gitlab_com_admin_email", _text),
    Variable("PROVISION_GITLAB_COM_ADMIN_TOKEN", "gitlab_com_admin_token", _text, _masked),
    Variable("PROVISION_EXTERNAL_ISSUER", "external_issuer", _url("http", "https")),
    Variable("PROVISION_EXTERNAL_JWKS_URL", "external_jwks_url", _url("http", "https")),
    Variable("PROVISION_EXTERNAL_AUDIENCE", "external_audience", _text),
    Variable("PROVISION_EXTERNAL_KIND", "external_kind", _choice(*_KINDS)),
    Variable("PROVISION_EXTERNAL_SUBJECT_CLAIM", "external_subject_claim", _text),
    Variable("PROVISION_EXTERNAL_SUBJECT_PREFIX", "external_subject_prefix", _text),
    Variable("PROVISION_EXTERNAL_EMAIL_CLAIM", "external_email_claim", _text),
    Variable("PROVISION_EXTERNAL_SCOPE_CLAIM", "external_scope_claim", _text),
    Variable("PROVISION_EXTERNAL_PARTNER_CLAIM", "external_partner_claim", _text),
    Variable("PROVISION_EXTERNAL_SIGNIN_ISSUER", "external_signin_issuer", _url("http", "https")),
    Variable("PROVISION_EXTERNAL_SIGNIN_CLIENT_ID", "external_signin_client_id", _text),
    Variable(
        "PROVISION_EXTERNAL_SIGNIN_CLIENT_SECRET", "external_signin_client_secret", _text, _masked
    ),
    Variable("PROVISION_EXTERNAL_SIGNIN_NAME", "external_signin_name", _text),
    Variable("PROVISION_WORKER_CONCURRENCY", "worker_concurrency", _POSITIVE),
    Variable("PROVISION_WORKER_LEASE_SECONDS", "worker_lease_seconds", _number(0, above=True)),
    Variable("PROVISION_WORKER_POLL_SECONDS", "worker_poll_seconds", _number(0, above=True)),
    Variable("PROVISION_WORKER_GRACE_SECONDS", "worker_grace_seconds", _number(0)),
    Variable(
        "PROVISION_WORKER_HTTP_TIMEOUT", "worker_http_timeout_seconds", _number(0, above=True)
    ),
    Variable("PROVISION_WORKER_PLUGINS", "worker_plugins", _names),
    Variable("PROVISION_LEDGER_MAX_ATTEMPTS", "ledger_max_attempts", _POSITIVE),
    Variable("PROVISION_LEDGER_BACKOFF_BASE_SECONDS", "ledger_backoff_base_seconds", _number(0)),
    Variable("PROVISION_LEDGER_BACKOFF_MAX_SECONDS", "ledger_backoff_max_seconds", _number(0)),
    Variable(
        "PROVISION_ALERT_WEBHOOK_URL", "alert_webhook_url", _url("http", "https"), _masked_path
    ),
    Variable("PROVISION_ALERT_FAILURES", "alert_failures_threshold", _integer(0)),
    Variable("PROVISION_ALERT_FAILURES_WINDOW", "alert_failures_window_seconds", _SECONDS),
    Variable("PROVISION_METRICS_TOKEN", "metrics_token", _text, _masked),
    Variable("PROVISION_WORKER_METRICS_PORT", "worker_metrics_port", _integer(0, 65535)),
    Variable("GITLAB_COM_URL", "gitlab_com_url", _url("http", "https")),
    Variable(
        "PROVISION_TRIAL_PROVISION_TIMEOUT",
        "trial_provision_timeout_seconds",
        _number(0, above=True),
    ),
    Variable("SMTP_URL", "smtp_url", _url("smtp", "smtps"), _masked_url),
    Variable("PROVISION_MAIL_DIR", "mail_dir", _path),
    Variable("PROVISION_MAIL_FROM", "mail_from", _text),
    Variable("PROVISION_MAIL_TRIAL_ENDING_DAYS", "mail_trial_ending_days", _integer(0)),
    Variable(
        "PROVISION_MAIL_SUBSCRIPTION_EXPIRING_DAYS", "mail_subscription_expiring_days", _integer(0)
    ),
    Variable(
        "PROVISION_MAIL_REMINDERS_EVERY_SECONDS",
        "mail_reminders_every_seconds",
        _number(0, above=True),
    ),
    Variable("PROVISION_INSTANCE_STALE_DAYS", "instance_stale_days", _integer(1)),
    Variable("PROVISION_WEBHOOKS_ALLOW_HTTP_LOOPBACK", "webhooks_allow_http_loopback", _flag),
    Variable("PROVISION_PORTAL", "portal", _flag),
    Variable(
        "PROVISION_TRUSTED_DOCUMENTS_ONLY_FOR_PORTAL", "trusted_documents_only_for_portal", _flag
    ),
    Variable("PROVISION_WEBHOOK_RETRY_HOURS", "webhook_retry_hours", _number(0, above=True)),
    Variable("PROVISION_AWS_MARKETPLACE_URL", "aws_marketplace_url", _url("http", "https")),
    Variable("PROVISION_AWS_MARKETPLACE_TOKEN", "aws_marketplace_token", _text, _masked),
    Variable("PROVISION_AWS_MARKETPLACE_SNS_CERT", "aws_marketplace_sns_cert", _path),
    Variable("PROVISION_AZURE_MARKETPLACE_URL", "azure_marketplace_url", _url("http", "https")),
    Variable("PROVISION_AZURE_TOKEN_URL", "azure_token_url", _url("http", "https")),
    Variable("PROVISION_AZURE_CLIENT_ID", "azure_client_id", _text),
    Variable("PROVISION_AZURE_CLIENT_SECRET", "azure_client_secret", _text, _masked),
    Variable("PROVISION_AZURE_WEBHOOK_BEARER", "azure_webhook_bearer", _text, _masked),
    Variable("PROVISION_STRIPE_WEBHOOK_SECRET", "stripe_webhook_secret", _text, _masked),
    Variable(
        "PROVISION_WEBHOOK_TIMEOUT_SECONDS", "webhook_timeout_seconds", _number(0, above=True)
    ),
    Variable("PROVISION_WEBHOOK_DISABLE_AFTER", "webhook_disable_after", _integer(0)),
    Variable("PROVISION_WEBHOOK_STAFF_EMAIL", "webhook_staff_email", _text),
    Variable(
        "PROVISION_DEDICATED_PROVISIONER_URL", "dedicated_provisioner_url", _url("http", "https")
    ),
    Variable(
        "PROVISION_DEDICATED_PROVISIONER_TOKEN", "dedicated_provisioner_token", _text, _masked
    ),
    Variable("PROVISION_DEDICATED_CALLBACK_SECRET", "dedicated_callback_secret", _text, _masked),
    Variable(
        "PROVISION_DEDICATED_CALLBACK_TOLERANCE_SECONDS",
        "dedicated_callback_tolerance_seconds",
        _integer(1),
    ),
    Variable("PROVISION_DEDICATED_RENEWAL_DAYS", "dedicated_renewal_days", _integer(0)),
)
"""Every variable Settings reads (``provision config`` prints them in this order)."""

OTHER_VARIABLES = frozenset({"PROVISION_USER_PASSWORD"})
"""``PROVISION_*`` variables read elsewhere (``provision user create``'s password)."""


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """The ``PROVISION_*`` variables set that Provision does not read: typos, most likely."""
    env = os.environ if environ is None else environ
    known = {variable.name for variable in VARIABLES} | OTHER_VARIABLES
    return sorted(name for name in env if name.startswith("PROVISION_") and name not in known)

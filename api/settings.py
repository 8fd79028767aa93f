"""Settings, read from the environment once, at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from auth.admin_pair import AdminPair
from auth.external import ExternalIssuerSettings
from auth.server import OAuthSettings
from auth.tokens import TokenSettings
from domain.model.webhook import attempts_for
from domain.principal import PrincipalKind


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    """What can be configured. Every field has a default that works on a laptop."""

    database_url: str | None = None
    data_dir: Path = Path(".provision")
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    graphiql: bool = True
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
    gc_interval: float = 1.0
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
    """How often the two reminder jobs sweep."""
    webhooks_allow_http_loopback: bool = False
    """Development and tests: accept ``http://`` webhook URLs to loopback addresses (else
    https only)."""
    webhook_retry_hours: float = 24.0
    """How long a failing webhook delivery is retried (its attempts follow from the ledger's
    backoff: ``webhook_attempts``)."""

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
            raise ValueError(
                "set both PROVISION_EXTERNAL_ISSUER and PROVISION_EXTERNAL_JWKS_URL, or neither"
            )
        if self.introspection not in ("authenticated", "open"):
            raise ValueError("PROVISION_INTROSPECTION must be `authenticated` or `open`")
        allowed = {k.value for k in PrincipalKind} - {"ANONYMOUS"}
        if self.external_kind not in allowed:
            raise ValueError(f"PROVISION_EXTERNAL_KIND must be one of {sorted(allowed)}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            database_url=env.get("DATABASE_URL") or None,
            data_dir=Path(env.get("PROVISION_DATA_DIR", ".provision")),
            host=env.get("PROVISION_HOST", "127.0.0.1"),
            port=int(env.get("PROVISION_PORT", "8000")),
            workers=int(env.get("PROVISION_WORKERS", "1")),
            graphiql=_flag(env.get("PROVISION_GRAPHIQL"), True),
            max_query_depth=int(env.get("PROVISION_MAX_QUERY_DEPTH", "10")),
            max_query_tokens=int(env.get("PROVISION_MAX_QUERY_TOKENS", "2000")),
            max_aliases=int(env.get("PROVISION_MAX_ALIASES", "30")),
            max_query_length=int(env.get("PROVISION_MAX_QUERY_LENGTH", "65536")),
            max_query_fields=int(env.get("PROVISION_MAX_QUERY_FIELDS", "5000")),
            max_query_cost=int(env.get("PROVISION_MAX_QUERY_COST", "50000")),
            max_body_bytes=int(env.get("PROVISION_MAX_BODY_BYTES", str(1024 * 1024))),
            introspection=env.get("PROVISION_INTROSPECTION") or "authenticated",
            cors_origins=tuple(
                origin.strip().rstrip("/")
                for origin in env.get("PROVISION_CORS_ORIGINS", "").split(",")
                if origin.strip()
            ),
            pool_max=int(env.get("PROVISION_DB_POOL_MAX", "10")),
            log_level=env.get("PROVISION_LOG_LEVEL", "info"),
            gc_interval=float(env.get("PROVISION_GC_INTERVAL", "1")),
            issuer=env.get("PROVISION_ISSUER", "http://127.0.0.1:8000"),
            audience=env.get("PROVISION_AUDIENCE", "provision-api"),
            token_lifetime_seconds=int(env.get("PROVISION_TOKEN_LIFETIME", "900")),
            key_refresh_seconds=float(env.get("PROVISION_KEY_REFRESH", "60")),
            auth_code_lifetime_seconds=int(env.get("PROVISION_AUTH_CODE_LIFETIME", "60")),
            refresh_token_lifetime_seconds=int(
                env.get("PROVISION_REFRESH_TOKEN_LIFETIME", str(30 * 24 * 3600))
            ),
            auth_limit_window_seconds=int(env.get("PROVISION_AUTH_LIMIT_WINDOW", "900")),
            signin_failures_per_account=int(env.get("PROVISION_SIGNIN_FAILURES_PER_ACCOUNT", "5")),
            signin_failures_per_address=int(env.get("PROVISION_SIGNIN_FAILURES_PER_ADDRESS", "20")),
            token_failures_per_client=int(env.get("PROVISION_TOKEN_FAILURES_PER_CLIENT", "10")),
            token_failures_per_address=int(env.get("PROVISION_TOKEN_FAILURES_PER_ADDRESS", "30")),
            gitlab_com_admin_email=env.get("PROVISION_GITLAB_COM_ADMIN_EMAIL") or None,
            gitlab_com_admin_token=env.get("PROVISION_GITLAB_COM_ADMIN_TOKEN") or None,
            external_issuer=env.get("PROVISION_EXTERNAL_ISSUER") or None,
            external_jwks_url=env.get("PROVISION_EXTERNAL_JWKS_URL") or None,
            external_audience=env.get("PROVISION_EXTERNAL_AUDIENCE") or None,
            external_kind=env.get("PROVISION_EXTERNAL_KIND", "PORTAL_USER"),
            external_subject_claim=env.get("PROVISION_EXTERNAL_SUBJECT_CLAIM", "sub"),
            external_subject_prefix=env.get("PROVISION_EXTERNAL_SUBJECT_PREFIX", "ext:"),
            external_email_claim=env.get("PROVISION_EXTERNAL_EMAIL_CLAIM", "email"),
            external_scope_claim=env.get("PROVISION_EXTERNAL_SCOPE_CLAIM", "scope"),
            external_partner_claim=env.get("PROVISION_EXTERNAL_PARTNER_CLAIM") or None,
            worker_concurrency=int(env.get("PROVISION_WORKER_CONCURRENCY", "16")),
            worker_lease_seconds=float(env.get("PROVISION_WORKER_LEASE_SECONDS", "60")),
            worker_poll_seconds=float(env.get("PROVISION_WORKER_POLL_SECONDS", "1")),
            worker_grace_seconds=float(env.get("PROVISION_WORKER_GRACE_SECONDS", "20")),
            worker_http_timeout_seconds=float(env.get("PROVISION_WORKER_HTTP_TIMEOUT", "10")),
            worker_plugins=tuple(
                p.strip() for p in env.get("PROVISION_WORKER_PLUGINS", "").split(",") if p.strip()
            ),
            ledger_max_attempts=int(env.get("PROVISION_LEDGER_MAX_ATTEMPTS", "8")),
            ledger_backoff_base_seconds=float(
                env.get("PROVISION_LEDGER_BACKOFF_BASE_SECONDS", "2")
            ),
            ledger_backoff_max_seconds=float(
                env.get("PROVISION_LEDGER_BACKOFF_MAX_SECONDS", "600")
            ),
            alert_webhook_url=env.get("PROVISION_ALERT_WEBHOOK_URL") or None,
            alert_failures_threshold=int(env.get("PROVISION_ALERT_FAILURES", "0")),
            alert_failures_window_seconds=int(env.get("PROVISION_ALERT_FAILURES_WINDOW", "600")),
            metrics_token=env.get("PROVISION_METRICS_TOKEN") or None,
            gitlab_com_url=env.get("GITLAB_COM_URL") or None,
            trial_provision_timeout_seconds=float(
                env.get("PROVISION_TRIAL_PROVISION_TIMEOUT", "5")
            ),
            smtp_url=env.get("SMTP_URL") or None,
            mail_dir=Path(env.get("PROVISION_MAIL_DIR") or ".provision/mail"),
            mail_from=env.get("PROVISION_MAIL_FROM") or "Provision <noreply@provision.localhost>",
            mail_trial_ending_days=int(env.get("PROVISION_MAIL_TRIAL_ENDING_DAYS", "7")),
            mail_subscription_expiring_days=int(
                env.get("PROVISION_MAIL_SUBSCRIPTION_EXPIRING_DAYS", "30")
            ),
            mail_reminders_every_seconds=float(
                env.get("PROVISION_MAIL_REMINDERS_EVERY_SECONDS", "3600")
            ),
            webhooks_allow_http_loopback=_flag(
                env.get("PROVISION_WEBHOOKS_ALLOW_HTTP_LOOPBACK"), False
            ),
            webhook_retry_hours=float(env.get("PROVISION_WEBHOOK_RETRY_HOURS", "24")),
        )

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
    def embedded_data_dir(self) -> Path:
        """Where the embedded PostgreSQL keeps its data when no DATABASE_URL is set."""
        return (self.data_dir / "postgres").resolve()

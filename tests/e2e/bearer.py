"""Access tokens for e2e tests, signed by the app's own key ring."""

from __future__ import annotations

import uuid
from datetime import datetime

from starlette.applications import Starlette

from api.settings import Settings
from auth.backend import EMAIL_CLAIM, KIND_CLAIM, PARTNER_CLAIM, SUBSCRIPTION_CLAIM
from auth.keys import KeyRing
from auth.tokens import issue_access_token
from domain.policy import grantable
from domain.principal import PrincipalKind

SETTINGS = Settings().token_settings
# GitLab.com's admin header pair, as configured on the ``gitlab_com_app`` fixture.
ADMIN = {"X-Admin-Email": "gl_com_api@gitlab.test", "X-Admin-Token": "s3cret-portal-token"}


def token_for(
    app: Starlette,
    kind: PrincipalKind = PrincipalKind.STAFF,
    *,
    subject: str | None = None,
    scopes: frozenset[str] | None = None,
    partner: str | None = None,
    subscription: uuid.UUID | None = None,
    email: str | None = None,
    now: datetime | None = None,
    ring: KeyRing | None = None,
    **extra: object,
) -> str:
    """A token for ``kind`` with every scope the kind may hold unless ``scopes`` says less.

    Issued at the app's own clock's "now" unless ``now`` says otherwise.
    """
    claims: dict[str, object] = {KIND_CLAIM: kind.value, **extra}
    if partner is not None:
        claims[PARTNER_CLAIM] = partner
    if subscription is not None:
        claims[SUBSCRIPTION_CLAIM] = str(subscription)
    if email is not None:
        claims[EMAIL_CLAIM] = email
    return issue_access_token(
        ring or app.state.keys(),
        SETTINGS,
        now or app.state.clock.now(),
        subject=subject or f"test:{kind.value.lower()}",
        client_id="e2e-tests",
        scopes=grantable(kind) if scopes is None else scopes,
        extra=claims,
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}

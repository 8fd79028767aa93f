"""GitLab.com's ``X-Admin-Email`` / ``X-Admin-Token`` pair (protocol §1, protocols-next §3.3).

GitLab.com sends the pair on its REST calls and on every GraphQL call. The pair configured
here authenticates as the GitLab.com principal; there are no default values. Self-managed
instances send the pair too (on ``cloudActivationActivate``), with GitLab's public defaults:
those are no secret, so they are ignored, never refused and never accepted.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from starlette.datastructures import Headers

EMAIL_HEADER = "x-admin-email"
TOKEN_HEADER = "x-admin-token"  # noqa: S105 - a header name
# GitLab's defaults for SUBSCRIPTION_PORTAL_ADMIN_EMAIL/TOKEN (lib/gitlab/subscription_portal.rb).
PUBLIC_DEFAULT_TOKEN = "customer_admin_token"  # noqa: S105 - public, hence refused


@dataclass(frozen=True)
class AdminPair:
    """The configured pair. Compared in constant time, both halves always compared."""

    email: str
    token: str

    def __post_init__(self) -> None:
        if not self.email or not self.token:
            raise ValueError("both the admin email and the admin token are needed")
        if self.token == PUBLIC_DEFAULT_TOKEN:
            raise ValueError("GitLab's public default admin token is no secret")

    def matches(self, email: str, token: str) -> bool:
        email_ok = hmac.compare_digest(email.encode(), self.email.encode())
        token_ok = hmac.compare_digest(token.encode(), self.token.encode())
        return email_ok and token_ok


def sent_pair(headers: Headers) -> tuple[str, str] | None:
    """The pair a request claims, or None when it claims none (or GitLab's public default,
    which self-managed instances send and which stands for nobody)."""
    email = headers.get(EMAIL_HEADER)
    token = headers.get(TOKEN_HEADER)
    if email is None and token is None:
        return None
    if token == PUBLIC_DEFAULT_TOKEN:
        return None
    return email or "", token or ""

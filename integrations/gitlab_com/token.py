"""The ``X-Customers-Dot-Internal-Token`` JWT for GitLab.com's internal subscription API
(protocol §6): signed with our current key, which GitLab finds through our OpenID discovery
document and JWKS, and short-lived (a fresh one per call).

It is not an access token for our API: its audience is GitLab's and its ``typ`` is ``JWT``,
while our resource side accepts only ``at+jwt`` tokens for our own audience.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from joserfc import jwt

from auth.keys import ALGORITHM, KeyRing

HEADER = "X-Customers-Dot-Internal-Token"
SUBJECT = "customers-dot-internal-api"
AUDIENCE = "gitlab-subscriptions"
LIFETIME = timedelta(minutes=5)


def issue_internal_token(
    ring: KeyRing, issuer: str, now: datetime, lifetime: timedelta = LIFETIME
) -> str:
    """A JWT with iss = our issuer, sub = customers-dot-internal-api, aud = gitlab-subscriptions."""
    key = ring.current
    issued = int(now.timestamp())
    claims = {
        "iss": issuer,
        "sub": SUBJECT,
        "aud": AUDIENCE,
        "iat": issued,
        "nbf": issued,
        "exp": issued + int(lifetime.total_seconds()),
        "jti": secrets.token_urlsafe(16),
    }
    header = {"alg": ALGORITHM, "kid": key.kid, "typ": "JWT"}
    return jwt.encode(header, claims, key.key, algorithms=[ALGORITHM])

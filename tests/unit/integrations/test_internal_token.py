"""The X-Customers-Dot-Internal-Token: GitLab's claims, short-lived, signed by our current key,
and never accepted by our own API as an access token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from joserfc import jwt

from auth.keys import KeyRing, new_key
from auth.tokens import InvalidToken, TokenSettings, validate_access_token
from integrations.gitlab_com.token import issue_internal_token

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def ring() -> KeyRing:
    return KeyRing((new_key(NOW),))


def test_claims_and_signature(ring: KeyRing) -> None:
    token = issue_internal_token(ring, "https://portal.example", NOW)
    decoded = jwt.decode(token, ring.verification_keys(NOW, timedelta(minutes=15)))
    assert decoded.header["kid"] == ring.current.kid
    claims = decoded.claims
    assert (claims["iss"], claims["sub"], claims["aud"]) == (
        "https://portal.example",
        "customers-dot-internal-api",
        "gitlab-subscriptions",
    )
    assert claims["exp"] - claims["iat"] == 300
    assert issue_internal_token(ring, "https://portal.example", NOW) != token  # fresh jti


def test_it_is_no_access_token_for_our_api(ring: KeyRing) -> None:
    token = issue_internal_token(ring, "https://portal.example", NOW)
    settings = TokenSettings(issuer="https://portal.example", audience="gitlab-subscriptions")
    with pytest.raises(InvalidToken):
        validate_access_token(ring, settings, token, NOW)

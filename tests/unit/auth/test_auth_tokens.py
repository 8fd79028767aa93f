"""Access tokens: what is accepted, and each way a token is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest

from auth.keys import KeyRing, SigningKey, new_key
from auth.tokens import InvalidToken, TokenSettings, issue_access_token, validate_access_token

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SETTINGS = TokenSettings(issuer="https://provision.test", audience="provision-api")


def _ring(*keys: SigningKey) -> KeyRing:
    return KeyRing(keys)


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return new_key(NOW)


def _token(ring: KeyRing, settings: TokenSettings = SETTINGS, at: datetime = NOW) -> str:
    return issue_access_token(
        ring, settings, at, subject="user:ada", client_id="portal", scopes=["customers:read"]
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_a_fresh_token_carries_the_rfc_9068_claims(key: SigningKey) -> None:
    claims = validate_access_token(_ring(key), SETTINGS, _token(_ring(key)), NOW)
    assert claims["iss"] == SETTINGS.issuer
    assert claims["aud"] == SETTINGS.audience
    assert claims["sub"] == "user:ada"
    assert claims["client_id"] == "portal"
    assert claims["scope"] == "customers:read"
    assert claims["exp"] - claims["iat"] == 15 * 60
    assert claims["jti"]
    header = json.loads(_unb64(_token(_ring(key)).split(".")[0]))
    assert header == {"alg": "RS256", "kid": key.kid, "typ": "at+jwt"}


def test_a_tampered_payload_is_refused(key: SigningKey) -> None:
    header, payload, signature = _token(_ring(key)).split(".")
    claims = json.loads(_unb64(payload))
    claims["sub"] = "staff:root"
    forged = ".".join([header, _b64(json.dumps(claims).encode()), signature])
    with pytest.raises(InvalidToken):
        validate_access_token(_ring(key), SETTINGS, forged, NOW)


@pytest.mark.parametrize(
    "settings",
    [
        TokenSettings(issuer="https://evil.test", audience="provision-api"),
        TokenSettings(issuer="https://provision.test", audience="someone-else"),
    ],
)
def test_wrong_issuer_or_audience_is_refused(key: SigningKey, settings: TokenSettings) -> None:
    token = _token(_ring(key), settings)
    with pytest.raises(InvalidToken):
        validate_access_token(_ring(key), SETTINGS, token, NOW)


def test_an_expired_token_is_refused(key: SigningKey) -> None:
    token = _token(_ring(key))
    validate_access_token(_ring(key), SETTINGS, token, NOW + timedelta(minutes=15))
    with pytest.raises(InvalidToken):
        validate_access_token(_ring(key), SETTINGS, token, NOW + timedelta(minutes=16))


def test_an_unknown_kid_is_refused(key: SigningKey) -> None:
    other = new_key(NOW)
    with pytest.raises(InvalidToken):
        validate_access_token(_ring(key), SETTINGS, _token(_ring(other)), NOW)


def test_alg_none_is_refused(key: SigningKey) -> None:
    _, payload, _ = _token(_ring(key)).split(".")
    header = _b64(json.dumps({"alg": "none", "kid": key.kid, "typ": "at+jwt"}).encode())
    with pytest.raises(InvalidToken):
        validate_access_token(_ring(key), SETTINGS, f"{header}.{payload}.", NOW)


def test_hs256_signed_with_the_public_key_is_refused(key: SigningKey) -> None:
    _, payload, _ = _token(_ring(key)).split(".")
    header = _b64(json.dumps({"alg": "HS256", "kid": key.kid, "typ": "at+jwt"}).encode())
    public_pem = key.key.as_pem(private=False)
    signature = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    with pytest.raises(InvalidToken):
        validate_access_token(_ring(key), SETTINGS, f"{header}.{payload}.{_b64(signature)}", NOW)


def test_garbage_is_refused(key: SigningKey) -> None:
    for token in ("", "a.b", "a.b.c", "not a token at all"):
        with pytest.raises(InvalidToken):
            validate_access_token(_ring(key), SETTINGS, token, NOW)


def test_tokens_signed_before_a_rotation_work_until_they_expire(key: SigningKey) -> None:
    old_token = _token(_ring(key))
    rotated_at = NOW + timedelta(minutes=5)
    retired = SigningKey(key.kid, key.key, key.created_at, retired_at=rotated_at)
    fresh = new_key(rotated_at)
    ring = _ring(retired, fresh)
    assert ring.current.kid == fresh.kid
    assert validate_access_token(ring, SETTINGS, old_token, NOW + timedelta(minutes=10))
    published = {
        k["kid"] for k in ring.jwks(NOW + timedelta(minutes=10), SETTINGS.lifetime)["keys"]
    }
    assert published == {key.kid, fresh.kid}
    # A lifetime after the rotation the old key is gone from the JWKS and verifies nothing.
    later = rotated_at + SETTINGS.lifetime + timedelta(seconds=1)
    assert {k["kid"] for k in ring.jwks(later, SETTINGS.lifetime)["keys"]} == {fresh.kid}
    assert "d" not in ring.jwks(later, SETTINGS.lifetime)["keys"][0]  # public parts only


def test_a_revoked_clients_tokens_are_refused(key: SigningKey) -> None:
    token = _token(_ring(key))
    assert validate_access_token(KeyRing((key,), frozenset({"other"})), SETTINGS, token, NOW)
    with pytest.raises(InvalidToken, match="client is revoked"):
        validate_access_token(KeyRing((key,), frozenset({"portal"})), SETTINGS, token, NOW)

"""How secrets are kept: SHA-256 for high-entropy random secrets (client secrets, codes,
refresh tokens), scrypt for passwords (people choose them, so they must be slow to guess)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

_SCRYPT_N = 2**14
_SCRYPT_R = 8
_SCRYPT_P = 1
_SCRYPT_LENGTH = 32
_SCHEME = "scrypt"


def digest(secret: str) -> str:
    """The stored form of a random secret: its SHA-256, hex."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def random_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def matches_digest(secret: str, stored: str | None) -> bool:
    if stored is None:
        return False
    return hmac.compare_digest(digest(secret), stored)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8", "surrogatepass"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        dklen=_SCRYPT_LENGTH,
        maxmem=2 * 128 * n * r * p,
    )


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash`` (base64); CPU- and memory-hard. Call it off the event loop."""
    salt = secrets.token_bytes(16)
    key = _scrypt(password, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    return f"{_SCHEME}${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(key)}"


# Verified against when the email is unknown, so that a wrong email costs as long as a wrong
# password and the response time does not tell whether an account exists.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def verify_password(password: str, stored: str | None) -> bool:
    """Constant-time check; ``stored=None`` (no such account) burns the same time and fails."""
    candidate = stored or _DUMMY_HASH
    try:
        scheme, n, r, p, salt, key = candidate.split("$")
        if scheme != _SCHEME:
            return False
        computed = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(computed, base64.b64decode(key)) and stored is not None

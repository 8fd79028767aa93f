"""Activation codes: the credential a self-managed instance activates with (DESIGN §2).

24 characters from ``[A-Z0-9]``, drawn from a CSPRNG; only a hash is stored, so a leaked
database does not leak working codes.
"""

from __future__ import annotations

import hashlib
import re
import secrets

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
LENGTH = 24
_FORMAT = re.compile(rf"[A-Z0-9]{{{LENGTH}}}")


def new_activation_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def is_activation_code(value: str) -> bool:
    return _FORMAT.fullmatch(value) is not None


def hash_activation_code(code: str) -> str:
    """What is stored: codes are random and long, so a plain SHA-256 is enough (no KDF).

    Any string hashes (a guess in any script keys the failure limit), and a well-formed code,
    being ASCII, hashes as it always has."""
    return hashlib.sha256(code.encode("utf-8", "surrogatepass")).hexdigest()

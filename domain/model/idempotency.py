"""Idempotency keys: a retried mutation with the same key returns the first result; the same
key with a different input is refused (DESIGN §4)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.errors import ValidationFailed

MAX_KEY_LENGTH = 200


def check_idempotency_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise ValidationFailed(
            f"an idempotency key has 1 to {MAX_KEY_LENGTH} characters", path=("idempotencyKey",)
        )
    return key


def fingerprint(request: dict[str, Any]) -> str:
    """A stable digest of what was asked (the key itself excluded by the caller)."""
    text = json.dumps(request, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class IdempotencyRecord:
    """The first result of a keyed mutation, kept to answer its retries."""

    scope: str
    operation: str
    key: str
    fingerprint: str
    result: dict[str, Any]
    created_at: datetime

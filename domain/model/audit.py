"""Audit entries: who did what to which object, when, and what changed (DESIGN §2)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.model.ids import new_id
from domain.principal import Principal

SYSTEM_ACTOR = "SYSTEM"
"""The ``actor_kind`` of what a job did on someone's behalf (no principal called)."""


@dataclass(frozen=True)
class AuditEntry:
    """One mutation's record, written in the same transaction as the change."""

    actor_kind: str
    actor_subject: str | None
    action: str
    object_type: str
    object_id: uuid.UUID | None
    at: datetime
    before: Mapping[str, Any]
    after: Mapping[str, Any]
    idempotency_key: str | None = None
    id: uuid.UUID = field(default_factory=new_id)
    reason: str | None = None
    # Its place in the audit chain (docs/audit.md), set when it is appended; None before.
    chain: str | None = None
    sequence: int | None = None
    previous_hash: str | None = None
    hash: str | None = None

    @classmethod
    def of(
        cls,
        principal: Principal,
        action: str,
        object_type: str,
        object_id: uuid.UUID | None,
        at: datetime,
        *,
        before: Mapping[str, Any] | None = None,
        after: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        reason: str | None = None,
    ) -> AuditEntry:
        """An entry keeping only the fields that changed (all of ``after`` for a creation)."""
        old, new = dict(before or {}), dict(after or {})
        changed = {k for k in old.keys() | new.keys() if old.get(k) != new.get(k)}
        return cls(
            actor_kind=principal.kind.value,
            actor_subject=principal.subject,
            action=action,
            object_type=object_type,
            object_id=object_id,
            at=at,
            before={k: old[k] for k in sorted(changed) if k in old},
            after={k: new[k] for k in sorted(changed) if k in new},
            idempotency_key=idempotency_key,
            reason=reason,
        )

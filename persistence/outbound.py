"""What the outbound handlers read and write on the database: a running step's progress on its
row (the row is the history: per-section results of a provisioning call, an email's delivery
mark; fenced by the lease like every outcome), and a license's key for its email."""

from __future__ import annotations

import uuid

import orjson

from domain.model.provision_event import ProvisionEvent
from persistence.database import Database

_SAVE_PAYLOAD = (
    "UPDATE provision_event SET payload = $3::jsonb"
    " WHERE id = $1 AND status = 'RUNNING' AND lease_owner = $2 RETURNING id"
)


async def save_payload(db: Database, event: ProvisionEvent) -> bool:
    """Store ``event.payload`` while its claimer still holds the row; whether it did (a worker
    whose lease was taken over does not overwrite the new owner's progress)."""
    if event.lease_owner is None:
        return False
    rows = await db.fetch(
        _SAVE_PAYLOAD, event.id, event.lease_owner, orjson.dumps(event.payload).decode()
    )
    return bool(rows)


async def license_key(db: Database, license_id: uuid.UUID) -> str | None:
    """The signed key of a license (attached to its email), or None when it is gone."""
    key: str | None = await db.fetchval("SELECT license_key FROM license WHERE id = $1", license_id)
    return key

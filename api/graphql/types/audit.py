"""The audit trail: who did what to which object, when, and what changed."""

from __future__ import annotations

from datetime import datetime
from typing import cast

import strawberry
from strawberry.scalars import JSON

from api.graphql.enums import ActorKind, actor_kind
from api.graphql.types.node import Node
from api.ids import PREFIXES, global_id
from domain.model.audit import AuditEntry


@strawberry.type(
    name="AuditEntry",
    description="One mutation's record, written in the same transaction as the change.",
)
class AuditEntryNode(Node):
    _global_type = "AuditEntry"
    entity: strawberry.Private[AuditEntry]

    @strawberry.field(description="Who made the change: the caller's kind, or SYSTEM for a job.")
    def actor_kind(self) -> ActorKind:
        return actor_kind(self.entity.actor_kind)

    @strawberry.field(description="The caller's token subject, if any.")
    def actor_subject(self) -> str | None:
        return self.entity.actor_subject

    @strawberry.field(description="The mutation, like `cancelSubscription`.")
    def action(self) -> str:
        return self.entity.action

    @strawberry.field(description="The type of the object changed, like `Subscription`.")
    def object_type(self) -> str:
        return self.entity.object_type

    @strawberry.field(
        description="The object's global ID when its type has one (pass it to `node`),"
        " else its raw id."
    )
    def object_id(self) -> str | None:
        entity = self.entity
        if entity.object_id is None:
            return None
        if entity.object_type in PREFIXES:
            return global_id(entity.object_type, entity.object_id)
        return str(entity.object_id)

    @strawberry.field(description="The idempotency key the caller sent, if any.")
    def idempotency_key(self) -> str | None:
        return self.entity.idempotency_key

    @strawberry.field(description="The changed fields as they were (absent: did not exist).")
    def before(self) -> JSON:
        return cast(JSON, dict(self.entity.before))

    @strawberry.field(description="The changed fields as they became.")
    def after(self) -> JSON:
        return cast(JSON, dict(self.entity.after))

    @strawberry.field(description="When it happened.")
    def at(self) -> datetime:
        return self.entity.at

    @strawberry.field(description="Why, when the caller gave a reason.")
    def reason(self) -> str | None:
        return self.entity.reason

    @strawberry.field(
        description="The audit chain it is on, like `lane-00` (concurrent mutations append to"
        " several; docs/audit.md)."
    )
    def chain(self) -> str | None:
        return self.entity.chain

    @strawberry.field(
        description="Its place in its audit chain: 1 for the chain's first entry, then one"
        " more each."
    )
    def sequence(self) -> int | None:
        return self.entity.sequence

    @strawberry.field(
        description="The SHA-256 (hex) of the previous entry in the chain (64 zeros for the first)."
    )
    def previous_hash(self) -> str | None:
        return self.entity.previous_hash

    @strawberry.field(
        description="The SHA-256 (hex) of this entry's canonical form, which includes"
        " `previousHash`: `provision audit verify` recomputes it."
    )
    def hash(self) -> str | None:
        return self.entity.hash


def audit_entry_node(entity: AuditEntry) -> AuditEntryNode:
    return AuditEntryNode(entity=entity)

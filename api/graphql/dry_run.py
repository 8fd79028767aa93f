"""``dryRun: true`` on every mutation (docs/dry-runs.md), applied at schema build.

``with_dry_runs(Mutation)`` gives every Mutation field a ``dryRun: Boolean = false`` argument
and ``DryRunField`` (a field extension, after the field's permission check), and gives every
payload type a ``dryRun: DryRunEffects`` field (null unless the mutation was a dry run). The
``DryRuns`` schema extension gives each operation a ``persistence.dry_run.DryRun``: the first
dry-run field opens it, the payloads are resolved inside it (the objects as they would be,
read by the usual loaders), and it is rolled back when the operation ends.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, cast

import strawberry
from graphql import BooleanValueNode, FieldNode, OperationDefinitionNode, VariableNode
from strawberry.annotation import StrawberryAnnotation
from strawberry.extensions import FieldExtension, SchemaExtension
from strawberry.scalars import JSON
from strawberry.types.arguments import StrawberryArgument
from strawberry.types.field import StrawberryField
from strawberry.types.fields.resolver import StrawberryResolver

from api.graphql.enums import ActorKind, ProvisionEventKind, actor_kind, provision_event_kind
from api.graphql.errors import api_error
from api.ids import PREFIXES, global_id
from domain.errors import ValidationFailed
from domain.principal import PrincipalKind
from persistence import dry_run
from persistence.dry_run import DryRun, Written

ARGUMENT = "dry_run"
DESCRIPTION = (
    "Answer with the full effect (the payload as it would be, and `dryRun`) without"
    " committing or sending anything."
)
# Ledger kinds a caller other than staff is not told of: they name receivers it may not see.
_STAFF_ONLY_KINDS = frozenset({"WEBHOOK_DELIVERY", "ALERT"})


@strawberry.type(description="One table's rows a dry run wrote (staff).")
class DryRunTableWrites:
    table: str = strawberry.field(description="The table.")
    written: int = strawberry.field(description="Rows inserted or updated.")
    deleted: int = strawberry.field(description="Rows deleted.")


@strawberry.type(description="A license a dry run would issue or change.")
class DryRunLicense:
    id: strawberry.ID = strawberry.field(description="The License's ID it would have.")
    subscription_id: strawberry.ID = strawberry.field(description="Its Subscription.")
    mode: str = strawberry.field(description="Its licensing mode.")
    plan: str = strawberry.field(description="Its plan.")
    seats: int = strawberry.field(description="Its seats.")
    starts_at: datetime.date = strawberry.field(description="First day.")
    expires_at: datetime.date = strawberry.field(description="Expiry day.")
    trial: bool = strawberry.field(description="A trial license.")
    cancelled: bool = strawberry.field(description="A cancellation key.")


@strawberry.type(
    description="A provisioning ledger row a dry run would record: a namespace provisioning"
    " call, a Dedicated step, an email, a webhook delivery... (docs/ledger.md). Recorded, it"
    " would be sent by the worker; a dry run sends nothing."
)
class DryRunLedgerStep:
    id: strawberry.ID = strawberry.field(description="The ProvisionEvent's ID it would have.")
    kind: ProvisionEventKind = strawberry.field(description="What it does.")
    subscription_id: strawberry.ID | None = strawberry.field(description="Its Subscription.")
    namespace_id: strawberry.ID | None = strawberry.field(description="Its Namespace.")
    instance_id: strawberry.ID | None = strawberry.field(description="Its Instance.")
    next_attempt_at: datetime.datetime = strawberry.field(description="When it would be due.")
    payload: JSON | None = strawberry.field(
        description="The handler's input: the email's template and recipients, the call's"
        " body (staff; null for others)."
    )


@strawberry.type(description="An audit entry a dry run would write.")
class DryRunAuditEntry:
    action: str = strawberry.field(description="The mutation, like `cancelSubscription`.")
    object_type: str = strawberry.field(description="The type of the object changed.")
    object_id: str | None = strawberry.field(description="The object's global ID (or raw id).")
    actor_kind: ActorKind = strawberry.field(description="Who would make the change.")
    actor_subject: str | None = strawberry.field(description="The caller's token subject.")
    reason: str | None = strawberry.field(description="The reason given.")
    idempotency_key: str | None = strawberry.field(description="The key sent, if any.")
    before: JSON | None = strawberry.field(description="The fields as they were (staff).")
    after: JSON | None = strawberry.field(description="The fields as they would be (staff).")


@strawberry.type(
    description="What a dry run would have done: written inside a transaction that was rolled"
    " back (docs/dry-runs.md)."
)
class DryRunEffects:
    licenses: list[DryRunLicense] = strawberry.field(
        description="Licenses that would be issued, or changed (a revoked or cancelled one)."
    )
    ledger_steps: list[DryRunLedgerStep] = strawberry.field(
        description="What would be sent: provisioning calls, Dedicated steps, emails, webhook"
        " deliveries (those and alerts to staff only)."
    )
    audit_entries: list[DryRunAuditEntry] = strawberry.field(
        description="The audit entries that would be written."
    )
    subscription_ids: list[strawberry.ID] = strawberry.field(
        description="Subscriptions that would be created or changed."
    )
    activation_codes: int = strawberry.field(
        description="Activation codes that would be issued (the code is in the payload)."
    )
    tables: list[DryRunTableWrites] | None = strawberry.field(
        description="Every table's rows written or deleted (staff; null for others)."
    )


# --- From the rows written to the answer ---------------------------------------------------


def _id(type_name: str, value: Any) -> strawberry.ID | None:
    if value is None:
        return None
    return strawberry.ID(global_id(type_name, uuid.UUID(str(value))))


def _instant(value: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(value)


def effects_of(written: Written, *, staff: bool) -> DryRunEffects:
    licenses = [
        DryRunLicense(
            id=strawberry.ID(global_id("License", uuid.UUID(row["id"]))),
            subscription_id=strawberry.ID(
                global_id("Subscription", uuid.UUID(row["subscription"]))
            ),
            mode=row["mode"],
            plan=row["plan"],
            seats=row["seats"],
            starts_at=datetime.date.fromisoformat(row["starts_at"]),
            expires_at=datetime.date.fromisoformat(row["expires_at"]),
            trial=row["trial"],
            cancelled=row["cancelled"],
        )
        for row in sorted(written.of("license"), key=lambda row: row["id"])
    ]
    steps = [
        DryRunLedgerStep(
            id=strawberry.ID(global_id("ProvisionEvent", uuid.UUID(row["id"]))),
            kind=provision_event_kind(row["kind"]),
            subscription_id=_id("Subscription", row["subscription_id"]),
            namespace_id=_id("Namespace", row["namespace_id"]),
            instance_id=_id("Instance", row["instance_id"]),
            next_attempt_at=_instant(row["next_attempt_at"]),
            payload=cast(JSON, row["payload"]) if staff else None,
        )
        for row in sorted(written.of("provision_event"), key=lambda row: row["id"])
        if staff or row["kind"] not in _STAFF_ONLY_KINDS
    ]
    audits = [
        DryRunAuditEntry(
            action=row["action"],
            object_type=row["object_type"],
            object_id=_object_id(row["object_type"], row["object_id"]),
            actor_kind=actor_kind(row["actor_kind"]),
            actor_subject=row["actor_subject"],
            reason=row["reason"],
            idempotency_key=row["idempotency_key"],
            before=cast(JSON, row["before"]) if staff else None,
            after=cast(JSON, row["after"]) if staff else None,
        )
        for row in sorted(written.of("audit_entry"), key=lambda row: (row["at"], row["id"]))
    ]
    subscriptions = [
        strawberry.ID(global_id("Subscription", uuid.UUID(row["id"])))
        for row in sorted(written.of("subscription"), key=lambda row: row["id"])
    ]
    tables = None
    if staff:
        names = sorted(set(written.rows) | set(written.deleted))
        tables = [
            DryRunTableWrites(
                table=name,
                written=len(written.of(name)),
                deleted=written.deleted.get(name, 0),
            )
            for name in names
        ]
    return DryRunEffects(
        licenses=licenses,
        ledger_steps=steps,
        audit_entries=audits,
        subscription_ids=subscriptions,
        activation_codes=len(written.of("activation_code")),
        tables=tables,
    )


def _object_id(object_type: str, object_id: str | None) -> str | None:
    if object_id is None:
        return None
    if object_type in PREFIXES:
        return global_id(object_type, uuid.UUID(object_id))
    return object_id


# --- The mechanism -------------------------------------------------------------------------


class DryRuns(SchemaExtension):
    """Each operation's dry run: rolled back (if a field opened it) when the operation ends."""

    async def on_execute(self) -> AsyncIterator[None]:
        run = DryRun()
        with run.entered():
            try:
                yield
            finally:
                await run.close()


def _dry_flags(operation: OperationDefinitionNode, variables: dict[str, Any]) -> list[bool]:
    """Each root field's ``dryRun`` in the operation (its literal or variable)."""
    flags = []
    for selection in operation.selection_set.selections:
        if not isinstance(selection, FieldNode):
            continue
        flag = False
        for argument in selection.arguments or ():
            if argument.name.value != "dryRun":
                continue
            value = argument.value
            if isinstance(value, BooleanValueNode):
                flag = value.value
            elif isinstance(value, VariableNode):
                flag = bool(variables.get(value.name.value))
        flags.append(flag)
    return flags


class DryRunField(FieldExtension):
    """Runs the mutation for real, or as a dry run inside the operation's ``DryRun``."""

    async def resolve_async(
        self, next_: Callable[..., Awaitable[Any]], source: Any, info: Any, **kwargs: Any
    ) -> Any:
        dry = bool(kwargs.pop(ARGUMENT, False))
        flags = _dry_flags(info.operation, info.variable_values or {})
        if any(flags) and not all(flags):
            raise api_error(
                ValidationFailed(
                    "an operation's mutations are all dry runs or none: send them separately",
                    path=("dryRun",),
                )
            )
        if not dry:
            return await next_(source, info, **kwargs)
        run = dry_run.current()
        if run is None:
            scoped = dry_run._CURRENT.get()
            if scoped is None:
                raise RuntimeError("dry runs need the DryRuns schema extension")
            await scoped.open(info.context.read.database)
            run = scoped
        mark = await run.mark()
        try:
            payload = await next_(source, info, **kwargs)
        except BaseException:
            await run.undo(mark)
            raise
        written = await run.written(mark)
        staff = info.context.principal.kind is PrincipalKind.STAFF
        run.effects.append((payload, effects_of(written, staff=staff)))
        return payload


def _effects_of_payload(
    root: strawberry.Parent[Any], info: strawberry.Info
) -> DryRunEffects | None:
    run = dry_run._CURRENT.get()
    if run is None:
        return None
    for payload, effects in run.effects:
        if payload is root:
            return cast(DryRunEffects, effects)
    return None


def _payload_type(field: StrawberryField) -> Any:
    kind = field.type
    while hasattr(kind, "of_type"):
        kind = kind.of_type
    return kind


def with_dry_runs(mutation: type) -> type:
    """Give every field of ``mutation`` the ``dryRun`` argument and extension, and every
    payload type the ``dryRun`` field (idempotent)."""
    definition = mutation.__strawberry_definition__  # type: ignore[attr-defined]
    for field in definition.fields:
        if any(argument.python_name == ARGUMENT for argument in field.arguments):
            continue
        field.arguments = [
            *field.arguments,
            StrawberryArgument(
                python_name=ARGUMENT,
                graphql_name=None,
                type_annotation=StrawberryAnnotation(bool | None),
                default=False,
                description=DESCRIPTION,
            ),
        ]
        field.extensions = [*field.extensions, DryRunField()]
        payload = _payload_type(field)
        payload_definition = payload.__strawberry_definition__
        if not any(f.python_name == ARGUMENT for f in payload_definition.fields):
            effects = StrawberryField(
                python_name=ARGUMENT,
                graphql_name=None,
                type_annotation=StrawberryAnnotation(DryRunEffects | None),
                description="What the mutation would have done, when it was a dry run"
                " (`dryRun: true`); null otherwise.",
                base_resolver=StrawberryResolver(_effects_of_payload),
            )
            effects.origin = payload
            payload_definition.fields.append(effects)
    return mutation

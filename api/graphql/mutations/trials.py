"""applyTrial, extendTrial, reactivateTrial, and the trialEligibility query."""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry

from api.graphql.context import Info
from api.graphql.enums import ErrorCode, TrialType
from api.graphql.errors import api_error
from api.graphql.mutations.outcome import as_payload, outcome
from api.graphql.types.mutation_error import MutationError
from api.graphql.types.nodes import NamespaceNode, TrialNode, namespace_node, trial_node
from api.ids import parse_typed_id
from domain.errors import DomainError, ValidationFailed
from domain.model import enums as model
from domain.use_cases.trials import ApplyTrial, TrialChanged

MAX_ELIGIBILITY_NAMESPACES = 100


@strawberry.input(description="Which trial for which top-level group.")
class ApplyTrialInput:
    namespace_id: strawberry.ID = strawberry.field(description="A top-level group.")
    type: TrialType = strawberry.field(
        description="ULTIMATE, ULTIMATE_ON_PREMIUM or DUO_ENTERPRISE."
    )
    idempotency_key: str | None = strawberry.field(
        default=None, description="Retry-safe: the same key returns the first result."
    )


@strawberry.input(description="Which trial.")
class TrialInput:
    trial_id: strawberry.ID = strawberry.field(description="The trial's global ID.")


@strawberry.type(description="The trial and its group, or why there is none.")
class ApplyTrialPayload:
    trial: TrialNode | None = strawberry.field(description="The trial.")
    namespace: NamespaceNode | None = strawberry.field(description="The group.")
    errors: list[MutationError] = strawberry.field(description="Empty on success.")


@strawberry.type(description="The extended trial and its group, or why it did not change.")
class ExtendTrialPayload(ApplyTrialPayload):
    """extend_trial's own payload (the fields of ApplyTrialPayload)."""


@strawberry.type(description="The reactivated trial and its group, or why it did not change.")
class ReactivateTrialPayload(ApplyTrialPayload):
    """reactivate_trial's own payload (the fields of ApplyTrialPayload)."""


@strawberry.type(description="Whether a group may have a type of trial, and why not.")
class TrialEligibility:
    namespace: NamespaceNode = strawberry.field(description="The group.")
    type: TrialType = strawberry.field(description="The trial type asked about.")
    eligible: bool = strawberry.field(description="Whether the trial can start now.")
    reason: ErrorCode | None = strawberry.field(description="Why not, when not eligible.")


def _payload(
    info: Info, changed: TrialChanged | None, errors: list[MutationError]
) -> ApplyTrialPayload:
    if changed is None:
        return ApplyTrialPayload(trial=None, namespace=None, errors=errors)
    today = info.context.today
    return ApplyTrialPayload(
        trial=trial_node(changed.trial, today),
        namespace=namespace_node(changed.namespace, today),
        errors=[],
    )


async def apply_trial(
    info: Info,
    input: Annotated[ApplyTrialInput, strawberry.argument(description="The trial asked for.")],
) -> ApplyTrialPayload:
    ctx = info.context
    changed, errors = await outcome(
        lambda: ctx.commands.trials.apply(
            ctx.principal,
            ApplyTrial(
                parse_typed_id(input.namespace_id, "Namespace", path=("namespaceId",)),
                model.TrialType[input.type.name],
                input.idempotency_key,
            ),
        )
    )
    return _payload(info, changed, errors)


async def extend_trial(
    info: Info, input: Annotated[TrialInput, strawberry.argument(description="The trial.")]
) -> ExtendTrialPayload:
    ctx = info.context
    changed, errors = await outcome(
        lambda: ctx.commands.trials.extend(ctx.principal, _trial_id(input.trial_id))
    )
    return as_payload(ExtendTrialPayload, _payload(info, changed, errors))


async def reactivate_trial(
    info: Info, input: Annotated[TrialInput, strawberry.argument(description="The trial.")]
) -> ReactivateTrialPayload:
    ctx = info.context
    changed, errors = await outcome(
        lambda: ctx.commands.trials.reactivate(ctx.principal, _trial_id(input.trial_id))
    )
    return as_payload(ReactivateTrialPayload, _payload(info, changed, errors))


def _trial_id(value: strawberry.ID) -> uuid.UUID:
    return parse_typed_id(value, "Trial", path=("trialId",))


async def trial_eligibility(
    info: Info,
    namespace_ids: Annotated[
        list[strawberry.ID], strawberry.argument(description="Up to 100 namespace IDs.")
    ],
    types: Annotated[
        list[TrialType] | None, strawberry.argument(description="The types (all when omitted).")
    ] = None,
) -> list[TrialEligibility]:
    ctx = info.context
    try:
        if len(namespace_ids) > MAX_ELIGIBILITY_NAMESPACES:
            raise ValidationFailed("at most 100 namespaces per call", path=("namespaceIds",))
        ids = [parse_typed_id(v, "Namespace", path=("namespaceIds",)) for v in namespace_ids]
        # Only namespaces the caller can see are answered for; others do not exist for it.
        visible = await ctx.read.namespaces_by_ids(ctx.principal, ids)
        wanted = [model.TrialType[t.name] for t in types] if types else list(model.TrialType)
        answers = await ctx.commands.trials.eligibility(
            ctx.principal, [i for i in ids if i in visible], wanted
        )
    except DomainError as refused:
        raise api_error(refused) from None
    return [
        TrialEligibility(
            namespace=namespace_node(a.namespace, ctx.today),
            type=TrialType[a.type.name],
            eligible=a.eligible,
            reason=ErrorCode[a.reason.code] if a.reason else None,
        )
        for a in answers
    ]

"""Running a mutation under an idempotency key (DESIGN §4)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from domain.errors import IdempotencyKeyReused
from domain.model.idempotency import IdempotencyRecord, fingerprint
from domain.ports import Clock, UnitOfWork
from domain.principal import Principal


def scope_of(principal: Principal) -> str:
    """Keys are the caller's own: two principals may use the same key independently."""
    return f"{principal.kind.value}:{principal.subject or ''}"


async def replay_or_run(
    uow: UnitOfWork,
    principal: Principal,
    operation: str,
    key: str | None,
    request: dict[str, Any],
    run: Callable[[], Awaitable[dict[str, Any]]],
    *,
    clock: Clock,
) -> tuple[dict[str, Any], bool]:
    """The first result for ``key`` (and True), or ``run()``'s result, kept under the key
    in the same transaction (and False), stamped with ``clock``'s time. Inside an entered unit
    of work; the caller commits."""
    if key is None:
        return await run(), False
    scope, digest = scope_of(principal), fingerprint(request)
    previous = await uow.idempotency.find(scope, operation, key)
    if previous is not None:
        if previous.fingerprint != digest:
            raise IdempotencyKeyReused(
                "this idempotency key was used before with a different input",
                path=("idempotencyKey",),
            )
        return dict(previous.result), True
    result = await run()
    await uow.idempotency.save(
        IdempotencyRecord(scope, operation, key, digest, result, created_at=clock.now())
    )
    return result, False

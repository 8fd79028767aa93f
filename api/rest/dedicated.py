"""The tenant provisioner's callbacks, ``POST /dedicated/callbacks`` (docs/dedicated.md).

Authenticated by an HMAC: ``X-Provisioner-Signature: sha256=<hex>`` of
``<X-Provisioner-Timestamp>.<raw body>`` under PROVISION_DEDICATED_CALLBACK_SECRET, with the
timestamp (Unix seconds) within PROVISION_DEDICATED_CALLBACK_TOLERANCE_SECONDS of the Clock's
now. Each callback is applied once, keyed on its ``id``: a replay is answered 200 with
``"applied": false`` and changes nothing.

Answers: 200 ``{"applied": true|false}``; 400 a body that is no JSON object; 401 a missing or
wrong signature or a stale timestamp; 404 an unknown tenant; 409 a move the tenant's state
refuses; 422 wrong fields; 404 when no secret is configured (no such route here).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from api.settings import Settings
from auth.request_body import read_body
from domain.errors import DomainError, NotFound, ValidationFailed
from domain.model.dedicated import TenantState, TenantTransitionRefused
from domain.ports import Clock, UnitOfWork
from domain.use_cases.dedicated import TenantCallback, apply_callback

MAX_BODY_BYTES = 16 * 1024
SIGNATURE = "X-Provisioner-Signature"
TIMESTAMP = "X-Provisioner-Timestamp"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _answer(status: int, body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _error(status: int, message: str) -> Response:
    return _answer(status, {"error": message})


def _callback(body: Any) -> TenantCallback:
    if not isinstance(body, dict):
        raise ValidationFailed("the body must be a JSON object")
    fields: dict[str, str | None] = {}
    for name in ("id", "tenant_id", "event", "state", "reason", "tenant_url"):
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            raise ValidationFailed(f"{name} must be a string", path=(name,))
        fields[name] = value
    if not fields["id"] or len(fields["id"]) > 200:
        raise ValidationFailed("id is a string of 1 to 200 characters", path=("id",))
    try:
        tenant_id = uuid.UUID(fields["tenant_id"] or "")
    except ValueError:
        raise ValidationFailed("tenant_id must be a UUID", path=("tenant_id",)) from None
    state = None
    if fields["state"] is not None:
        try:
            state = TenantState(fields["state"].upper())
        except ValueError:
            raise ValidationFailed("state is ACTIVE or GONE", path=("state",)) from None
    return TenantCallback(
        callback_id=fields["id"],
        tenant_id=tenant_id,
        event=fields["event"] or "",
        state=state,
        reason=(fields["reason"] or "")[:2000],
        tenant_url=fields["tenant_url"],
    )


def dedicated_callback_endpoint(
    unit_of_work: Callable[[], UnitOfWork], clock: Clock, settings: Settings
) -> Callable[[Request], Awaitable[Response]]:
    secret = settings.dedicated_callback_secret
    tolerance = settings.dedicated_callback_tolerance_seconds

    async def endpoint(request: Request) -> Response:
        if not secret:
            return _error(404, "callbacks are not configured")
        raw = await read_body(request, MAX_BODY_BYTES)
        if raw is None:
            return _error(400, f"the body is larger than {MAX_BODY_BYTES} bytes")
        timestamp = request.headers.get(TIMESTAMP, "")
        given = request.headers.get(SIGNATURE, "")
        if not hmac.compare_digest(given.encode(), signature(secret, timestamp, raw).encode()):
            return _error(401, "the signature does not match")
        try:
            sent_at = int(timestamp)
        except ValueError:
            return _error(401, f"{TIMESTAMP} must be Unix seconds")
        if abs(clock.now().timestamp() - sent_at) > tolerance:
            return _error(401, "the timestamp is outside the tolerance")
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return _error(400, "the body is not JSON")
        if not isinstance(body, dict):
            return _error(400, "the body must be a JSON object")
        try:
            callback = _callback(body)
            applied = await apply_callback(
                unit_of_work, clock, callback, settings.ledger_max_attempts
            )
        except NotFound as error:
            return _error(404, error.message)
        except TenantTransitionRefused as error:
            return _error(409, error.message)
        except DomainError as error:
            return _error(422, error.message)
        return _answer(200, {"applied": applied})

    return endpoint

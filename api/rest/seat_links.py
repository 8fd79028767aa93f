"""GitLab's daily license sync, ``POST /api/v1/seat_links`` (protocol §2.1 S2, §4).

No token: the license key in the body is the credential. The body is read up to a limit and
parsed strictly; both generations of GitLab's field names are accepted (``billable_users_count``
and ``timestamp``, or the older ``active_users`` and ``date``). Answers are 200 with GitLab's
keys, 400 for a body that is not a JSON object (or too large), 422 with ``errors`` for wrong
fields and for a key Provision did not issue - nothing is recorded then. Bodies are never
logged: they hold the license key.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from api.commands import Commands, SandboxTime
from auth.request_body import BadBody, read_json_object
from domain.errors import DomainError
from domain.model.future_subscription import FutureSubscription, future_subscriptions
from domain.model.input_checks import unstorable
from domain.use_cases.report_usage import ReportUsage, UsageReported
from persistence.tenant_time import acting_at

MAX_BODY_BYTES = 64 * 1024
# The domain names fields as the GraphQL input does; the REST body as GitLab does.
_FIELDS = {
    "licenseKey": "license_key",
    "instanceIdentifier": "instance_id",
    "billableUsers": "billable_users_count",
    "maxHistoricalUsers": "max_historical_user_count",
    "gitlabVersion": "gitlab_version",
    "addOnMetrics": "add_on_metrics",
    "addOnType": "add_on_metrics",
    "assignedSeats": "add_on_metrics",
}


class BadField(ValueError):
    """A field of the body has the wrong type or shape."""

    def __init__(self, name: str, expected: str) -> None:
        super().__init__(f"{name} must be {expected}")
        self.name = name


def _json(status: int, body: Mapping[str, Any]) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _failure(status: int, message: str, field: str | None = None) -> Response:
    body: dict[str, Any] = {"success": False, "errors": [message]}
    if field is not None:
        body["error_attribute_map"] = {field: [message]}
    return _json(status, body)


def _string(body: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise BadField(name, "a string")
    return value


def _count(body: Mapping[str, Any], *names: str) -> int | None:
    """The first of ``names`` present: a non-negative integer (a JSON bool is no integer)."""
    for name in names:
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadField(name, "an integer")
        return value
    return None


def _reported_at(body: Mapping[str, Any]) -> datetime:
    """``timestamp`` (ISO-8601; without an offset it is UTC), else the older ``date`` at
    midnight UTC."""
    stamp = _string(body, "timestamp")
    if stamp is not None:
        try:
            parsed = datetime.fromisoformat(stamp)
        except ValueError:
            raise BadField("timestamp", "an ISO-8601 date and time") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    day = _string(body, "date")
    if day is None:
        raise BadField("timestamp", "present (or the older date)")
    try:
        return datetime.combine(date.fromisoformat(day), time(0), tzinfo=UTC)
    except ValueError:
        raise BadField("date", "a YYYY-MM-DD date") from None


def _add_on_seats(body: Mapping[str, Any]) -> dict[str, int]:
    metrics = body.get("add_on_metrics")
    if metrics is None:
        return {}
    if not isinstance(metrics, list):
        raise BadField("add_on_metrics", "an array")
    seats: dict[str, int] = {}
    for metric in metrics:
        if not isinstance(metric, dict):
            raise BadField("add_on_metrics", "an array of objects")
        kind = _string(metric, "add_on_type", required=True)
        assigned = _count(metric, "assigned_seats")
        _count(metric, "purchased_seats")  # type-checked; the purchase is ours to know
        assert kind is not None
        seats[kind] = seats.get(kind, 0) + (assigned or 0)
    return seats


def parse_seat_link(body: Mapping[str, Any]) -> ReportUsage:
    """The report in a seat-link body; :class:`BadField` names the first bad field."""
    key = _string(body, "license_key", required=True)
    assert key is not None
    billable = _count(body, "billable_users_count", "active_users")
    if billable is None:
        raise BadField("billable_users_count", "present (or the older active_users)")
    maximum = _count(body, "max_historical_user_count")
    return ReportUsage(
        license_key=key,
        reported_at=_reported_at(body),
        billable_users=billable,
        max_historical_users=billable if maximum is None else maximum,
        instance_identifier=_string(body, "instance_id"),
        hostname=_string(body, "hostname"),
        gitlab_version=_string(body, "gitlab_version"),
        add_on_seats=_add_on_seats(body),
    )


def _future_json(future: FutureSubscription) -> dict[str, Any]:
    """GitLab's keys, the offline flag under both names (activation stores
    ``offline_cloud_license_enabled``, GitLab's resolver reads ``offline_cloud_licensing``,
    protocol §4)."""
    return {
        "cloud_license_enabled": future.cloud_license_enabled,
        "offline_cloud_license_enabled": future.offline_cloud_license_enabled,
        "offline_cloud_licensing": future.offline_cloud_license_enabled,
        "plan": future.plan,
        "name": future.name,
        "email": future.email,
        "company": future.company,
        "starts_at": future.starts_at.isoformat(),
        "expires_at": future.expires_at.isoformat(),
        "users_in_license_count": future.users_in_license_count,
    }


def seat_link_answer(reported: UsageReported) -> dict[str, Any]:
    """GitLab's keys: ``license`` only when there is a newer key than the one sent; the
    reconciliation dates only when reconciliation is enabled and a next date exists (GitLab
    removes its banner when either is missing)."""
    answer: dict[str, Any] = {
        "success": True,
        "future_subscriptions": [
            _future_json(future)
            for future in future_subscriptions(
                reported.subscription, reported.customer, reported.future_terms
            )
        ],
    }
    if reported.new_license_key is not None:
        answer["license"] = reported.new_license_key
    if reported.next_reconciliation_date and reported.display_alert_from:
        answer["next_reconciliation_date"] = reported.next_reconciliation_date.isoformat()
        answer["display_alert_from"] = reported.display_alert_from.isoformat()
    return answer


def seat_links_endpoint(
    commands: Commands, sandbox: SandboxTime | None = None
) -> Callable[[Request], Awaitable[Response]]:
    """``sandbox``: a sandbox tenant's license is answered on its test clock (the next
    license, the reconciliation dates; docs/test-clock.md)."""

    async def seat_links(request: Request) -> Response:
        try:
            body = await read_json_object(request, MAX_BODY_BYTES)
        except BadBody as bad:
            return _failure(400, str(bad))
        unfit = unstorable(body)
        if unfit is not None:
            field = unfit.path[-1] if unfit.path else None
            return _failure(422, f"{'.'.join(unfit.path or ())}: {unfit.message}", field)
        try:
            command = parse_seat_link(body)
        except BadField as bad:
            return _failure(422, str(bad), bad.name)
        offset = timedelta(0)
        if sandbox is not None:
            customer = await sandbox.clocks.customer_of_license_key(command.license_key)
            offset = await sandbox.offset_of_customer(customer)
        try:
            with acting_at(offset):
                reported = await commands.report_usage(command)
        except DomainError as refused:
            field = _FIELDS.get(refused.path[-1], refused.path[-1]) if refused.path else None
            return _failure(422, refused.message, field)
        return _json(200, seat_link_answer(reported))

    return seat_links

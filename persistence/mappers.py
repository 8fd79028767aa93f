"""Row -> entity mappers. Rows are asyncpg records selected with the column lists below."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from enum import Enum
from typing import TypeVar

import asyncpg
import orjson

from domain.model.customer import Customer
from domain.model.enums import (
    AddOnKind,
    Channel,
    Deployment,
    LicensingMode,
    NamespaceKind,
    NamespacePlan,
    Plan,
    TrialType,
)
from domain.model.fleet import InstanceRole
from domain.model.instance import Instance
from domain.model.license import License, Licensee
from domain.model.namespace import Namespace, NamespaceUsage
from domain.model.restore import restore
from domain.model.subscription import AddOn, Segment, Subscription, Term
from domain.model.trial import Trial
from domain.model.usage import UsageReport, UsageSource

Row = asyncpg.Record

E = TypeVar("E", bound=Enum)


def _by_value(enum: type[E]) -> Callable[[str], E]:
    """A fast ``enum(value)`` for mapping rows (a dict lookup; unknown values still raise)."""
    members: dict[str, E] = {member.value: member for member in enum}
    return members.__getitem__


_deployment = _by_value(Deployment)
plan_of = _by_value(Plan)
_channel = _by_value(Channel)
licensing_mode_of = _by_value(LicensingMode)
_add_on_kind = _by_value(AddOnKind)

SUBSCRIPTION_COLUMNS = """
    s.id, s.name, s.customer, s.deployment, s.plan, s.channel, s.partner_id, s.auto_renew,
    s.licensing_mode, s.max_instances, s.reconciliation_enabled, s.cancel_at_period_end,
    s.cancelled_at, s.namespace, s.created_at,
    (SELECT json_agg(json_build_array(g.term_index, g.start_date, g.end_date, g.seats)
                     ORDER BY g.start_date)::text
       FROM subscription_segment g WHERE g.subscription = s.id) AS segments,
    (SELECT json_agg(json_build_array(a.kind, a.quantity, a.start_date, a.end_date)
                     ORDER BY a.start_date, a.kind)::text
       FROM subscription_add_on a WHERE a.subscription = s.id) AS add_ons
"""

CUSTOMER_COLUMNS = "c.id, c.company, c.contact_name, c.contact_email, c.created_at"

NAMESPACE_COLUMNS = """
    n.id, n.gitlab_id, n.path, n.name, n.kind, n.parent_gitlab_id, n.owner_user_ids,
    n.owner_emails, n.base_plan, n.billable_members, n.max_seats_used, n.compute_minutes_used,
    n.storage_used_bytes, n.usage_reported_at, n.created_at
"""

TRIAL_COLUMNS = """
    t.id, t.type, t.namespace, t.subscription, t.email, t.starts_on, t.ends_on, t.reverts_to,
    t.extended, t.reactivated, t.created_at
"""

INSTANCE_COLUMNS = """
    i.id, i.instance_identifier, i.subscription, i.hostname, i.gitlab_version, i.activated_at,
    i.last_synced_at, i.role, i.retired_at, i.access_ends_on, i.replaced_by
"""

LICENSE_COLUMNS = """
    l.id, l.subscription, l.instance, l.mode, l.plan, l.seats, l.starts_at, l.expires_at, l.trial,
    l.cancelled, l.auto_renew, l.reconciliation_enabled, l.add_ons, l.licensee_name,
    l.licensee_email, l.licensee_company, l.notify_admins_at, l.notify_users_at,
    l.block_changes_at, l.license_key, l.created_at, l.retires_instance
"""

# What lists of licenses show: everything but the key envelope (about 1 KB each), which is
# loaded by id, in one batch, only when a query asks for it.
LICENSE_VIEW_COLUMNS = """
    l.id, l.subscription, l.instance, l.mode, l.plan, l.seats, l.starts_at, l.expires_at,
    l.trial, l.cancelled, l.created_at
"""

USAGE_REPORT_COLUMNS = """
    u.id, u.subscription, u.instance, u.billable_users, u.max_historical_users, u.add_on_seats,
    u.gitlab_version, u.hostname, u.reported_at, u.source, u.license
"""


def customer_from_row(row: Row) -> Customer:
    return Customer(
        id=row["id"],
        company=row["company"],
        contact_name=row["contact_name"],
        contact_email=row["contact_email"],
        created_at=row["created_at"],
    )


# Children come as JSON text (json_agg): cheaper for PostgreSQL to build and for the driver to
# decode than arrays of anonymous records.
def _terms(segments_json: str | None) -> tuple[Term, ...]:
    # Segments come ordered by start date, so terms and their segments come in order too.
    by_term: dict[int, list[Segment]] = {}
    for term_index, start, end, seats in orjson.loads(segments_json or "[]"):
        segment = restore(
            Segment,
            start_date=date.fromisoformat(start),
            end_date=date.fromisoformat(end),
            seats=seats,
        )
        by_term.setdefault(term_index, []).append(segment)
    return tuple(restore(Term, segments=tuple(items)) for items in by_term.values())


def _subscription_add_ons(add_ons_json: str | None) -> tuple[AddOn, ...]:
    if add_ons_json is None:
        return ()
    return tuple(
        restore(
            AddOn,
            kind=_add_on_kind(kind),
            quantity=quantity,
            start_date=date.fromisoformat(start),
            end_date=date.fromisoformat(end),
        )
        for kind, quantity, start, end in orjson.loads(add_ons_json)
    )


def subscription_from_row(row: Row) -> Subscription:
    return restore(
        Subscription,
        id=row["id"],
        name=row["name"],
        customer_id=row["customer"],
        deployment=_deployment(row["deployment"]),
        plan=plan_of(row["plan"]),
        channel=_channel(row["channel"]),
        partner_id=row["partner_id"],
        auto_renew=row["auto_renew"],
        licensing_mode=licensing_mode_of(row["licensing_mode"]) if row["licensing_mode"] else None,
        max_instances=row["max_instances"],
        reconciliation_enabled=row["reconciliation_enabled"],
        cancel_at_period_end=row["cancel_at_period_end"],
        cancelled_at=row["cancelled_at"],
        namespace_id=row["namespace"],
        created_at=row["created_at"],
        terms=_terms(row["segments"]),
        add_ons=_subscription_add_ons(row["add_ons"]),
    )


def namespace_from_row(row: Row) -> Namespace:
    usage = None
    if row["usage_reported_at"] is not None:
        usage = NamespaceUsage(
            billable_members=row["billable_members"],
            max_seats_used=row["max_seats_used"],
            compute_minutes_used=row["compute_minutes_used"],
            storage_used_bytes=row["storage_used_bytes"],
            reported_at=row["usage_reported_at"],
        )
    return Namespace(
        id=row["id"],
        gitlab_id=row["gitlab_id"],
        path=row["path"],
        name=row["name"],
        kind=NamespaceKind(row["kind"]),
        parent_gitlab_id=row["parent_gitlab_id"],
        owner_user_ids=tuple(row["owner_user_ids"] or ()),
        owner_emails=tuple(row["owner_emails"] or ()),
        base_plan=NamespacePlan(row["base_plan"]),
        usage=usage,
        created_at=row["created_at"],
    )


def trial_from_row(row: Row) -> Trial:
    return Trial(
        id=row["id"],
        type=TrialType(row["type"]),
        namespace_id=row["namespace"],
        subscription_id=row["subscription"],
        email=row["email"],
        starts_on=row["starts_on"],
        ends_on=row["ends_on"],
        reverts_to=NamespacePlan(row["reverts_to"]) if row["reverts_to"] else None,
        extended=row["extended"],
        reactivated=row["reactivated"],
        created_at=row["created_at"],
    )


def instance_from_row(row: Row) -> Instance:
    return Instance(
        id=row["id"],
        instance_identifier=row["instance_identifier"],
        subscription_id=row["subscription"],
        hostname=row["hostname"],
        gitlab_version=row["gitlab_version"],
        activated_at=row["activated_at"],
        last_synced_at=row["last_synced_at"],
        role=InstanceRole(row["role"]),
        retired_at=row["retired_at"],
        access_ends_on=row["access_ends_on"],
        replaced_by=row["replaced_by"],
    )


def add_ons_to_json(add_ons: tuple[AddOn, ...]) -> str:
    return json.dumps(
        [
            {
                "kind": add_on.kind.value,
                "quantity": add_on.quantity,
                "start_date": add_on.start_date.isoformat(),
                "end_date": add_on.end_date.isoformat(),
            }
            for add_on in add_ons
        ]
    )


def _add_ons_from_json(raw: str | None) -> tuple[AddOn, ...]:
    if not raw or raw == "[]":
        return ()
    return tuple(
        AddOn(
            AddOnKind(item["kind"]),
            item["quantity"],
            date.fromisoformat(item["start_date"]),
            date.fromisoformat(item["end_date"]),
        )
        for item in json.loads(raw or "[]")
    )


def license_from_row(row: Row) -> License:
    return License(
        id=row["id"],
        subscription_id=row["subscription"],
        instance_id=row["instance"],
        mode=licensing_mode_of(row["mode"]),
        plan=plan_of(row["plan"]),
        seats=row["seats"],
        starts_at=row["starts_at"],
        expires_at=row["expires_at"],
        trial=row["trial"],
        cancelled=row["cancelled"],
        auto_renew=row["auto_renew"],
        reconciliation_enabled=row["reconciliation_enabled"],
        add_ons=_add_ons_from_json(row["add_ons"]),
        licensee=Licensee(
            name=row["licensee_name"], email=row["licensee_email"], company=row["licensee_company"]
        ),
        notify_admins_at=row["notify_admins_at"],
        notify_users_at=row["notify_users_at"],
        block_changes_at=row["block_changes_at"],
        license_key=row["license_key"],
        created_at=row["created_at"],
        retires_instance=row["retires_instance"],
    )


def usage_report_from_row(row: Row) -> UsageReport:
    return UsageReport(
        id=row["id"],
        subscription_id=row["subscription"],
        instance_id=row["instance"],
        billable_users=row["billable_users"],
        max_historical_users=row["max_historical_users"],
        add_on_seats=json.loads(row["add_on_seats"] or "{}"),
        gitlab_version=row["gitlab_version"],
        hostname=row["hostname"],
        reported_at=row["reported_at"],
        source=UsageSource(row["source"] or UsageSource.SEAT_LINK),
        license_id=row["license"],
    )

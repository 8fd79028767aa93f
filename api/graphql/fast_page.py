"""The fast path's fields whose rules live in Python (api/graphql/fast_read.py ``Computed``).

The portal's subscription page asks for fields a SQL expression should not copy: the channel
policy's ``viewerPermissions``, the terms and add-ons as the domain groups and names them,
``usage`` (overage and the next reconciliation from the domain's ``usage_of``), a namespace's
effective plan (its trials) and its provisioning steps in people's words. For these the one
statement returns raw rows (in the column lists the persistence mappers read); after it ran,
``finish`` restores the domain objects with those mappers, builds the GraphQL objects with the
same functions the resolvers call, and ``present`` writes the selected fields through the
types' own resolvers and the schema's serializers. One source for every rule; only the rows
are fetched differently (inside the one statement rather than by the loaders).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from operator import attrgetter
from typing import Any, cast

from graphql import (
    FieldNode,
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLType,
)
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from api.graphql.execution import leaf_coercer
from api.graphql.types import nodes
from domain.model.enums import Role
from domain.model.subscription import Subscription
from domain.policy import Resource
from domain.principal import Principal, PrincipalKind
from persistence.mappers import (
    NAMESPACE_COLUMNS,
    SUBSCRIPTION_COLUMNS,
    TRIAL_COLUMNS,
    namespace_from_row,
    subscription_from_row,
    trial_from_row,
)
from persistence.read_models import PROVISIONING_STEPS
from persistence.views import provisioning_step_view
from persistence.visibility import (
    BELOW_NAMESPACE,
    BELOW_SUBSCRIPTION,
    OF_SUBSCRIPTION_NAMESPACE,
    Arguments,
    tenant_condition_below,
)

_BACKREF = GraphQLCoreConverter.DEFINITION_BACKREF


def response_key(field: FieldNode) -> str:
    """The key a selected field has in the response: its alias, else its name."""
    return field.alias.value if field.alias else field.name.value


class Broken(Exception):
    """A value the schema refuses (a null in a non-null field): the usual path answers."""


@dataclass(frozen=True)
class Finish:
    """What a computed field's Python side may read: the caller, its `today`, the root
    subscription (restored from its row) when the field needs it."""

    principal: Principal
    today: date
    subscription: Subscription | None


@dataclass(frozen=True)
class Presented:
    """A GraphQL object with some fields given here (those whose resolvers need loaders)."""

    value: Any
    given: dict[str, Any] = field(default_factory=dict)


RawSql = Callable[[str, Principal, Arguments], str]
"""The raw JSON a field needs, given the parent row's alias, the caller and the arguments."""


@dataclass(frozen=True)
class Computed:
    sql: RawSql
    finish: Callable[[Any, Finish], Any]
    root_only: bool = False
    """Needs the root subscription's entity (``Finish.subscription``)."""


# Fields given by ``Presented`` (their resolvers read loaders), per GraphQL type.
GIVEN: dict[str, frozenset[str]] = {"Namespace": frozenset({"plan", "provisioningSteps"})}


# --- presenting Python objects the way the usual path completes them ------------------------


def presentable(graphql_type: GraphQLType, node: FieldNode) -> bool:
    """Whether ``present`` can write this selection: plain fields, and resolvers that read
    only their object (no info, arguments, extensions or awaiting)."""
    while isinstance(graphql_type, GraphQLNonNull | GraphQLList):
        graphql_type = graphql_type.of_type
    if not isinstance(graphql_type, GraphQLObjectType):
        return node.selection_set is None
    if node.selection_set is None:
        return False
    given = GIVEN.get(graphql_type.name, frozenset())
    names: set[str] = set()
    for sub in node.selection_set.selections:
        if not isinstance(sub, FieldNode) or sub.directives or sub.arguments:
            return False
        response = response_key(sub)
        if response in names or (response.startswith("__") and sub.name.value != "__typename"):
            return False
        names.add(response)
        name = sub.name.value
        if name == "__typename":
            continue
        field_def = graphql_type.fields.get(name)
        if field_def is None:
            return False
        if name not in given:
            strawberry_field = field_def.extensions.get(_BACKREF)
            if not isinstance(strawberry_field, StrawberryField) or strawberry_field.extensions:
                return False
            resolver = strawberry_field.base_resolver
            if resolver is not None and (
                resolver.is_async
                or resolver.info_parameter is not None
                or resolver.arguments
                or resolver.root_parameter is not None
                or resolver.parent_parameter is not None
                or resolver.self_parameter is None
            ):
                return False
        if not presentable(field_def.type, sub):
            return False
    return True


Writer = Callable[[Any], Any]
_EMPTY: dict[str, Any] = {}


def writer(graphql_type: GraphQLType, node: FieldNode) -> Writer:
    """What writes a value's JSON for the selection ``node`` (checked by ``presentable``), made
    once per plan: the schema's serializers for leaves, the types' resolvers for fields."""
    if isinstance(graphql_type, GraphQLNonNull):
        nullable = graphql_type.of_type
        if isinstance(nullable, GraphQLScalarType | GraphQLEnumType):
            coerce_leaf = leaf_coercer(nullable)

            def non_null_leaf(value: Any) -> Any:
                written = None if value is None else coerce_leaf(value)
                if written is None:
                    raise Broken(node.name.value)
                return written

            return non_null_leaf
        inner = writer(nullable, node)

        def non_null(value: Any) -> Any:
            written = inner(value)
            if written is None:
                raise Broken(node.name.value)
            return written

        return non_null
    if isinstance(graphql_type, GraphQLList):
        item = writer(graphql_type.of_type, node)
        return lambda value: None if value is None else [item(v) for v in value]
    if isinstance(graphql_type, GraphQLScalarType | GraphQLEnumType):
        coerce = leaf_coercer(graphql_type)
        return lambda value: None if value is None else coerce(value)
    assert isinstance(graphql_type, GraphQLObjectType)
    assert node.selection_set is not None
    type_name = graphql_type.name
    fields: list[tuple[str, str, Callable[[Any], Any] | None, Writer | None]] = []
    for sub in node.selection_set.selections:
        assert isinstance(sub, FieldNode)
        name = sub.name.value
        response = response_key(sub)
        if name == "__typename":
            fields.append((response, name, None, None))
            continue
        field_def = graphql_type.fields[name]
        strawberry_field = field_def.extensions[_BACKREF]
        resolver = strawberry_field.base_resolver
        get: Callable[[Any], Any] = (
            attrgetter(strawberry_field.python_name) if resolver is None else resolver.wrapped_func
        )
        fields.append((response, name, get, writer(field_def.type, sub)))

    def write_object(value: Any) -> Any:
        if value is None:
            return None
        target, given = (
            (value.value, value.given) if isinstance(value, Presented) else (value, _EMPTY)
        )
        out: dict[str, Any] = {}
        for response, name, get, write in fields:
            if write is None:
                out[response] = type_name
            elif name in given:
                out[response] = write(given[name])
            else:
                out[response] = write(get(target))  # type: ignore[misc]
        return out

    return write_object


# --- rows as JSON back to the mappers' types ------------------------------------------------


def _datetime(value: str | None) -> datetime | None:
    # PostgreSQL writes timestamptz in the session's zone; asyncpg hands them over in UTC.
    return datetime.fromisoformat(value).astimezone(UTC) if value is not None else None


def _typed(
    raw: dict[str, Any],
    uuids: Iterable[str] = (),
    dates: Iterable[str] = (),
    datetimes: Iterable[str] = (),
) -> Any:  # the mappers read a row by column name: a dict does as a Record
    row = dict(raw)
    for name in uuids:
        row[name] = uuid.UUID(row[name]) if row[name] is not None else None
    for name in dates:
        row[name] = date.fromisoformat(row[name]) if row[name] is not None else None
    for name in datetimes:
        row[name] = _datetime(row[name])
    return row


def subscription_row_sql(alias: str) -> str:
    """The root subscription's row as the mapper reads it (``alias`` must be ``s``)."""
    assert alias == "s", "SUBSCRIPTION_COLUMNS names its row `s`"
    return f"(SELECT row_to_json(_e) FROM (SELECT {SUBSCRIPTION_COLUMNS}) _e)"


def restore_subscription(raw: dict[str, Any]) -> Subscription:
    return subscription_from_row(
        _typed(
            raw,
            uuids=("id", "customer", "namespace"),
            datetimes=("cancelled_at", "created_at"),
        )
    )


def _and(condition: str | None) -> str:
    return f" AND {condition}" if condition is not None else ""


def _namespace_sql(
    column: str, principal: Principal, args: Arguments, *, children: bool = True
) -> str:
    """The visible namespace in ``column``, with its trials and newest provisioning steps, as
    the loaders read them (``namespaces_by_ids``, ``trials_by_namespace``,
    ``provisioning_steps_by_namespace``); ``column`` is a visible subscription's."""
    namespace = tenant_condition_below(
        principal, Resource.NAMESPACES, "n", args, Resource.SUBSCRIPTIONS, OF_SUBSCRIPTION_NAMESPACE
    )
    where = f" FROM namespace n, LATERAL (SELECT {NAMESPACE_COLUMNS}) _nr WHERE n.id = {column}"
    if not children:
        return f"(SELECT json_build_object('row', row_to_json(_nr)){where}{_and(namespace)})"
    trials = tenant_condition_below(
        principal, Resource.TRIALS, "t", args, Resource.NAMESPACES, BELOW_NAMESPACE
    )
    return (
        "(SELECT json_build_object('row', row_to_json(_nr),"
        " 'trials', (SELECT coalesce(json_agg(row_to_json(_tr) ORDER BY _tr.id), '[]')"
        f" FROM (SELECT {TRIAL_COLUMNS} FROM trial t WHERE t.namespace = n.id{_and(trials)})"
        " _tr),"
        " 'steps', (SELECT coalesce(json_agg(json_build_object('payload', e.payload,"
        " 'status', e.status, 'attempts', e.attempts, 'created_at', e.created_at,"
        " 'updated_at', e.updated_at) ORDER BY e.created_at DESC, e.id DESC), '[]')"
        " FROM (SELECT * FROM provision_event e WHERE e.namespace_id = n.id"
        " AND e.kind = 'NAMESPACE_PROVISION' ORDER BY e.created_at DESC, e.id DESC"
        f" LIMIT {PROVISIONING_STEPS}) e)){where}{_and(namespace)})"
    )


def _restore_namespace(raw: dict[str, Any]) -> Any:
    return namespace_from_row(
        _typed(raw["row"], uuids=("id",), datetimes=("usage_reported_at", "created_at"))
    )


def _namespace(raw: Any, finish: Finish) -> Presented | None:
    if raw is None:
        return None
    entity = _restore_namespace(raw)
    trials = [
        trial_from_row(
            _typed(
                t,
                uuids=("id", "namespace", "subscription"),
                dates=("starts_on", "ends_on"),
                datetimes=("created_at",),
            )
        )
        for t in raw["trials"]
    ]
    steps = [
        nodes.provisioning_step(
            provisioning_step_view(
                s["payload"],
                s["status"],
                s["attempts"],
                cast(datetime, _datetime(s["created_at"])),
                cast(datetime, _datetime(s["updated_at"])),
            )
        )
        for s in raw["steps"]
    ]
    return Presented(
        nodes.namespace_node(entity, finish.today),
        {"plan": nodes.namespace_plan(entity, trials, finish.today), "provisioningSteps": steps},
    )


def _root(finish: Finish) -> Subscription:
    assert finish.subscription is not None
    return finish.subscription


def _node(finish: Finish) -> nodes.SubscriptionNode:
    # terms and addOns read only the entity
    return nodes.SubscriptionNode(entity=_root(finish), context=cast(Any, None))


def _usage_sql(alias: str, principal: Principal, args: Arguments) -> str:
    report = tenant_condition_below(
        principal, Resource.USAGE, "u", args, Resource.SUBSCRIPTIONS, BELOW_SUBSCRIPTION
    )
    return (
        "json_build_object('namespace',"
        f" {_namespace_sql(f'{alias}.namespace', principal, args, children=False)},"
        " 'report', (SELECT json_build_object('billable_users', u.billable_users,"
        " 'max_historical_users', u.max_historical_users, 'reported_at', u.reported_at)"
        f" FROM usage_report u WHERE u.subscription = {alias}.id{_and(report)}"
        " ORDER BY u.reported_at DESC, u.id DESC LIMIT 1))"
    )


@dataclass(frozen=True)
class _Report:
    billable_users: int
    max_historical_users: int
    reported_at: datetime | None


def _usage(raw: Any, finish: Finish) -> Any:
    entity = _root(finish)
    if nodes.usage_from_namespace(entity):
        if entity.namespace_id is None or raw["namespace"] is None:
            return None
        return nodes.namespace_usage(entity, _restore_namespace(raw["namespace"]), finish.today)
    report = raw["report"]
    if report is None:
        return None
    found = _Report(
        report["billable_users"],
        report["max_historical_users"],
        _datetime(report["reported_at"]),
    )
    return nodes.report_usage(entity, found, finish.today)


def _permissions_sql(alias: str, principal: Principal, args: Arguments) -> str:
    # The role as ``ReadModels.roles_in`` reads it: a portal user's membership only.
    role = "NULL"
    if principal.kind is PrincipalKind.PORTAL_USER and principal.subject:
        role = (
            f"(SELECT m.role FROM membership m WHERE m.customer = {alias}.customer"
            f" AND m.user_subject = {args.arg(principal.subject)})"
        )
    return (
        f"json_build_object('role', {role}, 'partner',"
        f" (SELECT p.name FROM partner p WHERE p.id = {alias}.partner_id))"
    )


def _permissions(raw: Any, finish: Finish) -> Any:
    entity = _root(finish)
    role = Role(raw["role"]) if raw["role"] is not None else None
    return nodes.permissions_of(entity, finish.principal, role, raw["partner"])


def _nothing(alias: str, principal: Principal, args: Arguments) -> str:
    return "NULL"


SUBSCRIPTION_COMPUTED: dict[str, Computed] = {
    "terms": Computed(_nothing, lambda _, f: _node(f).terms(), root_only=True),
    "addOns": Computed(_nothing, lambda _, f: _node(f).add_ons(), root_only=True),
    "viewerPermissions": Computed(_permissions_sql, _permissions, root_only=True),
    "usage": Computed(_usage_sql, _usage, root_only=True),
    "namespace": Computed(
        lambda alias, principal, args: _namespace_sql(f"{alias}.namespace", principal, args),
        _namespace,
    ),
}

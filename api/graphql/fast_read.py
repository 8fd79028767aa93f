"""Reads at the speed of SQL: a validated query document compiled into ONE statement that
builds the response's JSON in PostgreSQL, whose bytes become the HTTP body.

For a page of subscriptions with their licenses, graphql-core's execution (and the Python
objects it completes) is most of a request's cost. A document this module understands skips
it: at its first request the document is parsed, measured (``api/graphql/limits.py``) and
validated with the standard rules, then compiled into a ``Plan`` (cached, keyed by the text,
the operation name and which variables are null). Each request then only checks the root
fields' scopes, computes the cost (cached per variables), renders the statement with the
principal's tenant conditions (``persistence.visibility.tenant_condition``, the same ones the
read models apply), runs it, and wraps its bytes in ``{"data": …, "extensions": {"cost": …}}``.

Anything else goes the usual way (``compile_plan`` returns None, or ``answer`` returns None):
mutations, subscriptions, fragments, directives, repeated response names, arguments or fields
this module does not know, anonymous callers, a document the limits, validation, the cost
limit or the trusted-documents rule refuse, a root field's missing scope, a bad argument
value, and any error while running the statement. The usual path then answers, with its
errors and its masking: the fast path never writes an error of its own.

A field stays on the fast path only if it is listed in ``ENTITIES`` with its SQL (computed
fields come from ``persistence.derived``, held to the domain by tests/integration/
test_rule_contract.py); tests/e2e/test_fast_read.py runs every document of the suite's
corpus through both paths and compares the answers (docs/decisions.md).
"""

from __future__ import annotations

import dataclasses
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from functools import lru_cache
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    Undefined,
    get_named_type,
    specified_rules,
    validate,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from graphql.language.parser import parse
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from api.graphql.cost import query_cost
from api.graphql.errors import api_error, page_size
from api.graphql.fast_page import (
    SUBSCRIPTION_COMPUTED,
    Computed,
    Finish,
    Writer,
    presentable,
    response_key,
    restore_subscription,
    subscription_row_sql,
    writer,
)
from api.graphql.limits import check_document
from api.graphql.pipeline import CACHE_LIMIT, PipelineFactory, PipelineLimits
from api.ids import PREFIXES, parse_cursor, parse_typed_id
from domain.errors import DomainError
from domain.model import enums as domain_enums
from domain.model.enums import SubscriptionStatus
from domain.model.partner import PartnerKind
from domain.policy import Access, Resource, require_scope
from domain.principal import Principal
from persistence.derived import current_seats, status_condition
from persistence.read_models import SubscriptionFilter, subscription_conditions
from persistence.visibility import Link, tenant_condition, tenant_condition_below

logger = logging.getLogger("provision.graphql.fast")

_PLAN_CACHE_SIZE = 512
_COST_CACHE_SIZE = 1024
_RENDER_CACHE_SIZE = 1024
_MAX_PAIRS = 49  # json_build_object takes at most 100 arguments (one pair kept spare)
_RULES = (*specified_rules, MaybeNullValidationRule, OneOfInputValidationRule)


# --- what the fast path knows: entities, their fields as SQL, their connections ----------


class Args:
    """The statement's positional arguments, collected while rendering."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def arg(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


@dataclass(frozen=True)
class Scope:
    """What a field's SQL may refer to: the row's alias, today's placeholder, the arguments."""

    alias: str
    today: Callable[[], str]  # adds today's date as an argument when first used
    args: Args


Expression = Callable[[Scope], str]


def _column(name: str) -> Expression:
    return lambda scope: f"{scope.alias}.{name}"


def _global_id(type_name: str) -> Expression:
    prefix = PREFIXES[type_name]
    # api.ids.global_id: the type's prefix and the UUID in hex.
    return lambda scope: f"('{prefix}_' || encode(uuid_send({scope.alias}.id), 'hex'))"


@dataclass(frozen=True)
class EnumColumn:
    """A stored domain member (its value) as the GraphQL member (the same name,
    ``api.graphql.enums.api_enum``). Every enum-typed field of ``ENTITIES`` is one of these or
    ``_status``: tests/e2e/test_fast_read.py holds each to the names the usual path writes."""

    column: str
    domain: type[Enum]

    def __call__(self, scope: Scope) -> str:
        pairs = [(member.value, member.name) for member in self.domain]
        if all(value == name for value, name in pairs):
            return f"{scope.alias}.{self.column}"
        cases = " ".join(f"WHEN '{value}' THEN '{name}'" for value, name in pairs)
        return f"(CASE {scope.alias}.{self.column} {cases} END)"


def _enum(name: str, domain_enum: type[Enum]) -> Expression:
    return EnumColumn(name, domain_enum)


def _datetime(name: str) -> Expression:
    """A timestamptz column as the DateTime scalar writes it (``datetime.isoformat`` of the
    UTC value asyncpg returns: microseconds only when there are any); NULL stays NULL."""

    def expression(scope: Scope) -> str:
        c = f"{scope.alias}.{name}"
        utc = f"({c} AT TIME ZONE 'UTC')"
        return (
            f"(to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS')"
            f" || CASE WHEN extract(microseconds FROM {c})::bigint % 1000000 = 0 THEN ''"
            f" ELSE to_char({utc}, '.US') END || '+00:00')"
        )

    return expression


def _seats(scope: Scope) -> str:
    return current_seats(scope.alias, scope.today())


def _status(scope: Scope) -> str:
    cases = " ".join(
        f"WHEN {status_condition(status, scope.alias, scope.today)} THEN '{status.name}'"
        for status in SubscriptionStatus
    )
    return f"(CASE {cases} END)"


@dataclass(frozen=True)
class Child:
    """A connection field of an entity: rows of ``entity`` whose ``column`` is the parent."""

    entity: str
    column: str


@dataclass(frozen=True)
class Relation:
    """An object field of an entity: the ``entity`` row whose id is in ``column``."""

    entity: str
    column: str


@dataclass(frozen=True)
class Entity:
    table: str
    resource: Resource | None  # None: no tenant condition (whoever sees the parent sees it)
    columns: str
    """What a page's rows carry: the columns the fields read (not the wide ones they do not)."""
    fields: dict[str, Expression]
    children: dict[str, Child] = field(default_factory=dict)
    objects: dict[str, Relation] = field(default_factory=dict)
    computed: dict[str, Computed] = field(default_factory=dict)
    """Fields whose rules live in Python (api/graphql/fast_page.py): the statement returns
    their rows, Python finishes them after it ran."""


ENTITIES: dict[str, Entity] = {
    # Type names as the schema spells them; field names as clients do. A field missing here
    # sends its document the usual way.
    "Subscription": Entity(
        "subscription",
        Resource.SUBSCRIPTIONS,
        "id, name, customer, deployment, plan, channel, partner_id, auto_renew, licensing_mode,"
        " max_instances, reconciliation_enabled, cancel_at_period_end, cancelled_at,"
        " start_date, end_date",
        {
            "id": _global_id("Subscription"),
            "name": _column("name"),
            "deployment": _enum("deployment", domain_enums.Deployment),
            "plan": _enum("plan", domain_enums.Plan),
            "channel": _enum("channel", domain_enums.Channel),
            "partnerId": _column("partner_id"),
            "status": _status,
            "cancelAtPeriodEnd": _column("cancel_at_period_end"),
            "autoRenew": _column("auto_renew"),
            "licensingMode": _enum("licensing_mode", domain_enums.LicensingMode),
            "maxInstances": _column("max_instances"),
            "reconciliationEnabled": _column("reconciliation_enabled"),
            "startDate": _column("start_date"),
            "endDate": _column("end_date"),
            "seats": _seats,
        },
        {
            "licenses": Child("License", "subscription"),
            "instances": Child("Instance", "subscription"),
        },
        {
            "customer": Relation("Customer", "customer"),
            "partner": Relation("Partner", "partner_id"),
        },
        SUBSCRIPTION_COMPUTED,
    ),
    "Partner": Entity(
        "partner",
        None,  # whoever sees a subscription sees its partner (the loader reads no condition)
        "id, name, kind",
        {"id": _column("id"), "name": _column("name"), "kind": _enum("kind", PartnerKind)},
    ),
    "Instance": Entity(
        "instance",
        Resource.INSTANCES,
        "id, subscription, instance_identifier, hostname, gitlab_version, activated_at,"
        " last_synced_at",
        {
            "id": _global_id("Instance"),
            "instanceIdentifier": _column("instance_identifier"),
            "hostname": _column("hostname"),
            "gitlabVersion": _column("gitlab_version"),
            "activatedAt": _datetime("activated_at"),
            "lastSyncedAt": _datetime("last_synced_at"),
        },
    ),
    "Customer": Entity(
        "customer",
        Resource.CUSTOMERS,
        "id, company, contact_name, contact_email",
        {
            "id": _global_id("Customer"),
            "company": _column("company"),
            "contactName": _column("contact_name"),
            "contactEmail": _column("contact_email"),
        },
        {"subscriptions": Child("Subscription", "customer")},
    ),
    "License": Entity(
        "license",
        Resource.LICENSES,
        "id, subscription, mode, plan, seats, starts_at, expires_at, trial, cancelled, created_at",
        {
            "id": _global_id("License"),
            "mode": _enum("mode", domain_enums.LicensingMode),
            "plan": _enum("plan", domain_enums.Plan),
            "seats": _column("seats"),
            "startsAt": _column("starts_at"),
            "expiresAt": _column("expires_at"),
            "trial": _column("trial"),
            "cancelled": _column("cancelled"),
            "createdAt": _datetime("created_at"),
        },
    ),
}

# Root connections: field name -> entity, and the arguments beyond `first`/`after` they
# take here (``filters``, the same conditions as the read models'). Any other argument, or
# a root not listed, sends the document the usual way.
ROOTS: dict[str, str] = {"subscriptions": "Subscription", "customers": "Customer"}
# Root objects by id (only `id`: `subscription(name:)` goes the usual way).
ROOT_OBJECTS: dict[str, str] = {"subscription": "Subscription"}
_ROOT_ARGUMENTS: dict[str, frozenset[str]] = {
    "subscriptions": frozenset({"status", "deployment", "plan", "customerId"}),
}
_PAGE_ARGUMENTS = frozenset({"first", "after"})
_PAGE_INFO = ("hasNextPage", "hasPreviousPage", "startCursor", "endCursor")


# --- the compiled plan --------------------------------------------------------------------


class _Unsupported(Exception):  # control flow: the document goes the usual way
    pass


@dataclass(frozen=True)
class Selection:
    """An object's selected fields: (response name, what) pairs in the document's order."""

    type_name: str
    items: tuple[tuple[str, Any], ...]


@dataclass(frozen=True, eq=False)
class Connection:
    entity: str
    field_def: GraphQLField  # its arguments are coerced per request, as graphql-core does
    node: FieldNode
    root: str | None  # the root field's name; None below the root
    selection: Selection  # of the connection type: edges, pageInfo, totalCount, __typename
    parent_column: str | None  # None at the root


Post = tuple[tuple[str, ...], Computed, Writer]
"""A computed field: its path in the root object, what finishes it, what writes its JSON."""


@dataclass(frozen=True, eq=False)
class RootObject:
    """A root object by id (``subscription(id:)``) and the computed fields inside it."""

    entity: str
    field_def: GraphQLField
    node: FieldNode
    selection: Selection
    post: tuple[Post, ...]
    needs_row: bool  # a computed field reads the root's domain entity


@dataclass(frozen=True, eq=False)  # hashed by identity (the cost cache's key)
class Plan:
    document: DocumentNode
    operation: OperationDefinitionNode
    operation_name: str | None
    roots: tuple[tuple[str, Connection | RootObject], ...]
    resources: tuple[Resource, ...]


class _Compiler:
    def __init__(self, schema: GraphQLSchema) -> None:
        self.schema = schema
        self.post: list[Post] = []
        self.needs_row = False

    def fields(self, selection_set: Any) -> list[FieldNode]:
        fields: list[FieldNode] = []
        names: set[str] = set()
        for node in selection_set.selections:
            if not isinstance(node, FieldNode) or node.directives:
                raise _Unsupported  # fragments and directives: the usual path
            response = response_key(node)
            if response in names:
                raise _Unsupported  # merged fields: the usual path
            if response.startswith("__") and node.name.value != "__typename":
                raise _Unsupported  # the statement's own keys start so
            names.add(response)
            fields.append(node)
        if len(fields) > _MAX_PAIRS:
            raise _Unsupported
        return fields

    def connection(
        self,
        node: FieldNode,
        field_def: GraphQLField,
        entity: str,
        parent: str | None,
        root: str | None = None,
    ) -> Connection:
        connection_type = get_named_type(field_def.type)
        assert isinstance(connection_type, GraphQLObjectType)
        known = _PAGE_ARGUMENTS | _ROOT_ARGUMENTS.get(root or "", frozenset())
        if any(argument.name.value not in known for argument in node.arguments or ()):
            raise _Unsupported  # sorting, `last`/`before`, anything new: the usual path
        for name, argument in field_def.args.items():
            if name not in known and argument.default_value not in (None, Undefined):
                raise _Unsupported  # an argument we do not know whose default might matter
        items: list[tuple[str, Any]] = []
        for sub in self.fields(node.selection_set):
            name = sub.name.value
            response = response_key(sub)
            if name == "__typename":
                items.append((response, ("typename", connection_type.name)))
            elif name == "totalCount":
                items.append((response, ("totalCount",)))
            elif name == "pageInfo":
                page_info = []
                for info in self.fields(sub.selection_set):
                    info_name = info.name.value
                    info_response = response_key(info)
                    if info_name == "__typename":
                        page_info.append((info_response, "__typename"))
                    elif info_name in _PAGE_INFO:
                        page_info.append((info_response, info_name))
                    else:
                        raise _Unsupported
                items.append((response, ("pageInfo", tuple(page_info))))
            elif name == "edges":
                edge_type = get_named_type(connection_type.fields["edges"].type)
                assert isinstance(edge_type, GraphQLObjectType)
                edge_items: list[tuple[str, Any]] = []
                for edge in self.fields(sub.selection_set):
                    edge_name = edge.name.value
                    edge_response = response_key(edge)
                    if edge_name == "__typename":
                        edge_items.append((edge_response, ("typename", edge_type.name)))
                    elif edge_name == "cursor":
                        edge_items.append((edge_response, ("cursor",)))
                    elif edge_name == "node":
                        node_type = get_named_type(edge_type.fields["node"].type)
                        assert isinstance(node_type, GraphQLObjectType)
                        edge_items.append(
                            (edge_response, ("node", self.entity(edge, node_type, entity, None)))
                        )
                    else:
                        raise _Unsupported
                items.append((response, ("edges", Selection(edge_type.name, tuple(edge_items)))))
            else:
                raise _Unsupported  # anything new
        return Connection(
            entity, field_def, node, root, Selection(connection_type.name, tuple(items)), parent
        )

    def entity(
        self,
        node: FieldNode,
        object_type: GraphQLObjectType,
        entity: str,
        path: tuple[str, ...] | None,
        root: bool = False,
    ) -> Selection:
        """An object's selection; ``path`` is where it sits in a root object (None inside a
        list: computed fields are finished only on the way from a root object)."""
        spec = ENTITIES[entity]
        if object_type.name != entity:
            raise _Unsupported
        items: list[tuple[str, Any]] = []
        for sub in self.fields(node.selection_set):
            name = sub.name.value
            response = response_key(sub)
            if name == "__typename":
                items.append((response, ("typename", entity)))
            elif name in spec.fields and not sub.arguments and sub.selection_set is None:
                items.append((response, ("field", name)))
            elif name in spec.children:
                child = spec.children[name]
                field_def = object_type.fields[name]
                compiled = self.connection(sub, field_def, child.entity, child.column)
                items.append((response, ("connection", compiled)))
            elif name in spec.objects and not sub.arguments:
                relation = spec.objects[name]
                related = get_named_type(object_type.fields[name].type)
                assert isinstance(related, GraphQLObjectType)
                where = (*path, response) if path is not None else None
                selection = self.entity(sub, related, relation.entity, where)
                items.append((response, ("object", relation, selection)))
            elif name in spec.computed and not sub.arguments and path is not None:
                computed = spec.computed[name]
                field_def = object_type.fields[name]
                if (computed.root_only and not root) or not presentable(field_def.type, sub):
                    raise _Unsupported
                self.post.append(((*path, response), computed, writer(field_def.type, sub)))
                self.needs_row = self.needs_row or computed.root_only
                items.append((response, ("computed", computed)))
            else:
                raise _Unsupported
        return Selection(entity, tuple(items))


def _root_object(
    compiler: _Compiler, node: FieldNode, field_def: GraphQLField, entity: str
) -> RootObject:
    if any(argument.name.value != "id" for argument in node.arguments or ()):
        raise _Unsupported  # `subscription(name:)`: the usual path
    for name, argument in field_def.args.items():
        if name != "id" and argument.default_value not in (None, Undefined):
            raise _Unsupported
    object_type = get_named_type(field_def.type)
    assert isinstance(object_type, GraphQLObjectType)
    compiler.post, compiler.needs_row = [], False
    selection = compiler.entity(node, object_type, entity, (), root=True)
    return RootObject(entity, field_def, node, selection, tuple(compiler.post), compiler.needs_row)


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != len(document.definitions):
        return None  # fragments: the usual path
    if name is None:
        return operations[0] if len(operations) == 1 else None
    found = [o for o in operations if o.name is not None and o.name.value == name]
    return found[0] if len(found) == 1 else None


def compile_plan(
    schema: GraphQLSchema,
    limits: PipelineLimits,
    query: str,
    operation_name: str | None,
    variables: dict[str, Any],
) -> Plan | None:
    """The plan of a document the pipeline would accept, or None (the usual path)."""
    try:
        document = parse(query, max_tokens=limits.max_tokens)
    except GraphQLError:
        return None
    if check_document(document, limits.document):
        return None
    if validate(schema, document, _RULES):
        return None
    operation = _operation(document, operation_name)
    if operation is None or operation.operation is not OperationType.QUERY:
        return None
    if operation.directives:
        return None
    query_type = schema.query_type
    assert query_type is not None
    compiler = _Compiler(schema)
    roots: list[tuple[str, Connection | RootObject]] = []
    resources: list[Resource] = []
    try:
        for node in compiler.fields(operation.selection_set):
            name = node.name.value
            response = response_key(node)
            field_def = query_type.fields[name]
            entity = ROOTS.get(name)
            if entity is not None:
                roots.append((response, compiler.connection(node, field_def, entity, None, name)))
            elif name in ROOT_OBJECTS:
                entity = ROOT_OBJECTS[name]
                roots.append((response, _root_object(compiler, node, field_def, entity)))
            else:
                return None
            resource = ENTITIES[entity].resource
            assert resource is not None
            resources.append(resource)
    except _Unsupported:
        return None
    return Plan(document, operation, operation_name, tuple(roots), tuple(resources))


# --- rendering one request's statement ------------------------------------------------------


class _Renderer:
    def __init__(self, principal: Principal, today: date, variables: VariableValues) -> None:
        self.principal = principal
        self.variables = variables
        self.args = Args()
        self._today = today
        self._today_placeholder: str | None = None
        self.aliases = 0

    def today(self) -> str:
        # Added only when used: PostgreSQL cannot type an argument the statement never reads.
        if self._today_placeholder is None:
            self._today_placeholder = f"{self.args.arg(self._today)}::date"
        return self._today_placeholder

    def alias(self) -> str:
        self.aliases += 1
        return f"_t{self.aliases}"

    def connection(
        self,
        connection: Connection,
        parent_alias: str | None,
        parent_resource: Resource | None = None,
    ) -> str:
        values = get_argument_values(connection.field_def, connection.node, self.variables)
        # The resolvers' own checks: a bad value raises, and the usual path reports it.
        first = page_size(values.get("first"))
        after = parse_cursor(values.get("after"))
        flt = _subscription_filter(values) if connection.root == "subscriptions" else None
        spec = ENTITIES[connection.entity]
        a = self.alias()
        args = self.args
        below = parent_alias, parent_resource
        conditions = self.conditions(connection, spec, a, below, flt)
        if after is not None:
            conditions.append(f"{a}.id > {args.arg(after)}")
        where = " AND ".join(conditions) or "TRUE"
        # Written into the text, not sent as an argument: with ``LIMIT $n`` PostgreSQL's
        # generic plan guesses a tenth of the table, so it keeps planning each execution
        # afresh (~0.5 ms a statement); a validated int cannot inject anything.
        limit = str(int(first))
        page = f"{a}_p"
        columns = ", ".join(f"{a}.{column.strip()}" for column in spec.columns.split(","))
        if _asks_next(connection):
            # One row beyond the page says whether more follow; it is counted, not shown.
            inner = (
                f"SELECT {columns}, row_number() OVER (ORDER BY {a}.id) AS _n"
                f" FROM {spec.table} {a} WHERE {where} ORDER BY {a}.id LIMIT {limit}::int + 1"
            )
            kept = f" FILTER (WHERE {page}._n <= {limit}::int)"
        else:
            inner = (
                f"SELECT {columns} FROM {spec.table} {a} WHERE {where}"
                f" ORDER BY {a}.id LIMIT {limit}::int"
            )
            kept = ""
        pairs: list[str] = []
        for response, (kind, *rest) in connection.selection.items:
            if kind == "typename":
                pairs.append(f"'{response}', '{rest[0]}'")
            elif kind == "totalCount":
                # Counted over the same conditions without the cursor, as count_* do.
                c = self.alias()
                counted = " AND ".join(self.conditions(connection, spec, c, below, flt)) or "TRUE"
                pairs.append(
                    f"'{response}', (SELECT count(*) FROM {spec.table} {c} WHERE {counted})"
                )
            elif kind == "pageInfo":
                previous = "false"
                if after is not None:
                    # Exact, as the read models' probe (persistence/keyset.py): whether an
                    # item the caller may see comes at or before the cursor.
                    b = self.alias()
                    behind = self.conditions(connection, spec, b, below, flt)
                    behind.append(f"{b}.id <= {args.arg(after)}")
                    previous = (
                        f"EXISTS (SELECT 1 FROM {spec.table} {b} WHERE {' AND '.join(behind)})"
                    )
                pairs.append(
                    f"'{response}', {self.page_info(rest[0], page, limit, kept, previous)}"
                )
            else:
                edges: Selection = rest[0]
                edge_pairs = []
                for edge_response, (edge_kind, *edge_rest) in edges.items:
                    if edge_kind == "typename":
                        edge_pairs.append(f"'{edge_response}', '{edge_rest[0]}'")
                    elif edge_kind == "cursor":
                        edge_pairs.append(f"'{edge_response}', {_cursor(page)}")
                    else:
                        edge_pairs.append(
                            f"'{edge_response}', {self.node(edge_rest[0], spec, page)}"
                        )
                edge = f"json_build_object({', '.join(edge_pairs)})" if edge_pairs else "'{}'::json"
                pairs.append(
                    f"'{response}', coalesce(json_agg({edge} ORDER BY {page}.id){kept}, '[]')"
                )
        # HAVING makes it one group: one row even when the page is empty and nothing
        # selected aggregates (a lone totalCount).
        return f"(SELECT json_build_object({', '.join(pairs)}) FROM ({inner}) {page} HAVING TRUE)"

    def conditions(
        self,
        connection: Connection,
        spec: Entity,
        alias: str,
        below: tuple[str | None, Resource | None],
        flt: SubscriptionFilter | None,
    ) -> list[str]:
        """The parent link, the filter, then the tenant condition (the read models' order);
        below a parent row the tenant condition is left out where the parent's implies it."""
        conditions = []
        parent_alias, parent_resource = below
        link = None
        if connection.parent_column is not None:
            conditions.append(f"{alias}.{connection.parent_column} = {parent_alias}.id")
            link = Link(connection.parent_column, "id")
        if flt is not None:
            conditions += subscription_conditions(flt, alias, self.args, self.today)
        assert spec.resource is not None
        tenant = tenant_condition_below(
            self.principal, spec.resource, alias, self.args, parent_resource, link
        )
        if tenant is not None:
            conditions.append(tenant)
        return conditions

    def page_info(
        self,
        items: tuple[tuple[str, str], ...],
        page: str,
        limit: str,
        kept: str,
        previous: str,
    ) -> str:
        pairs = []
        for response, name in items:
            if name == "__typename":
                value = "'PageInfo'"
            elif name == "hasNextPage":
                value = f"(count(*) > {limit}::int)"
            elif name == "hasPreviousPage":
                value = previous
            elif name == "startCursor":
                value = _cursor_of(f"(array_agg({page}.id ORDER BY {page}.id){kept})[1]")
            else:
                value = _cursor_of(f"(array_agg({page}.id ORDER BY {page}.id DESC){kept})[1]")
            pairs.append(f"'{response}', {value}")
        return f"json_build_object({', '.join(pairs)})"

    def root_object(self, root: RootObject) -> str:
        values = get_argument_values(root.field_def, root.node, self.variables)
        given = values.get("id")
        if given is None or values.get("name") is not None:
            raise ValueError("not one `id`")  # the usual path refuses it in its words
        try:
            found = parse_typed_id(given, root.entity, path=("id",))
        except DomainError as error:
            raise api_error(error) from None
        spec = ENTITIES[root.entity]
        assert spec.resource is not None
        a = "s"  # the mappers' column lists name the subscription row so
        where = [f"{a}.id = {self.args.arg(found)}"]
        tenant = tenant_condition(self.principal, spec.resource, a, self.args)
        if tenant is not None:
            where.append(tenant)
        extra = [f"'__entity', {subscription_row_sql(a)}"] if root.needs_row else []
        value = self.node(root.selection, spec, a, extra)
        return f"(SELECT {value} FROM {spec.table} {a} WHERE {' AND '.join(where)})"

    def node(
        self, selection: Selection, spec: Entity, alias: str, extra: list[str] | None = None
    ) -> str:
        scope = Scope(alias, self.today, self.args)
        pairs = list(extra or ())
        for response, (kind, *rest) in selection.items:
            if kind == "typename":
                pairs.append(f"'{response}', '{rest[0]}'")
            elif kind == "field":
                pairs.append(f"'{response}', {spec.fields[rest[0]](scope)}")
            elif kind == "computed":
                computed: Computed = rest[0]
                pairs.append(f"'{response}', {computed.sql(alias, self.principal, self.args)}")
            elif kind == "object":
                relation, related_selection = rest
                related = ENTITIES[relation.entity]
                o = self.alias()
                where = [f"{o}.id = {alias}.{relation.column}"]
                if related.resource is not None:
                    tenant = tenant_condition_below(
                        self.principal,
                        related.resource,
                        o,
                        self.args,
                        spec.resource,
                        Link("id", relation.column),
                    )
                    if tenant is not None:
                        where.append(tenant)
                value = self.node(related_selection, related, o)
                pairs.append(
                    f"'{response}', (SELECT {value} FROM {related.table} {o}"
                    f" WHERE {' AND '.join(where)})"
                )
            else:
                pairs.append(f"'{response}', {self.connection(rest[0], alias, spec.resource)}")
        return f"json_build_object({', '.join(pairs)})" if pairs else "'{}'::json"


def _asks_next(connection: Connection) -> bool:
    return any(
        kind == "pageInfo" and any(name == "hasNextPage" for _, name in rest[0])
        for _, (kind, *rest) in connection.selection.items
    )


def _cursor(alias: str) -> str:
    return _cursor_of(f"{alias}.id")


def _cursor_of(expression: str) -> str:
    # api.ids.cursor; NULL stays NULL (an empty page has no cursors).
    return f"('cursor_' || replace(({expression})::text, '-', ''))"


def _subscription_filter(values: dict[str, Any]) -> SubscriptionFilter:
    """The filter the ``subscriptions`` resolver builds from the same arguments."""
    status, deployment, plan = values.get("status"), values.get("deployment"), values.get("plan")
    customer = values.get("customerId")
    try:
        customer_id = (
            parse_typed_id(customer, "Customer", path=("customerId",)) if customer else None
        )
    except DomainError as error:
        raise api_error(error) from None
    return SubscriptionFilter(
        status=domain_enums.SubscriptionStatus[status.name] if status else None,
        deployment=domain_enums.Deployment[deployment.name] if deployment else None,
        plan=domain_enums.Plan[plan.name] if plan else None,
        customer_id=customer_id,
    )


def render(
    plan: Plan, principal: Principal, today: date, variables: VariableValues
) -> tuple[str, list[Any]]:
    """The statement and its arguments; raises for a bad argument value."""
    renderer = _Renderer(principal, today, variables)
    pairs = [
        f"'{response}', {renderer.root_object(root)}"
        if isinstance(root, RootObject)
        else f"'{response}', {renderer.connection(root, None)}"
        for response, root in plan.roots
    ]
    sql = f"SELECT convert_to(json_build_object({', '.join(pairs)})::text, 'UTF8')"
    return sql, renderer.args.values


# --- the request side ----------------------------------------------------------------------


def _variables_key(variables: dict[str, Any]) -> str:
    return orjson.dumps(variables, option=orjson.OPT_SORT_KEYS).decode()


_PRINCIPAL_FIELDS = tuple(f.name for f in dataclasses.fields(Principal))


def _principal_key(principal: Principal) -> tuple[Any, ...]:
    """Every field of the principal (whatever tenant conditions read), hashable."""
    values = (getattr(principal, name) for name in _PRINCIPAL_FIELDS)
    return tuple(tuple(sorted(v.items())) if isinstance(v, dict) else v for v in values)


def _shape(variables: dict[str, Any]) -> tuple[tuple[str, bool], ...]:
    return tuple(sorted((name, value is None) for name, value in variables.items()))


class FastReads:
    """The fast path of one app: its plans and cost caches, and its database."""

    def __init__(self, schema: GraphQLSchema, limits: PipelineLimits, fetchval: Any) -> None:
        self._schema = schema
        self._limits = limits
        self._fetchval = fetchval
        self._plans: OrderedDict[tuple[Any, ...], Plan | None] = OrderedDict()
        self._cost = lru_cache(maxsize=_COST_CACHE_SIZE)(self._uncached_cost)
        self._rendered: OrderedDict[tuple[Any, ...], tuple[str, list[Any]]] = OrderedDict()
        self.served = 0
        """Requests answered here (tests check that a document took this path)."""

    def plan(
        self, query: str, operation_name: str | None, variables: dict[str, Any]
    ) -> Plan | None:
        if len(query) > CACHE_LIMIT or len(query) > self._limits.max_length:
            return None
        key = (query, operation_name, _shape(variables))
        try:
            plan = self._plans[key]
        except KeyError:
            plan = compile_plan(self._schema, self._limits, query, operation_name, variables)
            self._plans[key] = plan
            if len(self._plans) > _PLAN_CACHE_SIZE:
                self._plans.popitem(last=False)
            return plan
        self._plans.move_to_end(key)
        return plan

    def _uncached_cost(self, plan: Plan, variables: str) -> int:
        return query_cost(self._schema, plan.document, plan.operation_name, orjson.loads(variables))

    def cost(self, plan: Plan, variables: dict[str, Any]) -> int:
        return self._cost(plan, _variables_key(variables))

    def render(
        self,
        plan: Plan,
        principal: Principal,
        today: date,
        variables: dict[str, Any],
        coerced: VariableValues,
    ) -> tuple[str, list[Any]]:
        """``render``, remembered: the statement is a function of the plan, every field of the
        principal, today and the variables (a failing render is not remembered)."""
        key = (plan, _principal_key(principal), today, _variables_key(variables))
        found = self._rendered.get(key)
        if found is not None:
            self._rendered.move_to_end(key)
            return found
        rendered = render(plan, principal, today, coerced)
        self._rendered[key] = rendered
        if len(self._rendered) > _RENDER_CACHE_SIZE:
            self._rendered.popitem(last=False)
        return rendered

    async def answer(
        self,
        principal: Principal,
        today: date,
        query: str,
        operation_name: str | None,
        variables: dict[str, Any],
    ) -> bytes | None:
        """The response body, or None: the usual path answers (with its errors, if any)."""
        if not principal.is_authenticated:
            return None
        plan = self.plan(query, operation_name, variables)
        if plan is None:
            return None
        try:
            for resource in plan.resources:
                require_scope(principal, resource, Access.READ)
            coerced = get_variable_values(
                self._schema, plan.operation.variable_definitions or (), variables
            )
            if isinstance(coerced, list):
                return None  # the usual path reports the coercion errors
            cost = self.cost(plan, variables)
            if cost > self._limits.max_cost:
                return None
            sql, args = self.render(plan, principal, today, variables, coerced)
        except (DomainError, GraphQLError, ValueError, TypeError):
            return None
        data: bytes = await self._fetchval(sql, *args)
        if any(isinstance(root, RootObject) and root.post for _, root in plan.roots):
            data = _finish(plan, data, principal, today)
        self.served += 1
        return b'{"data":' + data + b',"extensions":{"cost":' + str(cost).encode() + b"}}"


def _finish(plan: Plan, data: bytes, principal: Principal, today: date) -> bytes:
    """The computed fields written by Python (api/graphql/fast_page.py) into the statement's
    JSON; raises (the usual path answers) for a value the schema refuses."""
    tree = orjson.loads(data)
    for response, root in plan.roots:
        found = tree[response]
        if not isinstance(root, RootObject) or not root.post or found is None:
            continue
        row = found.pop("__entity", None)
        finish = Finish(principal, today, restore_subscription(row) if row else None)
        for path, computed, write in root.post:
            target = found
            for key in path[:-1]:
                target = target.get(key) if isinstance(target, dict) else None
            if isinstance(target, dict):
                value = computed.finish(target[path[-1]], finish)
                target[path[-1]] = write(value)
    return orjson.dumps(tree)


def fast_reads_for(schema: Any, db: Any) -> FastReads:
    """The fast path for a schema built by ``build_schema`` (its pipeline's limits apply)."""
    factories = [e for e in schema.extensions if isinstance(e, PipelineFactory)]
    if len(factories) != 1:
        raise RuntimeError("the schema has no request pipeline: its limits would not apply")
    return FastReads(schema._schema, factories[0].limits, db.fetchval)

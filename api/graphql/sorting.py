"""Sorted, two-way connections: the ``sort`` argument of the main lists, ``first``/``after``
and ``last``/``before``, and the opaque cursors that carry the sort key (docs/graphql.md,
"Pagination and sorting").

Convention: a list ``Xs`` of ``X`` takes ``sort: XSort`` (``{field: XSortField!, direction:
SortDirection! = ASC}``); a sort field is named after the field it sorts by, UPPER_SNAKE_CASE
(``START_DATE`` sorts by ``startDate``); ``CREATED_AT`` is the order items were recorded in.
Without ``sort`` a list keeps the order its description gives. Every order ends with the id,
so it is total and a cursor (the sort key and the id of an item) is stable.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Annotated, Any

import orjson
import strawberry

from api.graphql.errors import ApiError, api_error, page_size
from api.ids import parse_cursor
from domain.errors import DomainError, InvalidId, ValidationFailed
from persistence.keyset import Order, PageRequest


@strawberry.enum(description="Which way a list is sorted.")
class SortDirection(Enum):
    ASC = strawberry.enum_value("ASC", description="Smallest (earliest, A) first.")
    DESC = strawberry.enum_value("DESC", description="Largest (latest, Z) first.")


def _date(value: Any) -> date:
    return date.fromisoformat(value)


def _datetime(value: Any) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("naive")
    return parsed


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("not text")
    return value


def _integer(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("not an integer")
    return value


@dataclass(frozen=True)
class SortColumn:
    """A sort field's column (None: the id alone) and how its cursor value reads back."""

    column: str | None
    parse: Callable[[Any], Any] = _text


CREATED = SortColumn(None)


@dataclass(frozen=True)
class Sorts:
    """The orders one list offers: its type's name (cursors name it), its fields' columns,
    and the order without ``sort``."""

    name: str
    columns: Mapping[str, SortColumn]
    default_descending: bool = False

    def tag(self, field: str, descending: bool) -> str:
        return f"{self.name}.{field}.{'DESC' if descending else 'ASC'}"

    def is_default(self, field: str, descending: bool) -> bool:
        return field == "CREATED_AT" and descending == self.default_descending


@dataclass(frozen=True)
class Paging:
    """A validated page request and how its cursors are written."""

    request: PageRequest
    sorts: Sorts
    field: str
    descending: bool

    def cursor(self, sort_key: Any, item_id: uuid.UUID) -> str:
        if self.sorts.is_default(self.field, self.descending):
            return f"cursor_{item_id.hex}"  # the form every cursor had before sorting
        value = sort_key.isoformat() if isinstance(sort_key, date | datetime) else sort_key
        raw = orjson.dumps([self.sorts.tag(self.field, self.descending), value, item_id.hex])
        return "cursor_" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _refused(value: str, name: str) -> InvalidId:
    return InvalidId(f"{value!r} is not a cursor issued by this API", path=(name,))


def _read_cursor(
    value: str | None, name: str, sorts: Sorts, field: str, descending: bool
) -> tuple[Any, uuid.UUID] | None:
    if value is None:
        return None
    expected = sorts.tag(field, descending)
    prefix, _, body = value.partition("_")
    if prefix == "cursor" and len(body) == 32:  # the default order's form
        item_id = parse_cursor(value)
        assert item_id is not None
        tag, raw, hex_id = sorts.tag("CREATED_AT", sorts.default_descending), None, item_id.hex
    else:
        if prefix != "cursor" or not body:
            raise _refused(value, name)
        try:
            decoded = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except (binascii.Error, ValueError):
            raise _refused(value, name) from None
        if not (isinstance(decoded, list) and len(decoded) == 3 and isinstance(decoded[0], str)):
            raise _refused(value, name)
        tag, raw, hex_id = decoded
    if tag != expected and tag.split(".", 1)[0] == sorts.name:
        _, other_field, other_direction = tag.split(".")
        raise ValidationFailed(
            f"this cursor belongs to another order ({other_field} {other_direction}); page"
            f" with the `sort` it came from, or start again without `{name}`",
            path=(name,),
        )
    if tag != expected:
        raise _refused(value, name)
    column = sorts.columns[field]
    try:
        item = uuid.UUID(hex=hex_id)
        key = None if column.column is None else column.parse(raw)
    except (TypeError, ValueError, AttributeError):
        raise _refused(value, name) from None
    return key, item


def _name(value: Any) -> str | None:
    """An enum argument as its name: a member, or the raw name a look-ahead sees."""
    if value is None:
        return None
    return value.name if isinstance(value, Enum) else str(value)


def _count(value: Any) -> int | None:
    # strawberry hands literal ints of a look-ahead over as their source text.
    return int(value) if isinstance(value, str) else value


def paging(
    sorts: Sorts,
    *,
    first: Any = None,
    after: str | None = None,
    last: Any = None,
    before: str | None = None,
    sort: Any = None,
) -> Paging:
    """Validate the connection arguments: one direction at a time, a cursor of this order."""
    try:
        if first is not None and last is not None:
            raise ValidationFailed(
                "give `first` (with `after`) or `last` (with `before`), not both", path=("last",)
            )
        if after is not None and before is not None:
            raise ValidationFailed(
                "give `after` or `before`, not both: a page goes one way", path=("before",)
            )
        if last is not None and after is not None:
            raise ValidationFailed(
                "`last` pages back from `before`; with `after`, use `first`", path=("after",)
            )
        if first is not None and before is not None:
            raise ValidationFailed(
                "`first` pages on from `after`; with `before`, use `last`", path=("before",)
            )
        field, descending = "CREATED_AT", sorts.default_descending
        if sort is not None:
            raw_field = sort.get("field") if isinstance(sort, dict) else sort.field
            raw_direction = sort.get("direction") if isinstance(sort, dict) else sort.direction
            field = _name(raw_field) or "CREATED_AT"
            descending = _name(raw_direction) == "DESC"
            if field not in sorts.columns:
                raise ValidationFailed(f"{field!r} is no sort field of this list", path=("sort",))
        backward = last is not None or before is not None
        if backward:
            size = page_size(_count(last), "last")
            cursor = _read_cursor(before, "before", sorts, field, descending)
        else:
            size = page_size(_count(first))
            cursor = _read_cursor(after, "after", sorts, field, descending)
    except DomainError as error:
        raise api_error(error) from None
    order = Order(sorts.columns[field].column, descending)
    return Paging(PageRequest(size, order, backward, cursor), sorts, field, descending)


def paging_of(sorts: Sorts, arguments: Mapping[str, Any]) -> Paging | None:
    """``paging`` from a look-ahead's raw arguments; None when they are bad (the field's own
    resolver reports them)."""
    try:
        return paging(
            sorts,
            first=arguments.get("first"),
            after=arguments.get("after"),
            last=arguments.get("last"),
            before=arguments.get("before"),
            sort=arguments.get("sort"),
        )
    except (ApiError, ValueError, TypeError, KeyError, AttributeError):
        return None  # the resolver raises the same again, with its path


Last = Annotated[
    int | None,
    strawberry.argument(description="Page size counted back from `before` (or the end), 0-100."),
]
Before = Annotated[
    str | None, strawberry.argument(description="The `startCursor` of the page after this one.")
]


@strawberry.enum(description="What subscriptions can be sorted by.")
class SubscriptionSortField(Enum):
    CREATED_AT = strawberry.enum_value("CREATED_AT", description="The order recorded in.")
    START_DATE = strawberry.enum_value("START_DATE", description="`startDate`.")
    END_DATE = strawberry.enum_value("END_DATE", description="`endDate`.")


@strawberry.enum(description="What customers can be sorted by.")
class CustomerSortField(Enum):
    CREATED_AT = strawberry.enum_value("CREATED_AT", description="The order recorded in.")
    COMPANY = strawberry.enum_value("COMPANY", description="`company`.")


@strawberry.enum(description="What namespaces can be sorted by.")
class NamespaceSortField(Enum):
    CREATED_AT = strawberry.enum_value("CREATED_AT", description="The order recorded in.")
    PATH = strawberry.enum_value("PATH", description="`path`.")
    GITLAB_ID = strawberry.enum_value("GITLAB_ID", description="`gitlabId`.")


@strawberry.enum(description="What licenses can be sorted by.")
class LicenseSortField(Enum):
    CREATED_AT = strawberry.enum_value("CREATED_AT", description="The order issued in.")
    STARTS_AT = strawberry.enum_value("STARTS_AT", description="`startsAt`.")
    EXPIRES_AT = strawberry.enum_value("EXPIRES_AT", description="`expiresAt`.")


@strawberry.enum(description="What usage reports can be sorted by.")
class UsageReportSortField(Enum):
    CREATED_AT = strawberry.enum_value("CREATED_AT", description="The order received in.")
    REPORTED_AT = strawberry.enum_value("REPORTED_AT", description="`reportedAt`.")


@strawberry.enum(description="What provision events can be sorted by.")
class ProvisionEventSortField(Enum):
    CREATED_AT = strawberry.enum_value("CREATED_AT", description="The order recorded in.")
    NEXT_ATTEMPT_AT = strawberry.enum_value("NEXT_ATTEMPT_AT", description="`nextAttemptAt`.")
    UPDATED_AT = strawberry.enum_value("UPDATED_AT", description="`updatedAt`.")


@strawberry.input(description="How to sort subscriptions; the id breaks ties.")
class SubscriptionSort:
    field: SubscriptionSortField = strawberry.field(description="What to sort by.")
    direction: SortDirection = strawberry.field(
        default=SortDirection.ASC, description="Which way (ASC when omitted)."
    )


@strawberry.input(description="How to sort customers; the id breaks ties.")
class CustomerSort:
    field: CustomerSortField = strawberry.field(description="What to sort by.")
    direction: SortDirection = strawberry.field(
        default=SortDirection.ASC, description="Which way (ASC when omitted)."
    )


@strawberry.input(description="How to sort namespaces; the id breaks ties.")
class NamespaceSort:
    field: NamespaceSortField = strawberry.field(description="What to sort by.")
    direction: SortDirection = strawberry.field(
        default=SortDirection.ASC, description="Which way (ASC when omitted)."
    )


@strawberry.input(description="How to sort licenses; the id breaks ties.")
class LicenseSort:
    field: LicenseSortField = strawberry.field(description="What to sort by.")
    direction: SortDirection = strawberry.field(
        default=SortDirection.ASC, description="Which way (ASC when omitted)."
    )


@strawberry.input(description="How to sort usage reports; the id breaks ties.")
class UsageReportSort:
    field: UsageReportSortField = strawberry.field(description="What to sort by.")
    direction: SortDirection = strawberry.field(
        default=SortDirection.ASC, description="Which way (ASC when omitted)."
    )


@strawberry.input(description="How to sort ledger rows; the id breaks ties.")
class ProvisionEventSort:
    field: ProvisionEventSortField = strawberry.field(description="What to sort by.")
    direction: SortDirection = strawberry.field(
        default=SortDirection.ASC, description="Which way (ASC when omitted)."
    )


SUBSCRIPTIONS = Sorts(
    "Subscription",
    {
        "CREATED_AT": CREATED,
        "START_DATE": SortColumn("start_date", _date),
        "END_DATE": SortColumn("end_date", _date),
    },
)
CUSTOMERS = Sorts("Customer", {"CREATED_AT": CREATED, "COMPANY": SortColumn("company")})
NAMESPACES = Sorts(
    "Namespace",
    {
        "CREATED_AT": CREATED,
        "PATH": SortColumn("path"),
        "GITLAB_ID": SortColumn("gitlab_id", _integer),
    },
)
LICENSES = Sorts(
    "License",
    {
        "CREATED_AT": CREATED,
        "STARTS_AT": SortColumn("starts_at", _date),
        "EXPIRES_AT": SortColumn("expires_at", _date),
    },
)
USAGE_REPORTS = Sorts(
    "UsageReport", {"CREATED_AT": CREATED, "REPORTED_AT": SortColumn("reported_at", _datetime)}
)
PROVISION_EVENTS = Sorts(
    "ProvisionEvent",
    {
        "CREATED_AT": CREATED,
        "NEXT_ATTEMPT_AT": SortColumn("next_attempt_at", _datetime),
        "UPDATED_AT": SortColumn("updated_at", _datetime),
    },
    default_descending=True,
)
INSTANCES = Sorts("Instance", {"CREATED_AT": CREATED})
"""Instances page both ways but offer no other order."""

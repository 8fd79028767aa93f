"""Connection arguments (api/graphql/sorting.py): cursors round-trip with their order's key,
refuse another order's or a tampered one, and the look-ahead reads what the resolver reads."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from api.graphql import sorting
from api.graphql.errors import ApiError
from api.graphql.sorting import SortDirection, SubscriptionSort, SubscriptionSortField, paging
from persistence.keyset import Order, PageRequest

ITEM = uuid.UUID("01a2299c-933b-71c0-bbc4-ae4239ee9f94")


@pytest.mark.parametrize(
    ("sorts", "field", "key"),
    [
        (sorting.SUBSCRIPTIONS, "END_DATE", date(2026, 12, 2)),
        (sorting.CUSTOMERS, "COMPANY", "Ünïcode & Co"),
        (sorting.NAMESPACES, "GITLAB_ID", 9_000_000_001),
        (sorting.PROVISION_EVENTS, "UPDATED_AT", datetime(2026, 12, 2, 6, 5, 4, 321, UTC)),
    ],
)
@pytest.mark.parametrize("direction", ["ASC", "DESC"])
def test_a_cursor_carries_its_key_and_comes_back(
    sorts: sorting.Sorts, field: str, key: object, direction: str
) -> None:
    sort = {"field": field, "direction": direction}
    issued = paging(sorts, sort=sort).cursor(key, ITEM)
    again = paging(sorts, after=issued, sort=sort)
    assert again.request.cursor == (key, ITEM)
    back = paging(sorts, last=5, before=issued, sort=sort)
    assert back.request == PageRequest(
        5, Order(sorts.columns[field].column, direction == "DESC"), True, (key, ITEM)
    )


def test_the_default_order_keeps_the_old_cursor_form() -> None:
    issued = paging(sorting.SUBSCRIPTIONS).cursor(None, ITEM)
    assert issued == f"cursor_{ITEM.hex}"
    assert paging(sorting.SUBSCRIPTIONS, after=issued).request.cursor == (None, ITEM)
    ledger = paging(sorting.PROVISION_EVENTS, after=issued).request
    assert ledger.order == Order(None, descending=True)


def _refusal(**arguments: object) -> str:
    with pytest.raises(ApiError) as refused:
        paging(sorting.SUBSCRIPTIONS, **arguments)  # type: ignore[arg-type]
    assert refused.value.extensions["code"] == "VALIDATION_FAILED"
    return refused.value.message


def test_a_cursor_of_another_order_or_list_is_refused() -> None:
    by_end = {"field": "END_DATE"}
    issued = paging(sorting.SUBSCRIPTIONS, sort=by_end).cursor(date(2026, 1, 1), ITEM)
    assert "another order (END_DATE ASC)" in _refusal(after=issued)
    assert "another order (END_DATE ASC)" in _refusal(
        after=issued, sort={"field": "END_DATE", "direction": "DESC"}
    )
    assert "another order (CREATED_AT ASC)" in _refusal(after=f"cursor_{ITEM.hex}", sort=by_end)
    other_list = paging(sorting.LICENSES, sort={"field": "EXPIRES_AT"}).cursor(
        date(2026, 1, 1), ITEM
    )
    assert "not a cursor issued by this API" in _refusal(after=other_list, sort=by_end)


@pytest.mark.parametrize(
    "tampered",
    [
        "cursor_",
        "cursor_!!!",
        "page_" + "a" * 32,
        "cursor_WyJTdWJzY3JpcHRpb24uRU5EX0RBVEUuQVNDIiwxLDJd",  # a tag, then 1 and 2
        "cursor_eyJhIjogMX0",  # {"a": 1}
    ],
)
def test_a_tampered_cursor_is_refused(tampered: str) -> None:
    assert "not a cursor issued by this API" in _refusal(after=tampered, sort={"field": "END_DATE"})


def test_the_look_ahead_reads_the_arguments_as_the_resolver_does() -> None:
    issued = paging(sorting.SUBSCRIPTIONS, sort={"field": "START_DATE"}).cursor(
        date(2026, 3, 1), ITEM
    )
    resolver = paging(
        sorting.SUBSCRIPTIONS,
        last=3,
        before=issued,
        sort=SubscriptionSort(field=SubscriptionSortField.START_DATE, direction=SortDirection.ASC),
    )
    looked_ahead = sorting.paging_of(
        sorting.SUBSCRIPTIONS,
        {"last": "3", "before": issued, "sort": {"field": "START_DATE"}},  # literal text
    )
    assert looked_ahead is not None
    assert looked_ahead.request == resolver.request
    assert sorting.paging_of(sorting.SUBSCRIPTIONS, {"first": 1, "last": 1}) is None

"""Identifiers: UUID version 7, so ids sort in creation order."""

from __future__ import annotations

import itertools
import time
import uuid

from domain.model.ids import new_id


def test_new_id_is_a_version_7_rfc_4122_uuid() -> None:
    for _ in range(100):
        value = new_id()
        assert value.version == 7
        assert value.variant == uuid.RFC_4122


def test_new_id_carries_the_current_unix_milliseconds() -> None:
    before = time.time_ns() // 1_000_000
    value = new_id()
    after = time.time_ns() // 1_000_000
    assert before <= value.int >> 80 <= after


def test_ids_created_at_least_2_ms_apart_sort_in_creation_order() -> None:
    created = []
    for _ in range(5):
        created.append(new_id())
        time.sleep(0.002)
    assert created == sorted(created)
    assert [value.bytes for value in created] == sorted(value.bytes for value in created)
    assert [str(value) for value in created] == sorted(str(value) for value in created)


def test_new_id_is_unique_over_10k_calls() -> None:
    values = {new_id() for _ in range(10_000)}
    assert len(values) == 10_000


def test_ids_made_in_a_tight_loop_strictly_increase() -> None:
    created = [new_id() for _ in range(5_000)]
    assert all(before < after for before, after in itertools.pairwise(created))

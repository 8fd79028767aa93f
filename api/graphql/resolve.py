"""Helpers for resolvers: sync when data is already loaded, async only when it must be."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, TypeVar

from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from api.graphql.loaders import Loader

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
R = TypeVar("R")


async def _then(pending: Awaitable[V], convert: Callable[[V], R]) -> R:
    return convert(await pending)


def load_then(loader: Loader[K, V], key: K, convert: Callable[[V], R]) -> R | Awaitable[R]:
    """Convert the loaded value; without a coroutine when a batch already loaded it."""
    value = loader.get(key)
    if isinstance(value, asyncio.Future):  # a miss: Loader.get returns the batch's future
        return _then(value, convert)
    return convert(value)


def present(value: V | None, what: str) -> V:
    """A non-null relation: the parent's visibility implies the child's, so None is a bug."""
    if value is None:
        raise LookupError(f"{what} vanished while its parent was visible")
    return value


def _flatten(selections: Sequence[Selection]) -> list[SelectedField]:
    fields: list[SelectedField] = []
    for selection in selections:
        if isinstance(selection, SelectedField):
            fields.append(selection)
        elif isinstance(selection, FragmentSpread | InlineFragment):
            fields.extend(_flatten(selection.selections))
    return fields


def selected(fields: Sequence[Selection], *path: str) -> list[SelectedField]:
    """The selections reached by following field names ``path`` (fragments included)."""
    current = _flatten(fields)
    for name in path:
        current = [field for field in _flatten(current_selection(current)) if field.name == name]
    return current


def current_selection(fields: Sequence[SelectedField]) -> list[Selection]:
    children: list[Selection] = []
    for field in fields:
        children.extend(field.selections)
    return children


def argument(field: SelectedField, name: str) -> Any:
    return field.arguments.get(name)

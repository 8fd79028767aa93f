"""Rebuilding entities and value objects from storage."""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")


def restore(cls: type[T], **fields: Any) -> T:
    """An instance of ``cls`` with exactly ``fields``, without running its constructor.

    Creation checks ran when the object was first made; what storage holds passed them (and
    the database's constraints check much of it again). Loading skips them, as ORMs do when
    they load rows, because lists load thousands of objects per second.
    """
    instance: T = object.__new__(cls)
    instance.__dict__.update(fields)
    return instance

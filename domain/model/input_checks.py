"""What any input must be before it reaches storage: integers that fit PostgreSQL's bigint and
text without NUL characters (PostgreSQL's text cannot hold ``\\x00``). Checked once at each
entry point (GraphQL variables and literals, REST bodies), not per field."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from domain.errors import ValidationFailed

BIGINT_MIN = -(2**63)
BIGINT_MAX = 2**63 - 1
_MAX_DEPTH = 64


def unstorable(value: object, path: tuple[str, ...] = ()) -> ValidationFailed | None:
    """The first part of ``value`` (JSON-like: mappings, lists, scalars) no column can hold."""
    return _walk(value, path, 0)


def _walk(value: object, path: tuple[str, ...], depth: int) -> ValidationFailed | None:
    if isinstance(value, str):
        if "\x00" in value:
            return ValidationFailed("text must not contain NUL characters", path=path)
        return None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        if not BIGINT_MIN <= value <= BIGINT_MAX:
            return ValidationFailed(f"numbers are between {BIGINT_MIN} and {BIGINT_MAX}", path=path)
        return None
    if depth >= _MAX_DEPTH:
        return ValidationFailed("the input is nested too deeply", path=path)
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = _walk(key, path, depth + 1) or _walk(item, (*path, str(key)), depth + 1)
            if found:
                return found
    elif isinstance(value, Sequence):
        for index, item in enumerate(value):
            found = _walk(item, (*path, str(index)), depth + 1)
            if found:
                return found
    return None


def parse_bigint_id(text: str, path: tuple[str, ...]) -> int:
    """A positive id given as decimal ASCII digits that fits a bigint, or ``ValidationFailed``."""
    if (
        not (len(text) <= 19 and text.isascii() and text.isdigit())
        or not 1 <= int(text) <= BIGINT_MAX
    ):
        raise ValidationFailed(f"a positive integer up to {BIGINT_MAX} is expected", path=path)
    return int(text)

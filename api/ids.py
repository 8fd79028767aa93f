"""Opaque global IDs (``Type:uuid``) and keyset cursors, both base64url without padding."""

from __future__ import annotations

import base64
import binascii
import uuid

from domain.errors import InvalidId

_CURSOR_PREFIX = "cursor:"


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _encode(text: str) -> str:
    # binascii directly: this runs for every node of every page.
    encoded = binascii.b2a_base64(text.encode(), newline=False).translate(_URLSAFE)
    return encoded.decode().rstrip("=")


def _decode(value: str) -> str:
    try:
        padded = value + "=" * (-len(value) % 4)
        return base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        raise InvalidId(f"{value!r} is not an ID issued by this API") from None


def global_id(type_name: str, local_id: uuid.UUID) -> str:
    return _encode(f"{type_name}:{local_id}")


def parse_global_id(value: str) -> tuple[str, uuid.UUID]:
    """Split a global ID into its type name and local id, or raise ``InvalidId``."""
    type_name, _, local = _decode(value).partition(":")
    try:
        return type_name, uuid.UUID(local)
    except ValueError:
        raise InvalidId(f"{value!r} is not an ID issued by this API") from None


def parse_typed_id(value: str, expected_type: str, *, path: tuple[str, ...]) -> uuid.UUID:
    """The local id of a global ID that must name ``expected_type``."""
    type_name, local_id = parse_global_id(value)
    if type_name != expected_type:
        raise InvalidId(f"{value!r} is not the ID of a {expected_type}", path=path)
    return local_id


def cursor(local_id: uuid.UUID) -> str:
    return _encode(f"{_CURSOR_PREFIX}{local_id}")


def parse_cursor(value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    text = _decode(value)
    if not text.startswith(_CURSOR_PREFIX):
        raise InvalidId(f"{value!r} is not a cursor issued by this API", path=("after",))
    try:
        return uuid.UUID(text[len(_CURSOR_PREFIX) :])
    except ValueError:
        raise InvalidId(f"{value!r} is not a cursor issued by this API", path=("after",)) from None

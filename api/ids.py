"""Global IDs and keyset cursors.

A global ID is a type prefix and the object's UUID in hex, like
``sub_01a2299c933b71c0bbc4ae4239ee9f94``: opaque to clients, readable for people in
support, cheap to build for every node of every page.
"""

from __future__ import annotations

import uuid

from domain.errors import InvalidId

PREFIXES = {
    "Customer": "cus",
    "Subscription": "sub",
    "Namespace": "ns",
    "License": "lic",
    "Instance": "inst",
    "Trial": "trial",
    "UsageReport": "usage",
    "ProvisionEvent": "pev",
    "AuditEntry": "aud",
    "WebhookEndpoint": "whe",
    "MarketplaceOffer": "mko",
    "MarketplaceInboxEntry": "mki",
    "WebhookDelivery": "whd",
    "DedicatedTenant": "ded",
}
_TYPES = {prefix: type_name for type_name, prefix in PREFIXES.items()}
_CURSOR = "cursor"
_HEX_LENGTH = 32


def global_id(type_name: str, local_id: uuid.UUID) -> str:
    return f"{PREFIXES[type_name]}_{local_id.hex}"


def _split(value: str, what: str, path: tuple[str, ...] | None) -> tuple[str, uuid.UUID]:
    prefix, _, hex_part = value.partition("_")
    if len(hex_part) != _HEX_LENGTH:
        raise InvalidId(f"{value!r} is not {what} issued by this API", path=path)
    try:
        return prefix, uuid.UUID(hex=hex_part)
    except ValueError:
        raise InvalidId(f"{value!r} is not {what} issued by this API", path=path) from None


def parse_global_id(value: str) -> tuple[str, uuid.UUID]:
    """Split a global ID into its type name and local id, or raise ``InvalidId``."""
    prefix, local_id = _split(value, "an ID", None)
    type_name = _TYPES.get(prefix)
    if type_name is None:
        raise InvalidId(f"{value!r} is not an ID issued by this API")
    return type_name, local_id


def parse_typed_id(value: str, expected_type: str, *, path: tuple[str, ...]) -> uuid.UUID:
    """The local id of a global ID that must name ``expected_type``."""
    type_name, local_id = parse_global_id(value)
    if type_name != expected_type:
        raise InvalidId(f"{value!r} is not the ID of a {expected_type}", path=path)
    return local_id


def cursor(local_id: uuid.UUID) -> str:
    return f"{_CURSOR}_{local_id.hex}"


def parse_cursor(value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    prefix, local_id = _split(value, "a cursor", ("after",))
    if prefix != _CURSOR:
        raise InvalidId(f"{value!r} is not a cursor issued by this API", path=("after",))
    return local_id

"""Argument types the commands share: object IDs as the API shows them, and scope names."""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Callable

from api.ids import PREFIXES, parse_global_id
from api.settings import FORWARDED_IPS, forwarded_ips
from domain.errors import InvalidId
from domain.policy import ALL_SCOPES


def object_id(type_name: str) -> Callable[[str], uuid.UUID]:
    """An argparse ``type``: the ID the API shows for a ``type_name`` (``cus_0190…``), or the
    bare UUID; another type's ID is refused, naming what it is."""
    prefix = PREFIXES[type_name]
    example = f"{prefix}_0190a2b3c4d57e8f9a0b1c2d3e4f5a6b"

    def parse(raw: str) -> uuid.UUID:
        value = raw.strip()
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
        try:
            found, local_id = parse_global_id(value)
        except InvalidId:
            raise argparse.ArgumentTypeError(
                f"{raw!r} is not a {type_name} ID (like {example}) or a UUID"
            ) from None
        if found != type_name:
            raise argparse.ArgumentTypeError(
                f"{raw!r} is the ID of a {found}, not of a {type_name} ({prefix}_…)"
            )
        return local_id

    parse.__name__ = f"{type_name} ID"
    return parse


def scope_name(raw: str) -> str:
    """An argparse ``type``: one of the API's scopes (docs/access.md)."""
    value = raw.strip()
    if value not in ALL_SCOPES:
        raise argparse.ArgumentTypeError(
            f"unknown scope {raw!r}; the known scopes are: {', '.join(sorted(ALL_SCOPES))}"
        )
    return value


def proxies(raw: str) -> str:
    """An argparse ``type``: ``--forwarded-allow-ips``, checked as PROVISION_FORWARDED_ALLOW_IPS."""
    try:
        return forwarded_ips(raw)
    except Exception:
        raise argparse.ArgumentTypeError(f"expected {FORWARDED_IPS}, got {raw!r}") from None

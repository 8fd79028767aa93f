"""Which schema changes break clients (graphql-core's ``find_breaking_changes``), less those
the deprecation policy allows (docs/deprecation.md): removing or changing a field, an
argument or an enum value that the old schema had marked ``@deprecated``, and removing a type
that only deprecated fields and arguments used."""

from __future__ import annotations

import re

from graphql import (
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    find_breaking_changes,
    get_named_type,
)
from graphql import build_schema as parse_sdl

_FIELD = re.compile(r"^Field (\w+)\.(\w+) (?:was removed|changed type from .*)\.$")
_ARGUMENT = re.compile(r"^Argument (\w+)\.(\w+)\((\w+):\) (?:was removed|has changed type .*)\.$")
_ENUM_VALUE = re.compile(r"^Enum value (\w+)\.(\w+) was removed\.$")
_TYPE = re.compile(r"^(\w+) was removed\.$")


def _fields(schema: GraphQLSchema, type_name: str) -> dict[str, object]:
    found = schema.type_map.get(type_name)
    if isinstance(found, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
        return dict(found.fields)
    return {}


def _deprecated(element: object) -> bool:
    return bool(getattr(element, "deprecation_reason", None))


def _field_deprecated(old: GraphQLSchema, type_name: str, field_name: str) -> bool:
    return _deprecated(_fields(old, type_name).get(field_name))


def _argument_deprecated(old: GraphQLSchema, type_name: str, field: str, argument: str) -> bool:
    owner = _fields(old, type_name).get(field)
    args = getattr(owner, "args", None) or {}
    return _deprecated(owner) or _deprecated(args.get(argument))


def _only_used_deprecated(old: GraphQLSchema, removed: str) -> bool:
    """Every field, argument and input field of ``old`` typed ``removed`` was deprecated."""
    for name in old.type_map:
        if name.startswith("__") or name == removed:
            continue
        for field in _fields(old, name).values():
            if get_named_type(field.type).name == removed and not _deprecated(field):
                return False
            for arg in (getattr(field, "args", None) or {}).values():
                if get_named_type(arg.type).name == removed and not (
                    _deprecated(arg) or _deprecated(field)
                ):
                    return False
    return True


def _allowed(old: GraphQLSchema, description: str) -> bool:
    if description.startswith("Standard scalar "):
        return True  # "… was removed because it is not referenced anymore": always there
    if match := _FIELD.match(description):
        return _field_deprecated(old, *match.groups())
    if match := _ARGUMENT.match(description):
        return _argument_deprecated(old, *match.groups())
    if match := _ENUM_VALUE.match(description):
        enum = old.type_map.get(match.group(1))
        values = getattr(enum, "values", None) or {}
        return _deprecated(values.get(match.group(2)))
    if match := _TYPE.match(description):
        return _only_used_deprecated(old, match.group(1))
    return False


def breaking_changes(old_sdl: str, new_sdl: str) -> list[str]:
    """What ``new_sdl`` breaks of ``old_sdl`` that was not deprecated first."""
    old, new = parse_sdl(old_sdl), parse_sdl(new_sdl)
    return [
        change.description
        for change in find_breaking_changes(old, new)
        if not _allowed(old, change.description)
    ]

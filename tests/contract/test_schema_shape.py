"""The shape a client expects of the schema (issue 16): each mutation answers with a payload
type of its own, and a field naming a kind or a state from a closed set is an enum."""

from __future__ import annotations

import re
from collections import Counter

from graphql import (
    GraphQLInputObjectType,
    GraphQLObjectType,
    GraphQLScalarType,
    build_schema,
    get_named_type,
)

from api.graphql.export import export_sdl

SCHEMA = build_schema(export_sdl())

OPEN_KINDS = {
    "Namespace.kind": "GitLab.com's namespace kind, as GitLab sends it (`group`, `user`)",
    "UpsertNamespaceInput.kind": "the same, from GitLab.com",
    "GitlabNamespaceInput.kind": "the same, in GitLab.com's own shape",
}
"""String fields named like a kind or state whose values Provision does not choose."""


def test_no_two_mutations_share_a_payload_type() -> None:
    mutation = SCHEMA.mutation_type
    assert mutation is not None
    returned = Counter(get_named_type(field.type).name for field in mutation.fields.values())
    assert [name for name, uses in returned.items() if uses > 1] == []


def test_a_kind_or_state_of_a_closed_set_is_an_enum() -> None:
    strings = []
    for type_name, named in SCHEMA.type_map.items():
        if type_name.startswith("__") or not isinstance(
            named, GraphQLObjectType | GraphQLInputObjectType
        ):
            continue
        for field_name, field in named.fields.items():
            candidates = [(f"{type_name}.{field_name}", field.type)]
            candidates += [
                (f"{type_name}.{field_name}({arg})", a.type)
                for arg, a in (getattr(field, "args", None) or {}).items()
            ]
            for where, of_type in candidates:
                leaf = get_named_type(of_type)
                name = where.rsplit("(", 1)[-1].rsplit(".", 1)[-1]
                if (
                    isinstance(leaf, GraphQLScalarType)
                    and leaf.name == "String"
                    and re.search(r"(^|[a-z])(kind|state|Kind|State)\)?$", name)
                ):
                    strings.append(where)
    assert sorted(strings) == sorted(OPEN_KINDS)

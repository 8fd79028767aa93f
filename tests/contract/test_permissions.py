"""Every root query field and mutation carries a permission check (DESIGN §6); an explicit
allow-list names the public ones. The walk reads the code (the checks that run) and the SDL
(the directives clients read), and both must agree."""

from __future__ import annotations

from pathlib import Path

from graphql import build_schema as parse_sdl
from strawberry.types.base import get_object_definition

from api.graphql.permissions import HasScope, SignedIn, permissions_of
from api.graphql.schema import build_schema
from domain.policy import ALL_SCOPES

ROOT = Path(__file__).resolve().parents[2]

PUBLIC = {
    # Who is calling: answers ANONYMOUS for nobody; its customers field checks its own scope.
    ("Query", "viewer"),
    # An instance has no token yet: the activation code is the credential, its format is
    # checked before any lookup and failed attempts are limited per code and per address.
    ("Mutation", "activateSubscription"),
    ("Mutation", "cloudActivationActivate"),
    # GitLab's Cloud Connector sync: the license key is the credential, as on the seat link.
    ("Query", "cloudConnectorAccess"),
}


def _root_fields() -> dict[tuple[str, str], list[object]]:
    schema = build_schema()
    fields: dict[tuple[str, str], list[object]] = {}
    for root in (schema.query, schema.mutation):
        if root is None:
            continue
        definition = get_object_definition(root, strict=True)
        for field in definition.fields:
            name = schema.config.name_converter.get_graphql_name(field)
            fields[(definition.name, name)] = list(permissions_of(field.extensions))
    return fields


def test_every_root_field_and_mutation_checks_permission() -> None:
    unprotected = sorted(
        name for name, checks in _root_fields().items() if not checks and name not in PUBLIC
    )
    assert not unprotected, f"root fields without a permission check: {unprotected}"


def test_the_allow_list_names_only_fields_that_exist_and_are_public() -> None:
    fields = _root_fields()
    for name in PUBLIC:
        assert name in fields, f"{name} is allow-listed but does not exist"
        assert not fields[name], f"{name} is allow-listed but has a check; drop it from the list"


def test_checks_name_real_scopes() -> None:
    for name, checks in _root_fields().items():
        for check in checks:
            assert isinstance(check, HasScope | SignedIn), name
            if isinstance(check, HasScope):
                scope = f"{check.resource.value}:{check.access.value}"
                assert scope in ALL_SCOPES, (name, scope)


def test_the_sdl_shows_each_check_as_a_directive() -> None:
    schema = parse_sdl((ROOT / "schema.graphql").read_text())
    roots = {"Query": schema.query_type, "Mutation": schema.mutation_type}
    for (type_name, field_name), checks in _root_fields().items():
        root = roots[type_name]
        assert root is not None
        node = root.fields[field_name].ast_node
        assert node is not None
        directives = {directive.name.value for directive in node.directives or ()}
        expected = {"requiresScope" if isinstance(c, HasScope) else "authenticated" for c in checks}
        assert directives == expected, (type_name, field_name)

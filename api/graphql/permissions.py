"""Permission checks on root fields and mutations, shown in the SDL as directives.

Scopes gate the entry points (DESIGN §6); what a principal then sees is cut to its tenant in
SQL by the read models (``domain.policy.reach``). The checks run once per root field, never
per nested field, so they cost nothing on the hot path.
"""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.extensions.field_extension import FieldExtension
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.schema_directive import Location

from api.graphql.context import Info
from api.graphql.errors import api_error
from domain.errors import DomainError, Unauthenticated
from domain.policy import Access, Resource, require_scope, scope


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    description="The field needs an access token; each object's read scope is checked too.",
)
class Authenticated:
    pass


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    description="The field needs an access token carrying this scope.",
)
class RequiresScope:
    scope: str = strawberry.field(description="A scope such as `subscriptions:read`.")


class SignedIn(BasePermission):
    """Any authenticated principal."""

    _schema_directive = Authenticated()

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        if not info.context.principal.is_authenticated:
            raise api_error(Unauthenticated("sign in first: this field needs an access token"))
        return True


class HasScope(BasePermission):
    """An authenticated principal whose token carries ``resource:access``."""

    def __init__(self, resource: Resource, access: Access) -> None:
        self.resource = resource
        self.access = access
        self.directive = RequiresScope(scope=scope(resource, access))

    @property
    def schema_directive(self) -> object:
        return self.directive

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        try:
            require_scope(info.context.principal, self.resource, self.access)
        except DomainError as refused:
            raise api_error(refused) from None
        return True


def needs(resource: Resource, access: Access = Access.READ) -> list[FieldExtension]:
    """``extensions=`` for a field that needs ``resource:access``."""
    return [PermissionExtension(permissions=[HasScope(resource, access)])]


def signed_in() -> list[FieldExtension]:
    """``extensions=`` for a field that needs any access token."""
    return [PermissionExtension(permissions=[SignedIn()])]


def permissions_of(extensions: list[FieldExtension]) -> list[BasePermission]:
    """The permission checks among a field's extensions (for the schema-walk test)."""
    return [
        permission
        for extension in extensions
        if isinstance(extension, PermissionExtension)
        for permission in extension.permissions
    ]

"""Who is calling: the principal every use case and read query receives."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum

from domain.model.enums import Role


class PrincipalKind(StrEnum):
    """The five kinds of caller (DESIGN §6), plus nobody."""

    ANONYMOUS = "ANONYMOUS"
    PORTAL_USER = "PORTAL_USER"
    INSTANCE = "INSTANCE"
    GITLAB_COM = "GITLAB_COM"
    PARTNER = "PARTNER"
    STAFF = "STAFF"


@dataclass(frozen=True)
class Principal:
    """An authenticated (or anonymous) caller, what it may do and whose data it may see."""

    kind: PrincipalKind
    subject: str | None = None
    scopes: frozenset[str] = frozenset()
    memberships: dict[uuid.UUID, Role] = field(default_factory=dict)
    partner_id: str | None = None
    subscription_id: uuid.UUID | None = None
    email: str | None = None
    """A portal user's verified email: it makes the GitLab.com groups they own visible."""

    @classmethod
    def anonymous(cls) -> Principal:
        return cls(kind=PrincipalKind.ANONYMOUS)

    @property
    def is_authenticated(self) -> bool:
        return self.kind is not PrincipalKind.ANONYMOUS

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

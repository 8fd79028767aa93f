"""The auth app's tables (a piccolo app of its own)."""

from __future__ import annotations

from piccolo.columns import JSONB, UUID, Text, Timestamptz, Varchar
from piccolo.table import Table


class SigningKey(Table, tablename="auth_signing_key"):
    """A key that signs access tokens; retired keys stay published until their tokens expire."""

    id = UUID(primary_key=True)
    kid = Varchar(length=64, unique=True)
    algorithm = Varchar(length=16)
    private_key_pem = Text()
    public_jwk = JSONB()
    created_at = Timestamptz()
    retired_at = Timestamptz(null=True, default=None)


TABLES: list[type[Table]] = [SigningKey]

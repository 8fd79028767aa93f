"""Customers: billing accounts and their members."""

from __future__ import annotations

import uuid

from domain.model.customer import Customer, Membership
from domain.model.enums import Role
from persistence.database import Database
from persistence.mappers import (
    CUSTOMER_COLUMNS,
    customer_from_row,
)


class PostgresCustomers:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, customer_id: uuid.UUID) -> Customer | None:
        row = await self._db.fetchrow(
            f"SELECT {CUSTOMER_COLUMNS} FROM customer c WHERE c.id = $1", customer_id
        )
        return customer_from_row(row) if row else None

    async def add(self, customer: Customer) -> None:
        await self._db.fetch(
            "INSERT INTO customer (id, company, contact_name, contact_email, created_at)"
            " VALUES ($1, $2, $3, $4, $5)",
            customer.id,
            customer.company,
            customer.contact_name,
            customer.contact_email,
            customer.created_at,
        )

    async def role_of(self, customer_id: uuid.UUID, user_subject: str) -> Role | None:
        role = await self._db.fetchval(
            "SELECT role FROM membership WHERE customer = $1 AND user_subject = $2",
            customer_id,
            user_subject,
        )
        return Role(role) if role else None

    async def bought_from(self, customer_id: uuid.UUID, partner_id: str) -> bool:
        found = await self._db.fetchval(
            "SELECT EXISTS (SELECT 1 FROM subscription WHERE customer = $1 AND partner_id = $2)",
            customer_id,
            partner_id,
        )
        return bool(found)

    async def add_membership(self, membership: Membership) -> None:
        await self._db.fetch(
            "INSERT INTO membership (id, customer, user_subject, role) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (customer, user_subject) DO UPDATE SET role = EXCLUDED.role",
            uuid.uuid4(),
            membership.customer_id,
            membership.user_subject,
            membership.role.value,
        )

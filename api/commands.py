"""The use-case handlers, built once by the composition root and handed to the resolvers."""

from __future__ import annotations

from dataclasses import dataclass

from domain.ports import Clock
from domain.use_cases.create_subscription import CreateSubscriptionHandler
from persistence.database import Database
from persistence.unit_of_work import PostgresUnitOfWork


@dataclass(frozen=True)
class Commands:
    create_subscription: CreateSubscriptionHandler

    @classmethod
    def build(cls, db: Database, clock: Clock) -> Commands:
        def unit_of_work() -> PostgresUnitOfWork:
            return PostgresUnitOfWork(db)

        return cls(create_subscription=CreateSubscriptionHandler(unit_of_work, clock))

"""The unit of work: one piccolo transaction that every repository inside it joins."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from piccolo.engine.postgres import PostgresTransaction

from domain.model.idempotency import IdempotencyRecord
from domain.ports import IdempotencyStore
from persistence.database import Database
from persistence.ledger import PostgresOutbox, PostgresProvisionEvents
from persistence.repositories import (
    PostgresActivationCodes,
    PostgresAuditLog,
    PostgresChannelTransfers,
    PostgresCustomers,
    PostgresDedicatedTenants,
    PostgresIdempotency,
    PostgresInstances,
    PostgresLicenses,
    PostgresNamespaces,
    PostgresPartners,
    PostgresSubscriptions,
    PostgresTrials,
    PostgresUsageReports,
    PostgresWebhookEndpoints,
)


class PostgresUnitOfWork:
    """Begins a transaction on enter; rolls back on exit unless ``commit()`` was called."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.customers = PostgresCustomers(db)
        self.subscriptions = PostgresSubscriptions(db)
        self.namespaces = PostgresNamespaces(db)
        self.trials = PostgresTrials(db)
        self.instances = PostgresInstances(db)
        self.licenses = PostgresLicenses(db)
        self.usage_reports = PostgresUsageReports(db)
        self.activation_codes = PostgresActivationCodes(db)
        # Appended to the audit chain at commit (docs/audit.md), whatever ``audit`` becomes.
        self._audit_log = PostgresAuditLog(db)
        self.audit = self._audit_log
        self.idempotency: IdempotencyStore = PostgresIdempotency(db)
        self.outbox = PostgresOutbox(db)
        self.provision_events = PostgresProvisionEvents(db)
        self.webhook_endpoints = PostgresWebhookEndpoints(db)
        self.partners = PostgresPartners(db)
        self.channel_transfers = PostgresChannelTransfers(db)
        self.dedicated_tenants = PostgresDedicatedTenants(db)
        self._transaction: PostgresTransaction | None = None
        self._committed = False

    async def __aenter__(self) -> Self:
        self._transaction = self._db.engine.transaction(allow_nested=False)
        await self._transaction.__aenter__()
        self._committed = False
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        transaction = self._require_transaction()
        if exc is None and not self._committed:
            # piccolo commits on a clean exit; a unit of work only keeps what was committed.
            await transaction.rollback()  # type: ignore[no-untyped-call]
        await transaction.__aexit__(exc_type, exc, tb)
        self._transaction = None

    async def commit(self) -> None:
        transaction = self._require_transaction()
        await self._audit_log.flush()
        await transaction.commit()  # type: ignore[no-untyped-call]
        self._committed = True

    def _require_transaction(self) -> PostgresTransaction:
        if self._transaction is None:
            raise RuntimeError("the unit of work is not entered")
        return self._transaction


class _NoIdempotencyRecords:
    """An idempotency store that keeps nothing: a keyed use case always runs (its caller
    makes sure it runs once)."""

    async def find(self, scope: str, operation: str, key: str) -> IdempotencyRecord | None:
        return None

    async def save(self, record: IdempotencyRecord) -> None:
        return None


_NO_RECORDS = _NoIdempotencyRecords()


class JoiningUnitOfWork(PostgresUnitOfWork):
    """A unit of work that, inside a transaction already open on this task (a marketplace
    event's: ``PostgresMarketplaceLinks.session``), joins it instead of opening its own: no
    BEGIN or COMMIT of its own, and what it writes commits or rolls back with the outer
    transaction. ``commit()`` then appends its audit entries to the chain (docs/audit.md) and
    marks it kept, without COMMIT; leaving it with an exception lets the
    exception roll the outer one back. Outside such a transaction it is a
    ``PostgresUnitOfWork``.

    Only for callers whose use cases raise their refusals before writing (the subscription
    frame locks, checks, then writes): a refusal the caller catches and carries on from must
    leave nothing behind, as there is no savepoint to roll back to."""

    _joined = False

    def __init__(self, db: Database, *, keys_kept_by_caller: bool = False) -> None:
        """``keys_kept_by_caller``: when joined, the outer transaction's owner makes the whole
        of it happen once (the marketplace session: the inbox row is checked under the lock
        and settled in the same transaction), so the use cases' idempotency keys need no
        record of their own - two round trips less per keyed call. Outside a transaction the
        records are kept as usual."""
        super().__init__(db)
        self._keys_kept_by_caller = keys_kept_by_caller
        self._records = self.idempotency

    async def __aenter__(self) -> Self:
        if self._db.engine.current_transaction.get() is None:
            self._joined = False
            self.idempotency = self._records
            return await super().__aenter__()
        self._joined = True
        self._committed = False
        self.idempotency = _NO_RECORDS if self._keys_kept_by_caller else self._records
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._joined:
            self._joined = False
            return
        await super().__aexit__(exc_type, exc, tb)

    async def commit(self) -> None:
        if self._joined:
            # The audit entries join the audit chain now, in the outer transaction: they
            # commit with it or not at all.
            await self._audit_log.flush()
            self._committed = True
            return
        await super().commit()

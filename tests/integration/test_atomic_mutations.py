"""A mutation's change, its audit entry and its ledger rows commit together or not at all: a
failure forced after the domain change leaves neither the change nor the rows."""

from __future__ import annotations

from typing import Any

import pytest

from domain.model.enums import Deployment, NamespacePlan, TrialType
from domain.policy import grantable
from domain.principal import Principal, PrincipalKind
from domain.use_cases.link_namespace import LinkNamespace, LinkNamespaceHandler
from domain.use_cases.trials import ApplyTrial, Trials
from persistence.database import Database
from persistence.unit_of_work import PostgresUnitOfWork

import factories as f

STAFF = Principal(PrincipalKind.STAFF, subject="ops", scopes=grantable(PrincipalKind.STAFF))


class Boom(Exception):
    pass


class FailingAudit:
    async def record(self, entry: Any) -> None:
        raise Boom("the audit log is down")


class AuditFailsUnitOfWork(PostgresUnitOfWork):
    """A real transaction whose audit write fails - after the change and the ledger rows."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.audit = FailingAudit()  # type: ignore[assignment]


class _Clock:
    def now(self) -> Any:
        return f.NOW

    def today(self) -> Any:
        return f.TODAY


async def _counts(db: Database) -> tuple[int, int, int]:
    return (
        int(await db.fetchval("SELECT count(*) FROM subscription WHERE namespace IS NOT NULL")),
        int(await db.fetchval("SELECT count(*) FROM provision_event")),
        int(await db.fetchval("SELECT count(*) FROM trial")),
    )


async def test_a_failed_link_leaves_no_link_and_no_ledger_row(clean_db: Database) -> None:
    customer, group = f.customer(), f.namespace(10)
    sub = f.subscription(customer, deployment=Deployment.GITLAB_COM)
    await f.store(clean_db, customer, group, sub)
    handler = LinkNamespaceHandler(lambda: AuditFailsUnitOfWork(clean_db), _Clock())
    with pytest.raises(Boom):
        await handler.link(STAFF, LinkNamespace(sub.id, group.id))
    assert await _counts(clean_db) == (0, 0, 0)
    base = await clean_db.fetchval("SELECT base_plan FROM namespace")
    assert base == NamespacePlan.FREE.value
    # The same, working: the change and its row together.
    await LinkNamespaceHandler(lambda: PostgresUnitOfWork(clean_db), _Clock()).link(
        STAFF, LinkNamespace(sub.id, group.id)
    )
    assert await _counts(clean_db) == (1, 1, 0)


async def test_a_failed_trial_leaves_no_trial_and_no_ledger_row(clean_db: Database) -> None:
    group = f.namespace(20)
    await f.store(clean_db, group)
    trials = Trials(lambda: AuditFailsUnitOfWork(clean_db), _Clock())
    with pytest.raises(Boom):
        await trials.apply(STAFF, ApplyTrial(group.id, TrialType.ULTIMATE))
    assert await _counts(clean_db) == (0, 0, 0)

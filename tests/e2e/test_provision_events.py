"""provisionEvents, provisionEventSummary, retryProvisionEvent and resolveProvisionEvent over
HTTP with real tokens: lists and filters, a retried row run again by a worker, a resolved row
left alone by workers, every refusal, and nothing for callers who are not staff."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.ids import global_id
from api.worker.loop import Worker, WorkerConfig, WorkerRegistry
from domain.model.provision_event import ProvisionEvent, ProvisionStatus
from domain.ports import Clock
from domain.principal import PrincipalKind
from persistence.database import Database
from persistence.ledger import PostgresLedger, PostgresScheduledJobRuns

import factories as f
import ledger_rows
from bearer import bearer, token_for
from graphql_client import GraphQL, answer, codes
from ledger_rows import record

Row = Callable[..., ProvisionEvent]

EVENT_FIELDS = """id kind status attempts maxAttempts nextAttemptAt lastError correlationId
    payload createdAt updatedAt resolvedReason resolvedAt
    subscription { id name } namespace { id } instance { id }"""
LIST = f"""query($first: Int, $after: String, $status: ProvisionEventStatus,
    $kind: ProvisionEventKind, $sub: ID, $ns: ID, $older: Int) {{
  provisionEvents(first: $first, after: $after, status: $status, kind: $kind,
      subscriptionId: $sub, namespaceId: $ns, olderThanSeconds: $older) {{
    totalCount pageInfo {{ hasNextPage endCursor }} edges {{ node {{ {EVENT_FIELDS} }} }} }} }}"""
SUMMARY = """{ provisionEventSummary { dead oldestPendingAgeSeconds
    byStatus { status count } byKind { kind status count } } }"""


@pytest.fixture
def clock(app: Starlette) -> Clock:
    """The app's clock: rows, workers and the API must read the same time."""
    app_clock: Clock = app.state.clock
    return app_clock


@pytest.fixture
def row(clock: Clock) -> Row:
    """``ledger_rows.row`` recorded on the app's clock."""
    return functools.partial(ledger_rows.row, now=clock.now())


def gid(event: ProvisionEvent) -> str:
    return global_id("ProvisionEvent", event.id)


def mutation(name: str) -> str:
    input_type = name[0].upper() + name[1:] + "Input"
    return (
        f"mutation($input: {input_type}!) {{ {name}(input: $input) {{"
        f" provisionEvent {{ {EVENT_FIELDS} }} errors {{ code message path }} }} }}"
    )


async def call(gql: GraphQL, name: str, **fields: Any) -> Any:
    body = await gql(mutation(name), input=fields)
    return body["data"][name] if body.get("data") else body


def listed(body: dict[str, Any]) -> list[str]:
    assert "errors" not in body, body
    return [edge["node"]["id"] for edge in body["data"]["provisionEvents"]["edges"]]


def worker_for(db: Database, clock: Clock, ran: list[ProvisionEvent]) -> Worker:
    registry = WorkerRegistry()

    async def step(event: ProvisionEvent) -> None:
        ran.append(event)

    registry.register("TEST_STEP", step)
    return Worker(
        PostgresLedger(db, clock),
        PostgresScheduledJobRuns(db, clock),
        registry,
        WorkerConfig(concurrency=4),
        clock,
    )


async def test_staff_list_the_ledger_newest_first_with_filters(
    gql: GraphQL, clean_db: Database, row: Row
) -> None:
    acme = f.customer()
    sub = f.subscription(acme)
    await f.store(clean_db, acme, sub)
    old_dead = row(status=ProvisionStatus.DEAD, age=timedelta(hours=2), subscription_id=sub.id)
    failed = row("ALERT", ProvisionStatus.FAILED, age=timedelta(minutes=30))
    fresh = row(namespace_id=f.namespace(1).id, plan="ULTIMATE")  # namespace not stored
    await record(clean_db, old_dead, failed, fresh)

    everything = await gql(LIST)
    assert listed(everything) == [gid(fresh), gid(failed), gid(old_dead)]
    assert everything["data"]["provisionEvents"]["totalCount"] == 3
    newest = everything["data"]["provisionEvents"]["edges"][0]["node"]
    assert newest["payload"] == {"plan": "ULTIMATE"}
    assert newest["namespace"] is None  # the ledger outlives what it names
    assert (newest["status"], newest["attempts"], newest["maxAttempts"]) == ("PENDING", 0, 3)
    dead = everything["data"]["provisionEvents"]["edges"][2]["node"]
    assert dead["subscription"] == {"id": global_id("Subscription", sub.id), "name": sub.name}
    assert dead["lastError"] == "DeliveryRefused: 503"

    page = await gql(LIST, first=2)
    cursor = page["data"]["provisionEvents"]["pageInfo"]["endCursor"]
    assert page["data"]["provisionEvents"]["pageInfo"]["hasNextPage"] is True
    assert listed(await gql(LIST, first=2, after=cursor)) == [gid(old_dead)]
    assert listed(await gql(LIST, status="DEAD")) == [gid(old_dead)]
    assert listed(await gql(LIST, kind="ALERT")) == [gid(failed)]
    # TEST_STEP is no built-in kind: shown, and filtered, as OTHER.
    assert listed(await gql(LIST, kind="OTHER")) == [gid(fresh), gid(old_dead)]
    assert {e["node"]["kind"] for e in everything["data"]["provisionEvents"]["edges"]} == {
        "ALERT",
        "OTHER",
    }
    assert "errors" in await gql(LIST, kind="TEST_STEP")  # not a value of the enum
    assert listed(await gql(LIST, sub=global_id("Subscription", sub.id))) == [gid(old_dead)]
    assert listed(await gql(LIST, ns=global_id("Namespace", fresh.namespace_id))) == [gid(fresh)]
    assert listed(await gql(LIST, older=600)) == [gid(failed), gid(old_dead)]
    assert listed(await gql(LIST, older=3600, status="FAILED")) == []

    node = await gql(
        "query($id: ID!) { node(id: $id) { id ... on ProvisionEvent { kind } } }", id=gid(failed)
    )
    assert answer(node) == {"data": {"node": {"id": gid(failed), "kind": "ALERT"}}}
    for bad in ({"older": -1}, {"sub": gid(failed)}, {"first": 101}, {"after": "nope"}):
        assert codes(await gql(LIST, **bad)) == ["VALIDATION_FAILED"], bad


async def test_the_summary_counts_by_status_and_kind(
    gql: GraphQL, clean_db: Database, row: Row
) -> None:
    waiting = row(age=timedelta(minutes=10))
    await record(
        clean_db,
        waiting,
        row(status=ProvisionStatus.DEAD),
        row("ALERT", ProvisionStatus.DEAD),
        row("ALERT", ProvisionStatus.SUCCEEDED),
        row(status=ProvisionStatus.FAILED),  # due in an hour: not waiting
    )
    summary = (await gql(SUMMARY))["data"]["provisionEventSummary"]
    assert summary["dead"] == 2
    assert 595 <= summary["oldestPendingAgeSeconds"] <= 660
    assert {s["status"]: s["count"] for s in summary["byStatus"]} == {
        "PENDING": 1,
        "RUNNING": 0,
        "SUCCEEDED": 1,
        "FAILED": 1,
        "DEAD": 2,
        "RESOLVED": 0,
    }
    assert summary["byKind"] == [  # by status, then kind
        {"kind": "ALERT", "status": "DEAD", "count": 1},
        {"kind": "OTHER", "status": "DEAD", "count": 1},  # TEST_STEP: not a built-in kind
        {"kind": "OTHER", "status": "FAILED", "count": 1},
        {"kind": "OTHER", "status": "PENDING", "count": 1},
        {"kind": "ALERT", "status": "SUCCEEDED", "count": 1},
    ]


async def test_a_retried_dead_row_is_run_again_by_a_worker(
    gql: GraphQL, clean_db: Database, clock: Clock, row: Row
) -> None:
    dead = row(status=ProvisionStatus.DEAD, age=timedelta(hours=1))
    await record(clean_db, dead)
    ran: list[ProvisionEvent] = []
    worker = worker_for(clean_db, clock, ran)
    assert await worker.tick() == (4, 0)  # DEAD: nobody claims it

    retried = await call(gql, "retryProvisionEvent", eventId=gid(dead), idempotencyKey="k-1")
    assert retried["errors"] == []
    event = retried["provisionEvent"]
    assert (event["status"], event["attempts"], event["maxAttempts"]) == ("PENDING", 0, 3)
    assert event["lastError"] == "DeliveryRefused: 503"  # kept until the next attempt
    again = await call(gql, "retryProvisionEvent", eventId=gid(dead), idempotencyKey="k-1")
    assert again["errors"] == []  # the same key replays the first result
    other = row(status=ProvisionStatus.DEAD)
    await record(clean_db, other)
    reused = await call(gql, "retryProvisionEvent", eventId=gid(other), idempotencyKey="k-1")
    assert [e["code"] for e in reused["errors"]] == ["IDEMPOTENCY_KEY_REUSED"]

    assert await worker.tick() == (4, 1)
    await worker.drain()
    assert [e.id for e in ran] == [dead.id]
    stored = await PostgresLedger(clean_db, clock).get(dead.id)
    assert stored is not None
    assert (stored.status, stored.attempts) == (ProvisionStatus.SUCCEEDED, 1)

    done = await call(gql, "retryProvisionEvent", eventId=gid(dead))
    assert [e["code"] for e in done["errors"]] == ["PROVISION_EVENT_NOT_RETRYABLE"]
    assert done["errors"][0]["path"] == ["eventId"]
    audit = await clean_db.fetch(
        "SELECT action, object_type, object_id, idempotency_key, before::text, after::text"
        " FROM audit_entry ORDER BY id"
    )
    assert [(a["action"], a["object_id"], a["idempotency_key"]) for a in audit] == [
        ("retryProvisionEvent", dead.id, "k-1")
    ]
    assert '"status": "DEAD"' in audit[0]["before"]
    assert '"status": "PENDING"' in audit[0]["after"]


async def test_a_resolved_row_is_closed_for_workers(
    gql: GraphQL, clean_db: Database, clock: Clock, row: Row
) -> None:
    failed = row(status=ProvisionStatus.FAILED)
    await record(clean_db, failed)
    resolved = await call(
        gql, "resolveProvisionEvent", eventId=gid(failed), reason="provisioned by hand"
    )
    assert resolved["errors"] == []
    event = resolved["provisionEvent"]
    assert (event["status"], event["resolvedReason"]) == ("RESOLVED", "provisioned by hand")
    assert event["resolvedAt"] is not None
    await clean_db.fetch(
        "UPDATE provision_event SET next_attempt_at = $2 WHERE id = $1",
        failed.id,
        clock.now() - timedelta(days=1),
    )
    ran: list[ProvisionEvent] = []
    assert await worker_for(clean_db, clock, ran).tick() == (4, 0)

    twice = await call(gql, "resolveProvisionEvent", eventId=gid(failed), reason="again")
    assert [e["code"] for e in twice["errors"]] == ["PROVISION_EVENT_NOT_RESOLVABLE"]
    retry = await call(gql, "retryProvisionEvent", eventId=gid(failed))
    assert [e["code"] for e in retry["errors"]] == ["PROVISION_EVENT_NOT_RETRYABLE"]
    audit = await gql(
        "query($o: ID) { auditEntries(objectId: $o) { totalCount edges { node {"
        " id actorKind actorSubject action objectType objectId idempotencyKey before after at"
        " } } } }",
        o=gid(failed),
    )
    entries = [edge["node"] for edge in audit["data"]["auditEntries"]["edges"]]
    assert [(e["action"], e["objectType"], e["objectId"]) for e in entries] == [
        ("resolveProvisionEvent", "ProvisionEvent", gid(failed))
    ]
    assert entries[0]["actorKind"] == "STAFF"
    assert entries[0]["before"]["status"] == "FAILED"
    assert entries[0]["after"]["resolvedReason"] == "provisioned by hand"
    node = await gql("query($id: ID!) { node(id: $id) { id } }", id=entries[0]["id"])
    assert answer(node) == {"data": {"node": {"id": entries[0]["id"]}}}
    assert entries[0]["id"].startswith("aud_")


async def test_every_refusal_has_its_code(
    gql: GraphQL, clean_db: Database, clock: Clock, row: Row
) -> None:
    pending = row()
    await record(clean_db, pending)
    cases = [
        ("retryProvisionEvent", {"eventId": gid(pending)}, "PROVISION_EVENT_NOT_RETRYABLE"),
        (
            "resolveProvisionEvent",
            {"eventId": gid(pending), "reason": "x"},
            "PROVISION_EVENT_NOT_RESOLVABLE",
        ),
        ("retryProvisionEvent", {"eventId": gid(row())}, "NOT_FOUND"),
        ("retryProvisionEvent", {"eventId": "pev_nope"}, "VALIDATION_FAILED"),
        (
            "retryProvisionEvent",
            {"eventId": global_id("Customer", pending.id)},
            "VALIDATION_FAILED",
        ),
        (
            "retryProvisionEvent",
            {"eventId": gid(pending), "idempotencyKey": " "},
            "VALIDATION_FAILED",
        ),
        ("resolveProvisionEvent", {"eventId": gid(pending), "reason": "  "}, "VALIDATION_FAILED"),
    ]
    for name, fields, code in cases:
        result = await call(gql, name, **fields)
        assert [e["code"] for e in result["errors"]] == [code], (name, fields, result)
        assert result["provisionEvent"] is None
    running = await PostgresLedger(clean_db, clock).claim_due("w", 1, timedelta(seconds=30))
    assert [e.id for e in running] == [pending.id]
    refused = await call(gql, "resolveProvisionEvent", eventId=gid(pending), reason="stop")
    assert [e["code"] for e in refused["errors"]] == ["PROVISION_EVENT_NOT_RESOLVABLE"]
    assert await clean_db.fetchval("SELECT count(*) FROM audit_entry") == 0


async def test_callers_who_are_not_staff_get_nothing(
    app: Starlette, anonymous: httpx.AsyncClient, clean_db: Database, clock: Clock, row: Row
) -> None:
    dead = row(status=ProvisionStatus.DEAD)
    await record(clean_db, dead)
    gql = GraphQL(anonymous)
    assert codes(await gql(LIST)) == ["UNAUTHENTICATED"]

    read_only = token_for(app, PrincipalKind.STAFF, scopes=frozenset({"provision_events:read"}))
    anonymous.headers.update(bearer(read_only))
    assert listed(await gql(LIST)) == [gid(dead)]
    refused = await gql(mutation("retryProvisionEvent"), input={"eventId": gid(dead)})
    assert codes(refused) == ["FORBIDDEN"]
    assert codes(await gql("{ auditEntries { totalCount } }")) == ["FORBIDDEN"]

    # Tokens that somehow carry the scopes (an external issuer's, say) see no ledger at all.
    scopes = frozenset({"provision_events:read", "provision_events:write", "audit:read"})
    for kind, claims in (
        (PrincipalKind.PORTAL_USER, {"subject": "usr_alice"}),
        (PrincipalKind.PARTNER, {"subject": "p", "partner": "partner-a"}),
    ):
        anonymous.headers.update(bearer(token_for(app, kind, scopes=scopes, **claims)))
        body = await gql(LIST)
        assert listed(body) == []
        assert body["data"]["provisionEvents"]["totalCount"] == 0
        summary = (await gql(SUMMARY))["data"]["provisionEventSummary"]
        assert (summary["dead"], summary["byKind"]) == (0, [])
        node = await gql("query($id: ID!) { node(id: $id) { id } }", id=gid(dead))
        assert answer(node) == {"data": {"node": None}}
        retried = await call(gql, "retryProvisionEvent", eventId=gid(dead))
        assert [e["code"] for e in retried["errors"]] == ["NOT_FOUND"]
        resolved = await call(gql, "resolveProvisionEvent", eventId=gid(dead), reason="x")
        assert [e["code"] for e in resolved["errors"]] == ["NOT_FOUND"]
    stored = await PostgresLedger(clean_db, clock).get(dead.id)
    assert stored is not None
    assert stored.status is ProvisionStatus.DEAD

"""Dry runs (docs/dry-runs.md): every mutation takes ``dryRun: true``, answers with what it
would do, and writes and sends nothing."""

from __future__ import annotations

from typing import Any

import httpx

from persistence.database import Database

CREATE = """mutation($input: CreateSubscriptionInput!, $dry: Boolean!) {
  createSubscription(input: $input, dryRun: $dry) {
    subscription { id name seats customer { company } }
    activationCode
    errors { code message path }
    dryRun { licenses { id subscriptionId plan seats startsAt expiresAt }
             ledgerSteps { kind subscriptionId payload }
             auditEntries { action objectType objectId actorKind before after }
             subscriptionIds activationCodes tables { table written deleted } } } }"""
RAMP = [{"startDate": "2026-11-01", "endDate": "2027-11-01", "seats": 100}]
INPUT = {
    "deployment": "SELF_MANAGED",
    "plan": "ULTIMATE",
    "term": {"segments": RAMP},
    "newCustomer": {"company": "Umbrella", "contactName": "A", "contactEmail": "a@u.test"},
}


async def digest(db: Database) -> dict[str, str]:
    """Every table's rows, as one md5 per table."""
    tables = await db.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
    )
    out = {}
    for record in tables:
        name = record["tablename"]
        out[name] = await db.fetchval(
            f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM \"{name}\" t"
        )
    return out


async def test_smoke(client: httpx.AsyncClient, clean_db: Database) -> None:
    before = await digest(clean_db)
    response = await client.post(
        "/graphql", json={"query": CREATE, "variables": {"input": INPUT, "dry": True}}
    )
    body: Any = response.json()
    print(body)
    assert await digest(clean_db) == before
    assert body["data"]["createSubscription"]["errors"] == []

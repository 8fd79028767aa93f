"""Helpers for the seat-link e2e tests: an app on a clock the test moves, a self-managed sale
and its activation over GraphQL, a seat link over REST, and reading keys with the public key."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import asyncpg
import httpx
from starlette.applications import Starlette

from api.app import create_app
from api.settings import Settings
from auth.licenses.envelope import decode
from auth.licenses.keys import load_public_key
from domain.principal import PrincipalKind

from bearer import bearer, token_for
from oauth_flow import MovableClock

CREATE = """mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) {
  subscription { id } activationCode errors { code } } }"""
ACTIVATE = """mutation($input: ActivateSubscriptionInput!) { activateSubscription(input: $input) {
  license { id } licenseKey errors { code message } } }"""
INSTANCE = "5d2b7c1e-8f4a-4c1b-9a53-2f8e6d0c4b71"


@dataclass
class Moving:
    """The app, its clock and an HTTP client; ``as_`` gives clients with fresh tokens."""

    app: Starlette
    clock: MovableClock
    http: httpx.AsyncClient

    def headers(self, kind: PrincipalKind = PrincipalKind.STAFF, **claims: Any) -> dict[str, str]:
        return bearer(token_for(self.app, kind, now=self.clock.now(), **claims))

    async def graphql(
        self, query: str, variables: dict[str, Any], headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        response = await self.http.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers=headers if headers is not None else self.headers(),
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@contextlib.asynccontextmanager
async def moving_app(database_url: str) -> AsyncIterator[Moving]:
    clock = MovableClock()
    app = create_app(Settings(database_url=database_url, pool_max=5, gc_interval=0), clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://provision.test") as http:
            yield Moving(app, clock, http)


def ramp(start: date, *seats: int) -> list[dict[str, Any]]:
    """Consecutive 365-day segments from ``start`` with these seats."""
    return [
        {
            "startDate": (start + timedelta(days=365 * i)).isoformat(),
            "endDate": (start + timedelta(days=365 * (i + 1))).isoformat(),
            "seats": count,
        }
        for i, count in enumerate(seats)
    ]


async def sell_and_activate(
    moving: Moving, *, instance: str = INSTANCE, **overrides: Any
) -> tuple[str, str, str]:
    """(subscription id, license id, license key) of a self-managed sale, activated."""
    fields = {
        "deployment": "SELF_MANAGED",
        "plan": "ULTIMATE",
        "term": {"segments": ramp(moving.clock.today() - timedelta(days=30), 100, 250, 500)},
        "newCustomer": {"company": "Acme", "contactName": "Ada", "contactEmail": "ada@acme.test"},
        **overrides,
    }
    created = (await moving.graphql(CREATE, {"input": fields}))["data"]["createSubscription"]
    assert created["errors"] == [], created
    activation = {"activationCode": created["activationCode"], "instanceIdentifier": instance}
    activated = (await moving.graphql(ACTIVATE, {"input": activation}, headers={}))["data"][
        "activateSubscription"
    ]
    assert activated["errors"] == [], activated
    return created["subscription"]["id"], activated["license"]["id"], activated["licenseKey"]


def seat_link_body(key: str, moving: Moving, **overrides: Any) -> dict[str, Any]:
    """The body today's GitLab sends."""
    body: dict[str, Any] = {
        "gitlab_version": "18.6.0-ee",
        "timestamp": moving.clock.now().isoformat(),
        "license_key": key,
        "max_historical_user_count": 95,
        "billable_users_count": 90,
        "hostname": "gitlab.acme.test",
        "instance_id": INSTANCE,
        "unique_instance_id": str(uuid.uuid4()),
        "add_on_metrics": [{"add_on_type": "duo_pro", "purchased_seats": 5, "assigned_seats": 3}],
    }
    body.update(overrides)
    return body


async def seat_link(moving: Moving, body: dict[str, Any]) -> httpx.Response:
    return await moving.http.post("/api/v1/seat_links", json=body)


async def attributes(database_url: str, key: str) -> dict[str, Any]:
    """What the key says, read with the public key only (as GitLab does)."""
    connection = await asyncpg.connect(database_url)
    try:
        public = await load_public_key(connection)
    finally:
        await connection.close()
    assert public is not None
    return decode(key, public)

"""The app the self-managed benchmark's uvicorn workers serve: Provision's own app plus two
floors, bare starlette routes that send the same SQL as the real endpoints, in one transaction
on one pooled connection, with no domain objects, GraphQL or validation around it.

- ``POST /floor/seat_link``: find the license by key digest, read its subscription (the same
  aggregate query) and customer, update the instance, insert the report once, read the newest
  license; answer ``{"success": true}``.
- ``POST /floor/activate``: find the code's subscription, lock and read it and its customer and
  instances, insert the instance, read the newest license, sign a key (the same RSA + AES
  envelope, in a worker thread), insert it and an audit row; answer the key.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import anyio.to_thread
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.app import create_app
from api.settings import Settings
from auth.licenses.envelope import encode
from auth.licenses.keys import load_or_create
from domain.model.ids import new_id
from domain.model.license import license_key_digest
from persistence.mappers import (
    CUSTOMER_COLUMNS,
    INSTANCE_COLUMNS,
    LICENSE_COLUMNS,
    SUBSCRIPTION_COLUMNS,
)

DSN_VARIABLE = "PROVISION_BENCH_DSN"
_OK = orjson.dumps({"success": True, "future_subscriptions": []})


async def seat_link_floor(request: Request) -> Response:
    body = orjson.loads(await request.body())
    digest = license_key_digest(body["license_key"])
    reported_at = datetime.fromisoformat(body["timestamp"])
    instance = body["instance_id"]
    async with request.app.state.db.pool.acquire() as connection, connection.transaction():
        sent = await connection.fetchrow(
            f"SELECT {LICENSE_COLUMNS} FROM license l WHERE l.key_digest = $1"
            " ORDER BY l.id LIMIT 1",
            digest,
        )
        if sent is None:
            return Response(b'{"success":false}', 422, media_type="application/json")
        sub = await connection.fetchrow(
            f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscription s WHERE s.id = $1",
            sent["subscription"],
        )
        await connection.fetchrow(
            f"SELECT {CUSTOMER_COLUMNS} FROM customer c WHERE c.id = $1", sub["customer"]
        )
        instance_id = await connection.fetchval(
            "UPDATE instance SET last_synced_at = $3, hostname = coalesce($4, hostname),"
            " gitlab_version = coalesce($5, gitlab_version)"
            " WHERE subscription = $1 AND instance_identifier = $2 RETURNING id",
            sub["id"],
            instance,
            datetime.now(UTC),
            body.get("hostname"),
            body.get("gitlab_version"),
        )
        await connection.fetch(
            "INSERT INTO usage_report (id, subscription, instance, billable_users,"
            " max_historical_users, add_on_seats, gitlab_version, hostname, reported_at,"
            " instance_identifier, report_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
            " $11) ON CONFLICT (subscription, report_key) DO NOTHING RETURNING id",
            new_id(),
            sub["id"],
            instance_id,
            body["billable_users_count"],
            body["max_historical_user_count"],
            "{}",
            body.get("gitlab_version"),
            body.get("hostname"),
            reported_at,
            instance,
            f"{instance}|{reported_at.astimezone(UTC).isoformat()}",
        )
        await connection.fetchrow(
            f"SELECT {LICENSE_COLUMNS} FROM license l WHERE l.subscription = $1"
            " ORDER BY l.id DESC LIMIT 1",
            sub["id"],
        )
    return Response(_OK, media_type="application/json")


async def activate_floor(request: Request) -> Response:
    body = orjson.loads(await request.body())
    code_hash = hashlib.sha256(body["code"].encode("ascii")).hexdigest()
    now = datetime.now(UTC)
    state = request.app.state
    async with state.db.pool.acquire() as connection, connection.transaction():
        sub_id = await connection.fetchval(
            "SELECT subscription FROM activation_code WHERE code_hash = $1", code_hash
        )
        await connection.fetchval("SELECT id FROM subscription WHERE id = $1 FOR UPDATE", sub_id)
        sub = await connection.fetchrow(
            f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscription s WHERE s.id = $1", sub_id
        )
        customer = await connection.fetchrow(
            f"SELECT {CUSTOMER_COLUMNS} FROM customer c WHERE c.id = $1", sub["customer"]
        )
        await connection.fetch(
            f"SELECT {INSTANCE_COLUMNS} FROM instance i WHERE i.subscription = $1 ORDER BY i.id",
            sub_id,
        )
        instance_id = new_id()
        await connection.fetch(
            "INSERT INTO instance (id, instance_identifier, subscription, hostname,"
            " gitlab_version, activated_at, last_synced_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            instance_id,
            body["instance"],
            sub_id,
            None,
            None,
            now,
            None,
        )
        await connection.fetchrow(
            f"SELECT {LICENSE_COLUMNS} FROM license l WHERE l.subscription = $1"
            " ORDER BY l.id DESC LIMIT 1",
            sub_id,
        )
        segments = json.loads(sub["segments"])
        license_id = new_id()
        attributes = {
            "version": 1,
            "licensee": {
                "Name": customer["contact_name"],
                "Email": customer["contact_email"],
                "Company": customer["company"],
            },
            "issued_at": segments[0][1],
            "expires_at": segments[-1][2],
            "cloud_licensing_enabled": True,
            "restrictions": {
                "active_user_count": segments[0][3],
                "plan": sub["plan"].lower(),
                "id": str(license_id),
                "subscription_id": str(sub_id),
                "subscription_name": sub["name"],
            },
        }
        key = await anyio.to_thread.run_sync(encode, attributes, state.license_key.private_key)
        await connection.fetch(
            "INSERT INTO license (id, subscription, instance, mode, plan, seats, starts_at,"
            " expires_at, licensee_name, licensee_email, licensee_company, license_key,"
            " created_at, key_digest) VALUES ($1, $2, $3, 'ONLINE_CLOUD', $4, $5, $6::text::date,"
            " $7::text::date, $8, $9, $10, $11, $12, $13)",
            license_id,
            sub_id,
            instance_id,
            sub["plan"],
            segments[0][3],
            segments[0][1],
            segments[-1][2],
            customer["contact_name"],
            customer["contact_email"],
            customer["company"],
            key,
            now,
            license_key_digest(key),
        )
        await connection.fetch(
            "INSERT INTO audit_entry (id, actor_kind, actor_subject, action, object_type,"
            " object_id, idempotency_key, before, after, at)"
            " VALUES ($1, 'INSTANCE', $2, 'activateSubscription', 'License', $3, NULL, '{}',"
            " '{}', $4)",
            uuid.uuid4(),
            body["instance"],
            license_id,
            now,
        )
    return Response(orjson.dumps({"licenseKey": key}), media_type="application/json")


def create_bench_app() -> Starlette:
    """uvicorn factory: workers are fresh processes, so the DSN comes from the environment."""
    dsn = os.environ.get(DSN_VARIABLE)
    if not dsn:
        raise RuntimeError(f"{DSN_VARIABLE} is not set; run bench/self_managed.py")
    settings = dataclasses.replace(Settings.from_env(), database_url=dsn, graphiql=False)
    app = create_app(settings)
    inner = app.router.lifespan_context

    async def with_license_key(application: Starlette) -> AsyncIterator[None]:
        async with inner(application):
            async with app.state.db.pool.acquire() as connection:
                app.state.license_key = await load_or_create(connection, datetime.now(UTC))
            yield

    app.router.lifespan_context = contextlib.asynccontextmanager(with_license_key)
    app.router.routes.append(Route("/floor/seat_link", seat_link_floor, methods=["POST"]))
    app.router.routes.append(Route("/floor/activate", activate_floor, methods=["POST"]))
    return app

"""Fake marketplaces on 127.0.0.1 for the marketplace intake tests, and what they share: an
app with the marketplaces configured, an in-process worker that runs the rows due, and the
offers staff map.

The fake AWS Marketplace answers ResolveCustomer and GetEntitlements (X-Amz-Target, the
credential checked) from what the test set up, and signs SNS notifications with its own key,
as SNS does (SignatureVersion 2, SHA256withRSA over the canonical string); its certificate is
the one Provision is configured with."""

from __future__ import annotations

import base64
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import orjson
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.settings import Settings
from api.worker.loop import Worker
from api.worker.process import WorkerContext, build_registry, worker_config
from domain.model.enums import Deployment, Plan
from domain.model.marketplace import Marketplace, OfferMapping
from integrations.marketplaces.aws import canonical_string
from persistence.database import Database
from persistence.ledger import PostgresLedger, PostgresScheduledJobRuns
from persistence.marketplace import PostgresOfferMappings

from clocks import SESSION_CLOCK
from ledger_peer import free_port

AWS_TOKEN = "aws-seller-credential"
PRODUCT = "prod-provision-ultimate"


def _serve(app: Starlette) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws="none"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the peer did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _key_and_cert() -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.fake-aws.test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class FakeAws:
    url: str
    key: rsa.RSAPrivateKey
    tokens: dict[str, dict[str, str]] = field(default_factory=dict)
    """Registration token → ResolveCustomer's answer."""
    entitlements: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Account → its entitlements."""
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    refused: int = 0
    confirmed: int = 0

    def reset(self) -> None:
        self.tokens.clear()
        self.entitlements.clear()
        self.calls.clear()
        self.refused = self.confirmed = 0

    def buyer_subscribes(self, token: str, account: str, seats: int, dimension: str) -> None:
        self.tokens[token] = {
            "CustomerAWSAccountId": account,
            "LicenseArn": f"arn:aws:license-manager::{account}:license:l-1",
            "ProductCode": PRODUCT,
            "CustomerIdentifier": "",
        }
        self.entitlement(account, seats, dimension)

    def entitlement(self, account: str, seats: int, dimension: str) -> None:
        self.entitlements[account] = [
            {
                "ProductCode": PRODUCT,
                "Dimension": dimension,
                "CustomerAWSAccountId": account,
                "Value": {"IntegerValue": seats},
                "ExpirationDate": "2099-01-01T00:00:00Z",
            }
        ]

    def notification(
        self,
        action: str,
        account: str,
        *,
        message_id: str,
        at: datetime,
        key: rsa.RSAPrivateKey | None = None,
    ) -> bytes:
        """An SNS delivery of the marketplace's message, signed (by ``key``: a forger's)."""
        message = {
            "action": action,
            "customer-identifier": "",
            "customer-aws-account-id": account,
            "license-arn": f"arn:aws:license-manager::{account}:license:l-1",
            "product-code": PRODUCT,
        }
        envelope: dict[str, Any] = {
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": "arn:aws:sns:us-east-1:287250355862:"
            f"aws-mp-entitlement-notification-{PRODUCT}",
            "Message": orjson.dumps(message).decode(),
            "Timestamp": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "SignatureVersion": "2",
            "SigningCertURL": f"{self.url}/cert.pem",
            "UnsubscribeURL": f"{self.url}/unsubscribe",
        }
        signature = (key or self.key).sign(
            canonical_string(envelope), padding.PKCS1v15(), hashes.SHA256()
        )
        envelope["Signature"] = base64.b64encode(signature).decode()
        return orjson.dumps(envelope)


def _aws_app(peer: FakeAws) -> Starlette:
    async def api(request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {AWS_TOKEN}":
            peer.refused += 1
            return JSONResponse({"__type": "AccessDeniedException"}, status_code=403)
        target = request.headers.get("x-amz-target", "")
        body = await request.json()
        peer.calls.append((target, body))
        if target.endswith("ResolveCustomer"):
            found = peer.tokens.get(body.get("RegistrationToken", ""))
            if found is None:
                return JSONResponse(
                    {"__type": "InvalidTokenException", "message": "bad token"}, status_code=400
                )
            return JSONResponse(found)
        if target.endswith("GetEntitlements"):
            accounts = body.get("Filter", {}).get("CUSTOMER_AWS_ACCOUNT_ID", [])
            found = [e for a in accounts for e in peer.entitlements.get(a, [])]
            return JSONResponse({"Entitlements": found})
        return JSONResponse({"__type": "UnknownOperationException"}, status_code=400)

    async def confirm(request: Request) -> Response:
        peer.confirmed += 1
        return Response("<ConfirmSubscriptionResponse/>")

    return Starlette(
        routes=[Route("/", api, methods=["POST"]), Route("/confirm", confirm, methods=["GET"])]
    )


@contextlib.contextmanager
def serving_aws() -> Iterator[tuple[FakeAws, bytes]]:
    key, cert = _key_and_cert()
    holder: dict[str, FakeAws] = {}

    async def late(scope: Any, receive: Any, send: Any) -> None:
        await _aws_app(holder["peer"])(scope, receive, send)

    for url in _serve(late):  # type: ignore[arg-type]
        holder["peer"] = FakeAws(url, key)
        yield holder["peer"], cert


def marketplace_settings(database_url: str, tmp: Path, **overrides: Any) -> Settings:
    fields: dict[str, Any] = {
        "database_url": database_url,
        "pool_max": 4,
        "gc_interval": 0,
        "worker_concurrency": 4,
        "ledger_max_attempts": 3,
        "ledger_backoff_base_seconds": 0.01,
        "ledger_backoff_max_seconds": 0.01,
        "webhook_retry_hours": 0.001,
        "mail_dir": tmp / "mail",
        **overrides,
    }
    return Settings(**fields)


@contextlib.asynccontextmanager
async def in_process_worker(settings: Settings, db: Database) -> AsyncIterator[Worker]:
    config = worker_config(settings)
    async with httpx.AsyncClient(timeout=10) as http:
        context = WorkerContext(db, http, settings, SESSION_CLOCK, config)
        yield Worker(
            PostgresLedger(db, SESSION_CLOCK),
            PostgresScheduledJobRuns(db, SESSION_CLOCK),
            build_registry(context),
            config,
            SESSION_CLOCK,
        )


async def run_due(worker: Worker, rounds: int = 20) -> None:
    """Run what is due until a round claims nothing (rows a step records run too)."""
    for _ in range(rounds):
        _, claimed = await worker.tick()
        await worker.drain()
        if not claimed:
            return
    raise AssertionError("the ledger kept producing due rows")


async def map_offer(
    db: Database,
    marketplace: Marketplace,
    offer: str,
    plan_key: str,
    *,
    plan: Plan = Plan.ULTIMATE,
    deployment: Deployment = Deployment.SELF_MANAGED,
    seats: int | None = None,
) -> OfferMapping:
    mapping = OfferMapping(marketplace, offer, plan_key, plan, deployment, 12, seats)
    return await PostgresOfferMappings(db).put(mapping, SESSION_CLOCK.now())


MARKETPLACE_TABLES = "marketplace_inbox, marketplace_link, marketplace_offer"


AZURE_CLIENT = ("provision-app", "provision-secret")
AZURE_WEBHOOK_BEARER = "azure-webhook-shared"
_AZURE_TOKEN = "azure-access-token"


@dataclass
class FakeAzure:
    """Azure's SaaS Fulfillment API v2 and its token endpoint, as far as Provision uses them."""

    url: str
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Landing token → the resolve answer."""
    operations: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    status: dict[str, str] = field(default_factory=dict)
    activations: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    acknowledged: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    token_requests: int = 0
    refused: int = 0

    def reset(self) -> None:
        self.tokens.clear()
        self.operations.clear()
        self.status.clear()
        self.activations.clear()
        self.acknowledged.clear()
        self.token_requests = self.refused = 0

    def buyer_subscribes(self, token: str, subscription_id: str, plan: str, quantity: int) -> None:
        self.status[subscription_id] = "PendingFulfillmentStart"
        self.tokens[token] = {
            "id": subscription_id,
            "subscriptionName": "Contoso GitLab",
            "offerId": "provision-saas",
            "planId": plan,
            "quantity": quantity,
            "subscription": {
                "id": subscription_id,
                "publisherId": "provision",
                "offerId": "provision-saas",
                "name": "Contoso GitLab",
                "saasSubscriptionStatus": "PendingFulfillmentStart",
                "beneficiary": {"emailId": "megan@contoso.test", "tenantId": "tenant-contoso"},
                "purchaser": {"emailId": "megan@contoso.test", "tenantId": "tenant-contoso"},
                "planId": plan,
                "term": {"termUnit": "P1Y"},
                "autoRenew": True,
                "isTest": True,
                "quantity": quantity,
            },
        }

    def operation(
        self,
        action: str,
        subscription_id: str,
        operation_id: str,
        at: datetime,
        **fields: Any,
    ) -> dict[str, Any]:
        """The marketplace records an operation; the webhook body announcing it."""
        body = {
            "id": operation_id,
            "activityId": f"activity-{operation_id}",
            "subscriptionId": subscription_id,
            "publisherId": "provision",
            "offerId": "provision-saas",
            "timeStamp": at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "action": action,
            "status": "InProgress" if action in ("ChangePlan", "ChangeQuantity") else "Succeeded",
            "operationRequestSource": "Azure",
            **fields,
        }
        self.operations[(subscription_id, operation_id)] = body
        return dict(body)


def _azure_app(peer: FakeAzure) -> Starlette:
    async def token(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))
        peer.token_requests += 1
        if (form.get("client_id"), form.get("client_secret")) != AZURE_CLIENT or form.get(
            "resource"
        ) != "20e940b3-4c77-4b0b-9a53-9e16a1b010a7":
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        return JSONResponse({"access_token": _AZURE_TOKEN, "expires_in": 3600})

    def authorized(request: Request) -> bool:
        ok = request.headers.get("authorization") == f"Bearer {_AZURE_TOKEN}"
        ok = ok and request.query_params.get("api-version") == "2018-08-31"
        if not ok:
            peer.refused += 1
        return ok

    async def resolve(request: Request) -> Response:
        if not authorized(request):
            return JSONResponse({"error": "forbidden"}, status_code=403)
        found = peer.tokens.get(request.headers.get("x-ms-marketplace-token", ""))
        if found is None:
            return JSONResponse({"error": "invalid token"}, status_code=400)
        return JSONResponse(found)

    async def activate(request: Request) -> Response:
        if not authorized(request):
            return JSONResponse({"error": "forbidden"}, status_code=403)
        subscription_id = request.path_params["sid"]
        if peer.status.get(subscription_id) != "PendingFulfillmentStart":
            return JSONResponse({"error": "not pending"}, status_code=400)
        peer.status[subscription_id] = "Subscribed"
        peer.activations.append((subscription_id, await request.json()))
        return Response()

    async def operation(request: Request) -> Response:
        if not authorized(request):
            return JSONResponse({"error": "forbidden"}, status_code=403)
        key = (request.path_params["sid"], request.path_params["oid"])
        found = peer.operations.get(key)
        if found is None:
            return JSONResponse({"error": "no such operation"}, status_code=404)
        if request.method == "PATCH":
            peer.acknowledged.append((*key, await request.json()))
            return Response()
        return JSONResponse(found)

    base = "/api/saas/subscriptions"
    return Starlette(
        routes=[
            Route("/token", token, methods=["POST"]),
            Route(f"{base}/resolve", resolve, methods=["POST"]),
            Route(f"{base}/{{sid}}/activate", activate, methods=["POST"]),
            Route(f"{base}/{{sid}}/operations/{{oid}}", operation, methods=["GET", "PATCH"]),
        ]
    )


@contextlib.contextmanager
def serving_azure() -> Iterator[FakeAzure]:
    holder: dict[str, FakeAzure] = {}

    async def late(scope: Any, receive: Any, send: Any) -> None:
        await _azure_app(holder["peer"])(scope, receive, send)

    for url in _serve(late):  # type: ignore[arg-type]
        holder["peer"] = FakeAzure(url)
        yield holder["peer"]

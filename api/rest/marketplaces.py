"""Marketplace intake over HTTP (docs/marketplaces.md), under ``/marketplaces/…``: each
route checks the marketplace's own authentication, stores the event in the inbox with its
ledger row (once per marketplace message id) and answers at once; the worker applies it.

A forged or stale-signed event changes nothing, is logged, and gets a 4xx; a duplicate (the
same message id again) gets a 200 so the marketplace stops retrying. A marketplace whose
settings are unset answers 404 on its routes."""

from __future__ import annotations

import hmac
import html
import logging
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from api.settings import Settings
from auth.endpoints import BadRequest, read_form
from domain.model.marketplace import Marketplace
from domain.ports import Clock
from integrations.marketplaces import stripe
from integrations.marketplaces.aws import (
    AwsMarketplaceClient,
    AwsRefused,
    NotificationForged,
    load_certificate,
    sns_time,
    subscription_key,
    verify_notification,
)
from integrations.marketplaces.azure import AzureRefused, configured_client, confirms
from persistence.marketplace import PostgresMarketplaceInbox

logger = logging.getLogger("provision.marketplace")

SNS_MAX_AGE = timedelta(hours=1)
"""An SNS notification signed longer ago than this is refused as stale (a replay)."""
SNS_MAX_SKEW = timedelta(minutes=5)
MAX_FIELD = 200


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"</head><body><h1>{html.escape(title)}</h1>{body}</body></html>",
        status_code=status,
    )


def _not_set_up(name: str) -> JSONResponse:
    return JSONResponse({"error": f"{name} intake is not set up"}, status_code=404)


def _buyer(form: Any) -> dict[str, str] | None:
    fields = {}
    for name in ("company", "contact_name", "contact_email"):
        value = form.get(name)
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_FIELD:
            return None
        fields[name] = value.strip()
    if "@" not in fields["contact_email"]:
        return None
    return fields


def _registration_form(token: str, note: str = "") -> HTMLResponse:
    inputs = "".join(
        f"<p><label>{label} <input name='{name}' required maxlength='{MAX_FIELD}'></label></p>"
        for name, label in (
            ("company", "Company"),
            ("contact_name", "Your name"),
            ("contact_email", "Email"),
        )
    )
    return _page(
        "Set up your Provision subscription",
        f"<p>{html.escape(note)}</p><form method='post'>"
        f"<input type='hidden' name='x-amzn-marketplace-token' value='{html.escape(token)}'>"
        f"{inputs}<button>Set up</button></form>",
    )


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def marketplace_routes(
    settings: Settings,
    inbox: PostgresMarketplaceInbox,
    http: httpx.AsyncClient,
    clock: Clock,
) -> list[Route]:
    aws_url = settings.aws_marketplace_url
    aws = AwsMarketplaceClient(http, aws_url, settings.aws_marketplace_token) if aws_url else None
    sns_key = None
    if settings.aws_marketplace_sns_cert:
        try:
            sns_key = load_certificate(settings.aws_marketplace_sns_cert.read_bytes())
        except (OSError, ValueError) as unreadable:
            raise ValueError(
                "PROVISION_AWS_MARKETPLACE_SNS_CERT: not a readable PEM certificate with an RSA"
                f" key ({type(unreadable).__name__}: {unreadable})"
            ) from None

    async def aws_fulfillment(request: Request) -> Response:
        """The buyer's browser, from AWS: the token, then (our form) who they are."""
        if aws is None:
            return _not_set_up("AWS Marketplace")
        try:
            # By hand, as every form here (starlette's request.form() needs python-multipart).
            form = dict(await read_form(request))
        except BadRequest:  # a body that is not a form, or too large
            return _page("Bad request", "<p>Expected a form.</p>", 400)
        token = form.get("x-amzn-marketplace-token")
        if not isinstance(token, str) or not token or len(token) > 4096:
            return _page("Bad request", "<p>The marketplace token is missing.</p>", 400)
        try:
            resolved = await aws.resolve_customer(token)
        except AwsRefused as refused:
            logger.warning("AWS registration refused by ResolveCustomer: %s", refused.code)
            return _page(
                "This link has expired",
                "<p>Open the product in AWS Marketplace and choose Set up your account again.</p>",
                400,
            )
        except httpx.HTTPError as failure:
            logger.warning("AWS ResolveCustomer failed: %s", type(failure).__name__)
            return _page("Try again shortly", "<p>AWS Marketplace could not be reached.</p>", 502)
        buyer = _buyer(form)
        if buyer is None:
            return _registration_form(token, "Tell us who you are to finish the setup.")
        key = subscription_key(resolved["account"], resolved["license_arn"] or None)
        stored = await inbox.receive(
            Marketplace.AWS,
            f"registration:{key}",
            {"type": "registration", **resolved, "buyer": buyer},
            key,
        )
        if not stored:
            logger.info("AWS registration of %s received again", key)
        return _page(
            "Thank you",
            "<p>Your subscription is being set up; you will receive an email shortly.</p>",
        )

    async def aws_notifications(request: Request) -> Response:
        """SNS deliveries (subscription and entitlement topics)."""
        if aws is None or sns_key is None or aws_url is None:
            return _not_set_up("AWS Marketplace")
        message = _json_object(await request.body())
        if message is None:
            return JSONResponse({"error": "the body is not a JSON object"}, status_code=400)
        try:
            verify_notification(message, sns_key, aws_url)
        except NotificationForged as forged:
            logger.warning("AWS notification refused: %s", forged)
            return JSONResponse({"error": "the notification is not signed"}, status_code=403)
        try:
            signed_at = sns_time(message.get("Timestamp"))
        except Exception:
            return JSONResponse({"error": "the notification has no valid Timestamp"}, 400)
        now = clock.now()
        if signed_at < now - SNS_MAX_AGE or signed_at > now + SNS_MAX_SKEW:
            logger.warning("AWS notification %s refused: stale", message.get("MessageId"))
            return JSONResponse({"error": "the notification is stale"}, status_code=400)
        if message.get("Type") == "SubscriptionConfirmation":
            confirm = message.get("SubscribeURL")
            if not isinstance(confirm, str) or urlsplit(confirm).netloc != urlsplit(aws_url).netloc:
                return JSONResponse({"error": "SubscribeURL is not the marketplace's"}, 400)
            try:
                (await http.get(confirm)).raise_for_status()
            except httpx.HTTPError:
                return JSONResponse({"error": "the subscription could not be confirmed"}, 502)
            return JSONResponse({"confirmed": True})
        if message.get("Type") != "Notification":
            return JSONResponse({"error": "unknown SNS message type"}, status_code=400)
        message_id = message.get("MessageId")
        if not isinstance(message_id, str) or not message_id or len(message_id) > MAX_FIELD:
            return JSONResponse({"error": "the notification has no MessageId"}, status_code=400)
        inner = _json_object(str(message.get("Message", "")).encode())
        payload: dict[str, Any] = {
            "type": "notification",
            "timestamp": message.get("Timestamp"),
            "topic": message.get("TopicArn"),
            "message": message.get("Message"),
        }
        key = None
        if inner is not None:
            account = inner.get("customer-aws-account-id") or inner.get("customer-identifier")
            license_arn = inner.get("license-arn")
            payload.update(
                action=inner.get("action"),
                account=account,
                license_arn=license_arn,
                product_code=inner.get("product-code"),
                offer=inner.get("offer-identifier"),
            )
            if isinstance(account, str) and account:
                key = subscription_key(
                    account, license_arn if isinstance(license_arn, str) else None
                )[:MAX_FIELD]
        stored = await inbox.receive(Marketplace.AWS, message_id, payload, key)
        if not stored:
            logger.info("AWS notification %s received again: ignored", message_id)
        return JSONResponse({"received": True, "duplicate": not stored})

    async def stripe_events(request: Request) -> Response:
        secret = settings.stripe_webhook_secret
        if not secret:
            return _not_set_up("Stripe")
        body = await request.body()
        try:
            stripe.verify_signature(
                request.headers.get("stripe-signature"), body, secret, clock.now()
            )
        except stripe.SignatureRefused as refused:
            logger.warning("Stripe event refused: %s", refused)
            return JSONResponse({"error": f"signature refused: {refused}"}, status_code=400)
        event = _json_object(body)
        event_id = event.get("id") if event else None
        if (
            event is None
            or not isinstance(event_id, str)
            or not event_id
            or len(event_id) > MAX_FIELD
        ):
            return JSONResponse({"error": "the body is not a Stripe event"}, status_code=400)
        if event.get("type") not in stripe.EVENT_TYPES:
            return JSONResponse({"received": True, "ignored": True})
        key = stripe.subscription_id_of(event)
        stored = await inbox.receive(
            Marketplace.STRIPE, event_id, event, key[:MAX_FIELD] if key else None
        )
        if not stored:
            logger.info("Stripe event %s received again: ignored", event_id)
        return JSONResponse({"received": True, "duplicate": not stored})

    azure = configured_client(
        http,
        clock,
        settings.azure_marketplace_url,
        settings.azure_token_url,
        settings.azure_client_id,
        settings.azure_client_secret,
    )

    async def azure_landing(request: Request) -> Response:
        """The buyer's browser, from Azure: ``?token=`` (URL-decoded by the framework)."""
        if azure is None:
            return _not_set_up("Azure Marketplace")
        token = request.query_params.get("token")
        if not token or len(token) > 4096:
            return _page("Bad request", "<p>The marketplace token is missing.</p>", 400)
        try:
            resolved = await azure.resolve(token)
        except AzureRefused as refused:
            logger.warning("Azure resolve refused: %s", refused.status)
            return _page(
                "This link has expired",
                "<p>Open the offer in Azure Marketplace and configure the account again.</p>",
                400,
            )
        except (httpx.HTTPError, ValueError) as failure:
            logger.warning("Azure resolve failed: %s", type(failure).__name__)
            return _page("Try again shortly", "<p>Azure Marketplace could not be reached.</p>", 502)
        subscription_id = resolved.get("id")
        if not isinstance(subscription_id, str) or not subscription_id:
            return _page("Try again shortly", "<p>Azure named no subscription.</p>", 502)
        stored = await inbox.receive(
            Marketplace.AZURE,
            f"resolve:{subscription_id}"[:MAX_FIELD],
            {"type": "resolved", "subscription": resolved},
            subscription_id[:MAX_FIELD],
        )
        if not stored:
            logger.info("Azure landing for %s again", subscription_id)
        return _page(
            "Thank you",
            "<p>Your subscription is being set up; you will receive an email shortly.</p>",
        )

    async def azure_webhook(request: Request) -> Response:
        """An operation, trusted only once Get Operation on the marketplace confirms it."""
        if azure is None:
            return _not_set_up("Azure Marketplace")
        expected = settings.azure_webhook_bearer
        if expected and not hmac.compare_digest(
            request.headers.get("authorization", ""), f"Bearer {expected}"
        ):
            logger.warning("Azure webhook refused: wrong or missing bearer")
            return JSONResponse({"error": "not authorized"}, status_code=401)
        webhook = _json_object(await request.body())
        operation_id = webhook.get("id") if webhook else None
        subscription_id = webhook.get("subscriptionId") if webhook else None
        if (
            webhook is None
            or not isinstance(operation_id, str)
            or not isinstance(subscription_id, str)
            or not operation_id
            or not subscription_id
            or len(operation_id) > MAX_FIELD
            or len(subscription_id) > MAX_FIELD
        ):
            return JSONResponse({"error": "not an Azure webhook operation"}, status_code=400)
        try:
            operation = await azure.operation(subscription_id, operation_id)
        except AzureRefused as refused:
            logger.warning(
                "Azure webhook %s refused: Get Operation answered %s", operation_id, refused.status
            )
            return JSONResponse({"error": "the operation is not known"}, status_code=403)
        except (httpx.HTTPError, ValueError) as failure:
            logger.warning("Azure Get Operation failed: %s", type(failure).__name__)
            return JSONResponse({"error": "the operation could not be checked"}, 503)
        if not confirms(operation, webhook):
            logger.warning("Azure webhook %s refused: it differs from the operation", operation_id)
            return JSONResponse({"error": "the operation differs"}, status_code=403)
        stored = await inbox.receive(
            Marketplace.AZURE,
            operation_id,
            {"type": "operation", "operation": operation},
            subscription_id,
        )
        if not stored:
            logger.info("Azure operation %s received again: ignored", operation_id)
        return JSONResponse({"received": True, "duplicate": not stored})

    return [
        Route("/marketplaces/azure/landing", azure_landing, methods=["GET"]),
        Route("/marketplaces/azure/webhook", azure_webhook, methods=["POST"]),
        Route("/marketplaces/aws/fulfillment", aws_fulfillment, methods=["POST"]),
        Route("/marketplaces/aws/notifications", aws_notifications, methods=["POST"]),
        Route("/marketplaces/stripe/events", stripe_events, methods=["POST"]),
    ]

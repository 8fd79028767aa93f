"""The delivery's headers, checked by the ``standardwebhooks`` package as a receiver would.

The package rejects timestamps more than 5 minutes from the wall clock, so these tests sign
on a Clock set to the wall clock's now (the endpoint's rotation times follow that Clock)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from domain.model.webhook import WebhookEndpoint, WebhookEventType, new_secret
from integrations.webhooks.delivery import signed_headers

from fakes import FixedClock

BODY = json.dumps({"type": "trial.started", "version": 1, "data": {}})


def _endpoint(clock: FixedClock) -> WebhookEndpoint:
    return WebhookEndpoint(
        url="https://a.test/h",
        event_types=(WebhookEventType.TRIAL_STARTED,),
        secret=new_secret(),
        created_at=clock.now(),
    )


def test_the_headers_verify_with_the_secret_and_not_with_another() -> None:
    clock = FixedClock(datetime.now(UTC))
    endpoint = _endpoint(clock)
    headers = signed_headers(endpoint, "msg_1", clock, BODY)
    assert headers["webhook-id"] == "msg_1"
    assert headers["webhook-timestamp"] == str(int(clock.now().timestamp()))
    assert Webhook(endpoint.secret).verify(BODY, headers) == json.loads(BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint.secret).verify(BODY + " ", headers)


def test_during_the_overlap_both_secrets_verify_and_after_it_only_the_new_one() -> None:
    clock = FixedClock(datetime.now(UTC))
    endpoint = _endpoint(clock)
    old = endpoint.secret
    endpoint.rotate(new_secret(), clock.now(), timedelta(hours=1))
    during = signed_headers(endpoint, "msg_2", clock, BODY)
    assert len(during["webhook-signature"].split(" ")) == 2
    for secret in (old, endpoint.secret):
        Webhook(secret).verify(BODY, during)

    endpoint.rotate(new_secret(), clock.now() - timedelta(hours=2), timedelta(hours=1))
    previous = endpoint.previous_secret
    assert previous is not None
    after = signed_headers(endpoint, "msg_3", clock, BODY)
    Webhook(endpoint.secret).verify(BODY, after)
    with pytest.raises(WebhookVerificationError):
        Webhook(previous).verify(BODY, after)

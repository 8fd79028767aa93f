"""Email rendering and transports: every template renders (text, HTML, subject), HTML is
escaped, a missing value is an error, the Message-ID follows the row, SMTP URLs parse, and a
dropped .eml is overwritten by a re-send."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

import jinja2
import pytest

from domain.model.email import EmailTemplate, email_event
from integrations.email.messages import build_message, message_id, render, template_environment
from integrations.email.transports import DirectoryTransport, parse_smtp_url

NOW = datetime(2026, 1, 1, tzinfo=UTC)
BASE = {"contact_name": "Ada", "subscription_name": "A-S00000001", "company": "Acme"}
CONTEXTS: dict[EmailTemplate, dict[str, object]] = {
    EmailTemplate.ACTIVATION_CODE: {
        "plan": "Ultimate",
        "seats": 50,
        "starts_on": "2026-01-01",
        "ends_on": "2027-01-01",
        "activation_code": "ABCDEFGHJKLMNPQRSTUVWXYZ",
    },
    EmailTemplate.LICENSE_DELIVERED: {
        "plan": "Ultimate",
        "seats": 50,
        "starts_on": "2026-01-01",
        "expires_on": "2027-01-01",
        "hostname": "gitlab.acme.test",
    },
    EmailTemplate.TRIAL_STARTED: {
        "trial_name": "Ultimate trial",
        "target": "acme-group",
        "ends_on": "2026-01-31",
    },
    EmailTemplate.TRIAL_ENDING_SOON: {
        "trial_name": "Ultimate trial",
        "target": "acme-group",
        "ends_on": "2026-01-31",
        "days_left": 3,
    },
    EmailTemplate.SUBSCRIPTION_RENEWED: {
        "starts_on": "2027-01-01",
        "ends_on": "2028-01-01",
        "seats": 60,
    },
    EmailTemplate.SUBSCRIPTION_EXPIRING: {
        "ends_on": "2027-01-01",
        "days_left": 30,
        "auto_renew": False,
    },
    EmailTemplate.SUBSCRIPTION_CANCELLED: {"effective_on": "2027-01-01", "immediately": False},
    EmailTemplate.SEAT_OVERAGE: {"seats": 50, "max_seats_used": 57, "overage": 7},
    EmailTemplate.WEBHOOK_ENDPOINT_DISABLED: {
        "endpoint_id": "whe_0193",
        "host": "hooks.acme.test",
        "description": "billing sync",
        "reason": "its last 10 events all failed after every retry",
    },
    EmailTemplate.INSTANCE_STOPPED_SYNCING: {
        "instance_identifier": "5d2b7c1e-8f4a-4c1b-9a53-2f8e6d0c4b71",
        "hostname": "gitlab.acme.test",
        "role": "PRODUCTION",
        "last_synced_at": "2026-01-01T04:34:00+00:00",
        "days": 8,
    },
    EmailTemplate.DEDICATED_INVITATION: {
        "expected_users": 3000,
        "storage_gib": 500,
        "primary_region": "eu-west-1",
    },
    EmailTemplate.DEDICATED_DEPROVISIONING: {"deprovision_on": "2027-01-01", "days_left": 7},
}


@pytest.fixture(scope="module")
def env() -> jinja2.Environment:
    return template_environment()


@pytest.mark.parametrize("template", list(EmailTemplate))
def test_every_template_renders_text_html_and_a_one_line_subject(
    env: jinja2.Environment, template: EmailTemplate
) -> None:
    rendered = render(env, template, {**BASE, **CONTEXTS[template]})
    assert rendered.subject
    assert "\n" not in rendered.subject
    assert "Ada" in rendered.text
    assert rendered.html.startswith("<!DOCTYPE html>")
    assert "Hello Ada," in rendered.html


def test_html_is_escaped_and_text_is_not(env: jinja2.Environment) -> None:
    context = {**BASE, **CONTEXTS[EmailTemplate.SEAT_OVERAGE], "contact_name": "<b>Ada</b>"}
    rendered = render(env, EmailTemplate.SEAT_OVERAGE, context)
    assert "&lt;b&gt;Ada&lt;/b&gt;" in rendered.html
    assert "<b>Ada</b>" in rendered.text


def test_a_missing_value_is_an_error(env: jinja2.Environment) -> None:
    with pytest.raises(jinja2.UndefinedError):
        render(env, EmailTemplate.SEAT_OVERAGE, BASE)


def test_the_message_id_and_date_follow_the_row(env: jinja2.Environment) -> None:
    event = email_event(EmailTemplate.SEAT_OVERAGE, "ada@acme.test", {}, now=NOW, max_attempts=1)
    rendered = render(
        env, EmailTemplate.SEAT_OVERAGE, {**BASE, **CONTEXTS[EmailTemplate.SEAT_OVERAGE]}
    )
    sender = "Billing <billing@portal.example>"
    first = build_message(event, rendered, sender=sender, to="ada@acme.test")
    again = build_message(event, rendered, sender=sender, to="ada@acme.test")
    assert first["Message-ID"] == again["Message-ID"] == f"<{event.id}@portal.example>"
    assert first.as_bytes() == again.as_bytes()
    assert message_id(event, "no-address") == f"<{event.id}@provision.localhost>"


def test_smtp_urls() -> None:
    plain = parse_smtp_url("smtp://mail.example:2525")
    assert (plain.hostname, plain.port, plain.username, plain.start_tls) == (
        "mail.example",
        2525,
        None,
        None,
    )
    secured = parse_smtp_url("smtp://user%40x:p%2Fss@mail.example:587?starttls=true")
    assert (secured.username, secured.password, secured.start_tls) == ("user@x", "p/ss", True)
    assert "p/ss" not in repr(secured)
    implicit = parse_smtp_url("smtps://mail.example")
    assert (implicit.port, implicit.use_tls, implicit.start_tls) == (465, True, False)
    with pytest.raises(ValueError, match="SMTP_URL"):
        parse_smtp_url("http://mail.example")


async def test_a_resent_eml_overwrites_the_same_file(
    env: jinja2.Environment, tmp_path: Path
) -> None:
    event = email_event(EmailTemplate.SEAT_OVERAGE, "ada@acme.test", {}, now=NOW, max_attempts=1)
    rendered = render(
        env, EmailTemplate.SEAT_OVERAGE, {**BASE, **CONTEXTS[EmailTemplate.SEAT_OVERAGE]}
    )
    message = build_message(event, rendered, sender="p <p@x.test>", to="ada@acme.test")
    transport = DirectoryTransport(tmp_path / "mail")
    await transport.deliver(message, str(event.id))
    await transport.deliver(message, str(event.id))
    [written] = list((tmp_path / "mail").iterdir())
    assert written.name == f"{event.id}.eml"
    read = message_from_bytes(written.read_bytes(), policy=policy.default)
    assert read["Message-ID"] == message["Message-ID"]

"""Rendering an EMAIL row into a MIME message: subject, text and HTML from the template's
folder (``templates/<name>/``), a Message-ID and Date derived from the row (a re-send after a
crash is the same message), and the license attached as a ``.gitlab-license`` file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

import jinja2

from domain.model.email import EmailTemplate
from domain.model.provision_event import ProvisionEvent


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def template_environment() -> jinja2.Environment:
    """Templates from the package; HTML autoescaped; a missing value is an error, not blank."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("integrations.email", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def render(
    env: jinja2.Environment, template: EmailTemplate, context: Mapping[str, Any]
) -> Rendered:
    name = template.value
    subject = env.get_template(f"{name}/subject.txt").render(context)
    return Rendered(
        subject=" ".join(subject.split()),
        text=env.get_template(f"{name}/body.txt").render(context),
        html=env.get_template(f"{name}/body.html").render(context),
    )


def message_id(event: ProvisionEvent, sender: str) -> str:
    """``<event-id@sender's domain>``: the same for every attempt of the row."""
    _, at, domain = parseaddr(sender)[1].rpartition("@")
    domain = domain if at and domain else "provision.localhost"
    return f"<{event.id}@{domain}>"


def build_message(
    event: ProvisionEvent,
    rendered: Rendered,
    *,
    sender: str,
    to: str,
    attachment: tuple[str, bytes] | None = None,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = rendered.subject
    message["Message-ID"] = message_id(event, sender)
    message["Date"] = format_datetime(event.created_at)
    message["X-Provision-Correlation-Id"] = event.correlation_id
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    if attachment is not None:
        filename, content = attachment
        message.add_attachment(
            content, maintype="application", subtype="octet-stream", filename=filename
        )
    # Boundaries from the row too (not random): a re-send is the same message, byte for byte.
    for number, part in enumerate(p for p in message.walk() if p.is_multipart()):
        part.set_boundary(f"=_{event.id.hex}_{number}")
    return message

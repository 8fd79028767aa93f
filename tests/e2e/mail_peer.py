"""A local SMTP server for the email tests (aiosmtpd on a real socket, in its own thread) that
keeps every message it receives, and can hold the first one unanswered (its sender is killed
after the server has the whole message)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, cast

from aiosmtpd.controller import Controller

from ledger_peer import free_port


@dataclass
class MailPeer:
    url: str
    messages: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)
    hang_first: bool = False
    closing: bool = False

    def reset(self) -> None:
        self.messages.clear()
        self.recipients.clear()
        self.hang_first = False

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = cast(EmailMessage, message_from_bytes(envelope.content, policy=policy.default))
        self.messages.append(message)
        self.recipients.append(list(envelope.rcpt_tos))
        if self.hang_first and len(self.messages) == 1:
            while not self.closing:  # noqa: ASYNC110 - a plain flag set by the test thread
                await asyncio.sleep(0.05)
            return "451 try again later"
        return "250 Message accepted for delivery"


@contextmanager
def serving_smtp() -> Iterator[MailPeer]:
    port = free_port()
    peer = MailPeer(url=f"smtp://127.0.0.1:{port}")
    controller = Controller(peer, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield peer
    finally:
        peer.closing = True
        controller.stop()

"""Where messages go: an SMTP server (aiosmtplib) when SMTP_URL is set, else ``<event-id>.eml``
files in a folder (a re-send overwrites the same file)."""

from __future__ import annotations

import asyncio
import os
import tempfile
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib


class Transport(Protocol):
    async def deliver(self, message: EmailMessage, name: str) -> None:
        """Hand the message over; ``name`` is the row's id (the file name of a dropped one)."""


@dataclass(frozen=True)
class SmtpSettings:
    hostname: str
    port: int
    username: str | None = None
    password: str | None = None
    use_tls: bool = False
    start_tls: bool | None = None
    """True: required; False: never; None: when the server offers it."""

    def __repr__(self) -> str:  # the password stays out of logs and tracebacks
        where = f"{self.hostname}:{self.port}"
        return f"SmtpSettings({where}, tls={self.use_tls}, starttls={self.start_tls})"


def parse_smtp_url(url: str) -> SmtpSettings:
    """``smtp://[user:password@]host[:port][?starttls=true|false]`` or ``smtps://…`` (TLS from
    the first byte, port 465 by default)."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("SMTP_URL is smtp://[user:password@]host:port or smtps://…")
    use_tls = parts.scheme == "smtps"
    options = parse_qs(parts.query)
    start_tls: bool | None = None
    if "starttls" in options:
        start_tls = options["starttls"][-1].lower() in ("1", "true", "yes", "on")
    return SmtpSettings(
        hostname=parts.hostname,
        port=parts.port or (465 if use_tls else 25),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        use_tls=use_tls,
        start_tls=False if use_tls else start_tls,
    )


class SmtpTransport:
    def __init__(self, settings: SmtpSettings, timeout: float) -> None:
        self._settings = settings
        self._timeout = timeout

    async def deliver(self, message: EmailMessage, name: str) -> None:
        smtp = self._settings
        await aiosmtplib.send(
            message,
            hostname=smtp.hostname,
            port=smtp.port,
            username=smtp.username,
            password=smtp.password,
            use_tls=smtp.use_tls,
            start_tls=smtp.start_tls,
            timeout=self._timeout,
        )


class DirectoryTransport:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def deliver(self, message: EmailMessage, name: str) -> None:
        await asyncio.to_thread(self._write, message.as_bytes(policy=SMTP), name)

    def _write(self, data: bytes, name: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        # Written aside, then renamed: a reader never sees half a message.
        handle, temporary = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as output:
                output.write(data)
            os.replace(temporary, self.folder / f"{name}.eml")
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

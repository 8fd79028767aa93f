"""``provision audit verify`` and ``provision audit anchor`` (docs/audit.md): check the audit
chain end to end, and export a day's chain head signed with our license key."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from api.cli.support import with_connection
from api.settings import Settings


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def add_audit_parser(commands: Any) -> None:
    audit = commands.add_parser(
        "audit", help="the audit log's hash chain (docs/audit.md)"
    ).add_subparsers(dest="audit_command", required=True)
    verify = audit.add_parser(
        "verify",
        help="check the chains; exit 1 naming the first entry changed, removed or inserted",
    )
    verify.add_argument(
        "--anchor",
        metavar="FILE",
        help="also check the chain against this signed anchor (provision audit anchor)",
    )
    verify.add_argument(
        "--public-key",
        metavar="PEM_FILE",
        help="check the anchor's signature with this key, not the database's",
    )
    anchor = audit.add_parser(
        "anchor", help="print a day's chain head as JSON signed with our license key (JWS)"
    )
    anchor.add_argument(
        "--date", required=True, type=_day, metavar="YYYY-MM-DD", help="the day (UTC)"
    )
    anchor.add_argument("--output", "-o", metavar="FILE", help="write here, not to stdout")


def audit_cli(settings: Settings, args: argparse.Namespace) -> int:
    if args.audit_command == "anchor":
        return _export_anchor(settings, args.date, args.output)
    return _verify(settings, args.anchor, args.public_key)


def _export_anchor(settings: Settings, day: date, output: str | None) -> int:
    import asyncpg

    from auth.audit_anchor import anchor_payload, sign_anchor
    from auth.licenses.keys import load_or_create
    from integrations.clock import SystemClock
    from persistence.audit_chain import day_heads

    async def run(connection: asyncpg.Connection, dsn: str) -> dict[str, Any]:
        now = SystemClock().now()
        key = await load_or_create(connection, now)
        heads, entries_that_day = await day_heads(connection, day)
        payload = anchor_payload(
            day.isoformat(),
            [(h.chain, h.head, h.entry_id) for h in heads],
            entries_that_day,
            now.isoformat(),
        )
        return sign_anchor(payload, key.private_key)

    text = json.dumps(with_connection(settings, run), indent=2) + "\n"
    if output:
        Path(output).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def _verify(settings: Settings, anchor_file: str | None, public_key_file: str | None) -> int:
    import asyncpg
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

    from auth.audit_anchor import AnchorInvalid, anchored_heads, read_anchor
    from auth.licenses.keys import load_public_key, load_public_pem
    from domain.model.audit_chain import ChainHead
    from persistence.audit_chain import Verification, verify

    def fail(reason: str) -> int:
        print(f"audit chain: {reason}", file=sys.stderr)
        return 1

    document: Any = None
    pinned: RSAPublicKey | None = None
    if anchor_file:
        try:
            document = json.loads(Path(anchor_file).read_text())
        except (OSError, UnicodeDecodeError, ValueError) as error:
            return fail(f"cannot read the anchor {anchor_file}: {error}")
        if public_key_file:
            try:
                pinned = load_public_pem(Path(public_key_file).read_bytes())
            except (OSError, ValueError) as error:
                return fail(f"cannot use {public_key_file} as the public key: {error}")

    async def run(
        connection: asyncpg.Connection, dsn: str
    ) -> tuple[Verification | None, str | None, dict[str, Any] | None]:
        anchors: dict[str, ChainHead] | None = None
        payload: dict[str, Any] | None = None
        if document is not None:
            key = pinned or await load_public_key(connection)
            if key is None:
                return None, "the database has no license key to check the anchor with", None
            try:
                payload = read_anchor(document, key)
            except AnchorInvalid as refused:
                return None, f"the anchor is refused: {refused}", None
            anchors = anchored_heads(payload)
        return await verify(connection, anchors), None, payload

    result, refused, payload = with_connection(settings, run)
    if refused is not None or result is None:
        return fail(refused or "not checked")
    if result.problems:
        first, *more = result.problems
        print(f"audit chain BROKEN: {first.message}", file=sys.stderr)
        for problem in more:
            print(f"  then: {problem.message}", file=sys.stderr)
        return 1
    used = {c: h for c, h in sorted(result.heads.items()) if h.sequence}
    summary = f"intact: {result.entries} entries in {len(used)} chains"
    if payload is not None:
        summary += f"; matches the anchor of {payload.get('date')}"
    print(summary)
    for chain, head in used.items():
        print(f"{chain} head #{head.sequence} {head.hash}")
    return 0

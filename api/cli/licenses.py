"""``provision license public-key``, ``decode`` and ``verify``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from api.cli.support import with_connection
from api.settings import Settings


def license_public_key(settings: Settings) -> int:
    import asyncpg

    from auth.licenses.keys import load_or_create
    from integrations.clock import SystemClock

    async def run(connection: asyncpg.Connection, dsn: str) -> str:
        return (await load_or_create(connection, SystemClock().now())).public_pem

    sys.stdout.write(with_connection(settings, run))
    return 0


def license_read(settings: Settings, args: argparse.Namespace) -> int:
    """``license decode`` and ``license verify``: with the public key only (a PEM file, or the
    database's); exit 1 with the reason when the key does not open or GitLab would refuse it."""
    import asyncpg
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

    from auth.licenses.envelope import LicenseKeyInvalid, decode
    from auth.licenses.keys import load_public_key, load_public_pem
    from domain.model.license_attributes import attribute_problems

    def fail(reason: str) -> int:
        print(f"invalid: {reason}" if args.license_command == "verify" else reason, file=sys.stderr)
        return 1

    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text()
    except (OSError, UnicodeDecodeError) as error:
        return fail(f"cannot read {args.file}: {error}")
    public_key: RSAPublicKey | None
    if args.public_key:
        try:
            public_key = load_public_pem(Path(args.public_key).read_bytes())
        except (OSError, ValueError) as error:
            return fail(f"cannot use {args.public_key} as the public key: {error}")
    else:

        async def stored(connection: asyncpg.Connection, dsn: str) -> RSAPublicKey | None:
            return await load_public_key(connection)

        public_key = with_connection(settings, stored)
        if public_key is None:
            return fail("the database has no license key yet (`provision license public-key`)")
    try:
        attributes = decode(text, public_key)
    except LicenseKeyInvalid as refused:
        return fail(str(refused))
    if args.license_command == "decode":
        print(json.dumps(attributes, indent=2, ensure_ascii=False))
        return 0
    problems = attribute_problems(attributes)
    if problems:
        return fail("GitLab would refuse it: " + "; ".join(problems))
    print("valid")
    return 0

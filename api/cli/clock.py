"""``provision clock sandbox|real|show|advance`` (docs/test-clock.md): mark a customer as a
sandbox tenant (or a real one again), read its test clock, and advance it - running on the
way, for that tenant only, what time drives (as ``advanceTestClock``)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from api.cli.arguments import object_id
from api.cli.support import database
from api.settings import Settings
from persistence.migrations import migrate

T = TypeVar("T")


def add_clock_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    clock = commands.add_parser(
        "clock", help="sandbox tenants' test clocks (docs/test-clock.md)"
    ).add_subparsers(dest="clock_command", required=True)
    for name, text in (
        ("sandbox", "make a customer a sandbox tenant with its own test clock"),
        ("real", "make a sandbox a real tenant again (its clock returns to the system's)"),
        ("show", "what a customer's clock reads"),
    ):
        sub = clock.add_parser(name, help=text)
        sub.add_argument("--customer", required=True, type=object_id("Customer"))
    advance = clock.add_parser(
        "advance", help="move a sandbox's clock forwards, running what time drives on the way"
    )
    advance.add_argument("--customer", required=True, type=object_id("Customer"))
    moves = advance.add_mutually_exclusive_group(required=True)
    moves.add_argument("--to", type=_moment, help="an ISO 8601 moment (UTC when no offset)")
    moves.add_argument("--by", type=_span, help="an ISO 8601 duration: P1Y, P30D, PT12H")


def _moment(raw: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not an ISO 8601 moment") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _span(raw: str) -> object:
    from api.commands import parse_duration

    try:
        return parse_duration(raw)
    except ValueError as bad:
        raise argparse.ArgumentTypeError(str(bad)) from None


def _run(settings: Settings, work: Callable[..., Awaitable[T]]) -> T:
    from api.commands import SandboxTime
    from integrations.clock import SystemClock
    from persistence.database import Database

    async def run(dsn: str) -> T:
        await migrate(dsn)
        db = Database(dsn, pool_min=1, pool_max=2)
        await db.start()
        try:
            return await work(SandboxTime(db, settings, SystemClock()))
        finally:
            await db.stop()

    with database(settings) as dsn:
        return asyncio.run(run(dsn))


def clock_cli(settings: Settings, args: argparse.Namespace) -> int:
    from api.commands import SandboxTime
    from domain.errors import DomainError
    from domain.policy import ALL_SCOPES
    from domain.principal import Principal, PrincipalKind

    customer: uuid.UUID = args.customer
    command = args.clock_command

    async def work(sandbox: SandboxTime) -> int:
        if command in ("sandbox", "real"):
            if not await sandbox.clocks.mark(customer, command == "sandbox"):
                print(f"no customer {customer}", file=sys.stderr)
                return 1
            kind = "a sandbox tenant" if command == "sandbox" else "a real tenant"
            print(f"customer {customer} is {kind}")
            return 0
        state = await sandbox.clocks.state(customer)
        if state is None:
            print(f"no customer {customer}", file=sys.stderr)
            return 1
        if command == "show":
            kind = "sandbox" if state.sandbox else "real"
            print(f"{(await sandbox.now_of(customer)).isoformat()} ({kind})")
            return 0
        operator = Principal(kind=PrincipalKind.STAFF, subject="cli", scopes=ALL_SCOPES)
        try:
            moved = await sandbox.advance(operator, customer, to=args.to, by=args.by)
        except DomainError as refused:
            print(f"{refused.code}: {refused.message}", file=sys.stderr)
            return 1
        print(f"{moved.now.isoformat()} ({len(moved.steps)} step(s) run)")
        return 0

    return _run(settings, work)

"""``provision marketplace offers list|set|delete``: the staff's marketplace offer mapping
(docs/marketplaces.md), on DATABASE_URL (or the embedded database). Changes are made as the
staff principal ``cli``; a bad value exits 1 with the reason."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid

from api.cli.support import database
from api.settings import Settings
from domain.errors import DomainError
from domain.model.enums import Deployment, Plan
from domain.model.marketplace import Marketplace, OfferMapping
from persistence.migrations import migrate


def add_marketplace_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    marketplace = commands.add_parser(
        "marketplace", help="marketplace intake (AWS, Azure, Stripe)"
    ).add_subparsers(dest="marketplace_command", required=True)
    offers = marketplace.add_parser(
        "offers", help="which plan, seats and term a marketplace offer sells"
    ).add_subparsers(dest="offers_command", required=True)
    listing = offers.add_parser("list", help="the mapping, as JSON lines")
    listing.add_argument("--marketplace", choices=[m.value for m in Marketplace])
    put = offers.add_parser("set", help="map an offer and plan (replaces the same one)")
    put.add_argument("--marketplace", required=True, choices=[m.value for m in Marketplace])
    put.add_argument("--offer", required=True, help="AWS product code, Azure offer, Stripe product")
    put.add_argument(
        "--plan-key", required=True, help="AWS dimension, Azure plan id, Stripe price id"
    )
    put.add_argument("--plan", required=True, choices=[p.value for p in Plan if p is not Plan.FREE])
    put.add_argument("--deployment", required=True, choices=[d.value for d in Deployment])
    put.add_argument("--seats", type=int, help="fixed seats (omitted: the order's quantity)")
    put.add_argument("--term-months", type=int, default=12)
    delete = offers.add_parser("delete", help="delete a mapping by its id")
    delete.add_argument("id", help="the id `list` prints (or its GraphQL global ID)")


def _line(mapping: OfferMapping) -> str:
    return json.dumps(
        {
            "id": str(mapping.id),
            "marketplace": mapping.marketplace.value,
            "offer": mapping.offer,
            "planKey": mapping.plan_key,
            "plan": mapping.plan.value,
            "deployment": mapping.deployment.value,
            "seats": mapping.seats,
            "termMonths": mapping.term_months,
        }
    )


def _mapping_id(value: str) -> uuid.UUID:
    from api.ids import parse_typed_id

    try:
        return uuid.UUID(value)
    except ValueError:
        return parse_typed_id(value, "MarketplaceOffer", path=("id",))


def run_marketplace(settings: Settings, args: argparse.Namespace) -> int:
    from domain.policy import ALL_SCOPES
    from domain.principal import Principal, PrincipalKind
    from domain.use_cases.marketplace_offers import MarketplaceOffers, SetOffer
    from integrations.clock import SystemClock
    from persistence.database import Database
    from persistence.marketplace import PostgresOfferMappings
    from persistence.unit_of_work import PostgresUnitOfWork

    staff = Principal(PrincipalKind.STAFF, subject="cli", scopes=ALL_SCOPES)

    async def run(dsn: str) -> int:
        await migrate(dsn)
        db = Database(dsn, pool_min=1, pool_max=2)
        await db.start()
        try:
            offers = PostgresOfferMappings(db)
            use_case = MarketplaceOffers(lambda: PostgresUnitOfWork(db), offers, SystemClock())
            if args.offers_command == "list":
                chosen = Marketplace(args.marketplace) if args.marketplace else None
                after = None
                while True:
                    page = await offers.page(100, after, chosen)
                    for mapping in page.items:
                        print(_line(mapping))
                    if not page.has_next:
                        return 0
                    after = page.items[-1].id
            if args.offers_command == "set":
                mapping = await use_case.set(
                    staff,
                    SetOffer(
                        marketplace=Marketplace(args.marketplace),
                        offer=args.offer,
                        plan_key=args.plan_key,
                        plan=Plan(args.plan),
                        deployment=Deployment(args.deployment),
                        term_months=args.term_months,
                        seats=args.seats,
                    ),
                )
            else:
                mapping = await use_case.delete(staff, _mapping_id(args.id))
            print(_line(mapping))
            return 0
        except DomainError as refused:
            print(f"provision marketplace: {refused.message}", file=sys.stderr)
            return 1
        finally:
            await db.stop()

    with database(settings) as dsn:
        return asyncio.run(run(dsn))

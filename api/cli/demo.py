"""``provision demo``: a believable data set for GraphiQL, written through the repositories."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from api.cli.access import issue_token
from api.cli.support import database
from api.settings import Settings
from auth.licenses.keys import DatabaseLicenseSigner
from auth.registry import register_user
from auth.store import OAuthStore
from domain.model.activation_code import hash_activation_code, new_activation_code
from domain.model.calendar import add_years
from domain.model.customer import Customer, Membership
from domain.model.enums import (
    AddOnKind,
    Channel,
    Deployment,
    LicensingMode,
    NamespaceKind,
    NamespacePlan,
    Plan,
    Role,
    TrialType,
)
from domain.model.instance import Instance
from domain.model.namespace import Namespace, NamespaceUsage
from domain.model.partner import Partner, PartnerKind
from domain.model.provisioning import namespace_provision, provision_body
from domain.model.subscription import AddOn, Segment, Subscription, Term
from domain.model.trial import Trial
from domain.model.usage import UsageReport
from domain.ports import Clock
from domain.principal import Principal, PrincipalKind
from domain.use_cases.licensing import issue_current_license
from integrations.clock import SystemClock
from persistence.database import Database
from persistence.migrations import migrate
from persistence.unit_of_work import PostgresUnitOfWork

DEMO_MARKER = "ops@acme.example"
DEMO_MAX_ATTEMPTS = 10
DEMO_PASSWORD = "demo-password"  # noqa: S105 - printed for the demo, documented as such
DEMO_USERS = (
    ("wile@acme.example", "Acme Corp", Role.OWNER),
    ("hank@globex.example", "Globex", Role.ADMIN),
)
# Hank also reads Acme's (the portal's customer switch, and what a VIEWER is offered).
DEMO_MEMBERSHIPS = (*DEMO_USERS, ("hank@globex.example", "Acme Corp", Role.VIEWER))


def _year(start: date, years: int = 1) -> date:
    return add_years(start, years)


async def seed_demo(dsn: str, clock: Clock | None = None) -> str:
    """Insert the demo set once (dates around ``clock``'s today); running it again changes
    nothing."""
    clock = clock or SystemClock()
    now, today = clock.now(), clock.today()
    db = Database(dsn, pool_min=1, pool_max=2)
    await db.start()
    try:
        exists = await db.fetchval("SELECT 1 FROM customer WHERE contact_email = $1", DEMO_MARKER)
        if exists:
            return "The demo data is already there."
        store = OAuthStore(lambda: db.pool)
        subjects = {}
        for email, _, _ in DEMO_USERS:
            existing = await store.get_user_by_email(email)
            user = existing or await register_user(
                store, email=email, password=DEMO_PASSWORD, now=now
            )
            subjects[email] = user.subject
        async with PostgresUnitOfWork(db) as uow:
            acme = Customer("Acme Corp", "Wile E. Coyote", DEMO_MARKER, now)
            globex = Customer("Globex", "Hank Scorpio", "it@globex.example", now)
            initech = Customer("Initech", "Bill Lumbergh", "bill@initech.example", now)
            hooli = Customer("Hooli", "Gavin Belson", "gavin@hooli.example", now)
            for customer in (acme, globex, initech, hooli):
                await uow.customers.add(customer)
            by_company = {c.company: c for c in (acme, globex)}
            for email, company, role in DEMO_MEMBERSHIPS:
                member = Membership(by_company[company].id, subjects[email], role)
                await uow.customers.add_membership(member)

            acme_group = Namespace(
                gitlab_id=9970,
                path="acme",
                name="Acme",
                kind=NamespaceKind.GROUP,
                owner_user_ids=(101,),
                owner_emails=("wile@acme.example",),
                base_plan=NamespacePlan.PREMIUM,
                usage=NamespaceUsage(42, 57, 3210, 7_500_000_000, now),
                created_at=now,
            )
            acme_subgroup = Namespace(
                gitlab_id=9971,
                path="acme/platform",
                name="Platform",
                kind=NamespaceKind.GROUP,
                parent_gitlab_id=9970,
                created_at=now,
            )
            hooli_group = Namespace(
                gitlab_id=12001,
                path="hooli",
                name="Hooli",
                kind=NamespaceKind.GROUP,
                owner_user_ids=(202,),
                usage=NamespaceUsage(12, 12, 400, 1_200_000_000, now),
                created_at=now,
            )
            initech_group = Namespace(
                gitlab_id=13002,
                path="initech",
                name="Initech",
                kind=NamespaceKind.GROUP,
                owner_user_ids=(303,),
                base_plan=NamespacePlan.ULTIMATE,
                usage=NamespaceUsage(18, 20, 12_000, 30_000_000_000, now),
                created_at=now,
            )
            # The portal's demo: a group to link a subscription to, and one to start a trial on.
            acme_labs = Namespace(
                gitlab_id=9980,
                path="acme-labs",
                name="Acme Labs",
                kind=NamespaceKind.GROUP,
                owner_user_ids=(101,),
                owner_emails=("wile@acme.example",),
                usage=NamespaceUsage(8, 9, 120, 300_000_000, now),
                created_at=now,
            )
            acme_sandbox = Namespace(
                gitlab_id=9990,
                path="acme-sandbox",
                name="Acme Sandbox",
                kind=NamespaceKind.GROUP,
                owner_user_ids=(101,),
                owner_emails=("wile@acme.example",),
                created_at=now,
            )
            namespaces = (
                acme_group,
                acme_subgroup,
                acme_labs,
                acme_sandbox,
                hooli_group,
                initech_group,
            )
            for namespace in namespaces:
                await uow.namespaces.add(namespace)

            start = today - timedelta(days=120)
            acme_saas = Subscription(
                name=await uow.subscriptions.next_name(),
                customer_id=acme.id,
                deployment=Deployment.GITLAB_COM,
                plan=Plan.PREMIUM,
                channel=Channel.WEB_DIRECT,
                terms=(Term((Segment(start, _year(start), 50),)),),
                add_ons=(AddOn(AddOnKind.COMPUTE_MINUTES, 10_000, start, _year(start)),),
                namespace_id=acme_group.id,
                created_at=now,
            )
            ramp_start = today - timedelta(days=400)
            acme_ramp = Subscription(
                name=await uow.subscriptions.next_name(),
                customer_id=acme.id,
                deployment=Deployment.SELF_MANAGED,
                plan=Plan.ULTIMATE,
                channel=Channel.SALES,
                licensing_mode=LicensingMode.ONLINE_CLOUD,
                max_instances=2,
                reconciliation_enabled=True,
                terms=(
                    Term(
                        (
                            Segment(ramp_start, _year(ramp_start), 100),
                            Segment(_year(ramp_start), _year(ramp_start, 2), 250),
                            Segment(_year(ramp_start, 2), _year(ramp_start, 3), 500),
                        )
                    ),
                ),
                add_ons=(AddOn(AddOnKind.DUO_PRO, 50, ramp_start, _year(ramp_start, 3)),),
                created_at=now,
            )
            globex_start = today - timedelta(days=200)
            globex_sm = Subscription(
                name=await uow.subscriptions.next_name(),
                customer_id=globex.id,
                deployment=Deployment.SELF_MANAGED,
                plan=Plan.PREMIUM,
                channel=Channel.SALES,
                terms=(Term((Segment(globex_start, _year(globex_start), 200),)),),
                max_instances=2,
                cancel_at_period_end=True,
                auto_renew=False,
                created_at=now,
            )
            old_start = today - timedelta(days=800)
            globex_old = Subscription(
                name=await uow.subscriptions.next_name(),
                customer_id=globex.id,
                deployment=Deployment.SELF_MANAGED,
                plan=Plan.PREMIUM,
                channel=Channel.SALES,
                licensing_mode=LicensingMode.LEGACY,
                terms=(Term((Segment(old_start, _year(old_start), 150),)),),
                auto_renew=False,
                created_at=now,
            )
            initech_saas = Subscription(
                name=await uow.subscriptions.next_name(),
                customer_id=initech.id,
                deployment=Deployment.GITLAB_COM,
                plan=Plan.ULTIMATE,
                channel=Channel.RESELLER,
                partner_id="partner:northwind-resellers",
                terms=(Term((Segment(start, _year(start), 15),)),),
                namespace_id=initech_group.id,
                created_at=now,
            )
            future_start = today + timedelta(days=30)
            hooli_dedicated = Subscription(
                name=await uow.subscriptions.next_name(),
                customer_id=hooli.id,
                deployment=Deployment.DEDICATED,
                plan=Plan.ULTIMATE,
                channel=Channel.MARKETPLACE,
                partner_id="partner:cloud-marketplace",
                terms=(Term((Segment(future_start, _year(future_start), 1000),)),),
                created_at=now,
            )
            labs_start = today - timedelta(days=20)
            acme_labs_saas = Subscription(
                name=await uow.subscriptions.next_name(),
                customer_id=acme.id,
                deployment=Deployment.GITLAB_COM,
                plan=Plan.ULTIMATE,
                channel=Channel.RESELLER,
                partner_id="partner:northwind-resellers",
                terms=(Term((Segment(labs_start, _year(labs_start), 10),)),),
                created_at=now,
            )
            subscriptions = (
                acme_saas,
                acme_ramp,
                acme_labs_saas,
                globex_sm,
                globex_old,
                initech_saas,
                hooli_dedicated,
            )
            for partner in (
                Partner(
                    "partner:northwind-resellers", "Northwind Resellers", PartnerKind.RESELLER, now
                ),
                Partner(
                    "partner:cloud-marketplace", "Cloud Marketplace", PartnerKind.MARKETPLACE, now
                ),
            ):
                await uow.partners.add(partner)
            codes: dict[str, str] = {}
            for subscription in subscriptions:
                await uow.subscriptions.add(subscription)
                if subscription.deployment is Deployment.SELF_MANAGED:
                    codes[subscription.name] = new_activation_code()
                    code_hash = hash_activation_code(codes[subscription.name])
                    await uow.activation_codes.set(subscription.id, code_hash, now)

            acme_instance = Instance(
                instance_identifier="5d2b7c1e-8f4a-4c1b-9a53-2f8e6d0c4b71",
                subscription_id=acme_ramp.id,
                hostname="gitlab.acme.example",
                gitlab_version="18.6.0",
                activated_at=now - timedelta(days=390),
                last_synced_at=now - timedelta(hours=5),
            )
            globex_instance = Instance(
                instance_identifier="0a9f3e51-7c62-4d8e-b1f4-6e2d9c8a7b30",
                subscription_id=globex_sm.id,
                hostname="git.globex.example",
                gitlab_version="18.5.2",
                activated_at=now - timedelta(days=199),
                last_synced_at=now - timedelta(hours=20),
            )
            for instance in (acme_instance, globex_instance):
                await uow.instances.add(instance)
            # Half a year of weekly seat links (the portal's usage chart), then the last two.
            history = [(7 * week + 3, 150 + 3 * (26 - week), 0) for week in range(26, 0, -1)]
            highest = 0
            for index, (days_ago, billable, _) in enumerate(history):
                billable += (index * 7) % 11
                highest = max(highest, billable + 4)
                history[index] = (days_ago, billable, highest)
            for days_ago, billable, maximum in (*history, (2, 231, 240), (1, 236, 244)):
                await uow.usage_reports.add(
                    UsageReport(
                        subscription_id=acme_ramp.id,
                        instance_id=acme_instance.id,
                        billable_users=billable,
                        max_historical_users=maximum,
                        add_on_seats={"duo_pro": 41},
                        gitlab_version="18.6.0",
                        hostname="gitlab.acme.example",
                        reported_at=now - timedelta(days=days_ago),
                    )
                )
            await uow.usage_reports.add(
                UsageReport(
                    subscription_id=globex_sm.id,
                    instance_id=globex_instance.id,
                    billable_users=212,
                    max_historical_users=219,
                    gitlab_version="18.5.2",
                    hostname="git.globex.example",
                    reported_at=now - timedelta(hours=20),
                )
            )

            await uow.trials.add(
                Trial(
                    type=TrialType.ULTIMATE,
                    namespace_id=hooli_group.id,
                    starts_on=today - timedelta(days=10),
                    ends_on=today + timedelta(days=20),
                    reverts_to=NamespacePlan.FREE,
                    created_at=now,
                )
            )
            await uow.trials.add(
                Trial(
                    type=TrialType.ULTIMATE_ON_PREMIUM,
                    namespace_id=acme_group.id,
                    starts_on=today - timedelta(days=90),
                    ends_on=today - timedelta(days=60),
                    reverts_to=NamespacePlan.PREMIUM,
                    created_at=now,
                )
            )
            await uow.trials.add(
                Trial(
                    type=TrialType.DUO_ENTERPRISE,
                    namespace_id=initech_group.id,
                    starts_on=today - timedelta(days=5),
                    ends_on=today + timedelta(days=55),
                    created_at=now,
                )
            )
            # The linked group's provisioning, as the link recorded it (the worker sends it).
            await uow.outbox.record(
                namespace_provision(
                    acme_group,
                    provision_body(acme_group, acme_saas, today),
                    now,
                    DEMO_MAX_ATTEMPTS,
                    subscription_id=acme_saas.id,
                )
            )
            await uow.commit()
        signer = DatabaseLicenseSigner(lambda: db.pool, clock.now)
        staff = Principal(PrincipalKind.STAFF, subject="provision-demo")
        for subscription, customer in ((acme_ramp, acme), (globex_sm, globex)):
            async with PostgresUnitOfWork(db) as uow:
                await issue_current_license(
                    uow, signer, subscription, customer, now, caller=staff, operation="demo"
                )
                await uow.commit()
        names = ", ".join(s.name for s in subscriptions)
        users = ", ".join(email for email, _, _ in DEMO_USERS)
        return (
            f"Demo data written: 4 customers, {len(subscriptions)} subscriptions ({names}),"
            f" {len(namespaces)} namespaces, 3 trials.\n"
            f"Portal users {users} sign in with the password {DEMO_PASSWORD!r} (demo only).\n"
            f"{globex_sm.name} (self-managed, 1 of 2 instances activated) has the activation"
            f" code {codes[globex_sm.name]}: try activateSubscription with it."
        )
    finally:
        await db.stop()


def run_demo(settings: Settings) -> int:
    """``provision demo``: migrate, seed, and print a staff and a portal token."""
    with database(settings) as dsn:
        asyncio.run(migrate(dsn))
        print(asyncio.run(seed_demo(dsn)))
        here = Settings(**{**settings.__dict__, "database_url": dsn})
        minutes = settings.token_lifetime_seconds // 60
        print(f"\nA staff token ({minutes} minutes; GraphiQL header Authorization: Bearer …):")
        issue_token(here, "STAFF", "demo:staff", [])
        print(f"\nA token for the portal user {DEMO_USERS[0][0]} ({minutes} minutes):")
        issue_token(here, None, None, [], user_email=DEMO_USERS[0][0])
        if settings.portal:
            print(
                f"\nThe customer portal, once `provision serve` runs: {settings.issuer}/portal/"
                f" (sign in as {DEMO_USERS[0][0]}, password {DEMO_PASSWORD!r})."
            )
    return 0

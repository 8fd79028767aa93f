"""The use-case handlers, built once by the composition root and handed to the resolvers."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from api.settings import Settings
from auth.licenses.keys import DatabaseLicenseSigner
from auth.rate_limit import FailureLimiter
from domain.errors import ClockNotForward, Forbidden, NotASandbox, NotFound, ValidationFailed
from domain.model.calendar import add_months
from domain.model.enums import Role
from domain.model.webhook import DEFAULT_ATTEMPTS
from domain.policy import Access, Resource, require_scope
from domain.ports import Clock, LicenseSigner, ServiceTokenSigner
from domain.principal import Principal, PrincipalKind
from domain.use_cases.activate_subscription import ActivateSubscriptionHandler
from domain.use_cases.cancel_license import CancelLicenseHandler
from domain.use_cases.cancel_subscription import CancelSubscriptionHandler
from domain.use_cases.change_dedicated_tenant import ChangeDedicatedTenantHandler
from domain.use_cases.change_subscription import ChangeSubscriptionHandler
from domain.use_cases.cloud_connector_access import CloudConnectorAccessHandler
from domain.use_cases.create_subscription import CreateSubscriptionHandler
from domain.use_cases.dedicated import DedicatedSettings, RetryTenant, TenantSweeps
from domain.use_cases.emails import Reminders, ReminderSettings
from domain.use_cases.fleet import Fleet
from domain.use_cases.issue_offline_license import IssueOfflineLicenseHandler
from domain.use_cases.link_namespace import LinkNamespaceHandler
from domain.use_cases.marketplace_offers import MarketplaceOffers
from domain.use_cases.partners import Partners
from domain.use_cases.renew_subscription import RenewSubscriptionHandler
from domain.use_cases.report_usage import ReportUsageHandler
from domain.use_cases.resolve_provision_event import ResolveProvisionEventHandler
from domain.use_cases.retry_provision_event import RetryProvisionEventHandler
from domain.use_cases.rotate_activation_code import RotateActivationCodeHandler
from domain.use_cases.start_self_managed_trial import StartSelfManagedTrialHandler
from domain.use_cases.transfer_subscription import ApplyDueTransfers, TransferSubscriptionHandler
from domain.use_cases.trials import Trials
from domain.use_cases.upload_usage_file import UploadUsageFileHandler
from domain.use_cases.upsert_namespace import NamespaceKeeping
from domain.use_cases.webhooks import WebhookEndpoints
from persistence.database import Database
from persistence.marketplace import PostgresMarketplaceInbox, PostgresOfferMappings
from persistence.repositories import PostgresCustomers
from persistence.sandbox_clocks import SandboxClocks, TenantUnitOfWork
from persistence.tenant_time import acting_at
from persistence.unit_of_work import PostgresUnitOfWork


@dataclass(frozen=True)
class MarketplaceCommands:
    """The staff's offer mapping and marketplace inbox (docs/marketplaces.md)."""

    offers: MarketplaceOffers
    offer_reads: PostgresOfferMappings
    inbox: PostgresMarketplaceInbox


@dataclass(frozen=True)
class Commands:
    create_subscription: CreateSubscriptionHandler
    cancel_subscription: CancelSubscriptionHandler
    renew_subscription: RenewSubscriptionHandler
    change_subscription: ChangeSubscriptionHandler
    rotate_activation_code: RotateActivationCodeHandler
    activate_subscription: ActivateSubscriptionHandler
    start_self_managed_trial: StartSelfManagedTrialHandler
    issue_offline_license: IssueOfflineLicenseHandler
    namespaces: LinkNamespaceHandler
    namespace_keeping: NamespaceKeeping
    trials: Trials
    retry_provision_event: RetryProvisionEventHandler
    retry_dedicated_tenant: RetryTenant
    change_dedicated_tenant: ChangeDedicatedTenantHandler
    resolve_provision_event: ResolveProvisionEventHandler
    failures: FailureLimiter
    """Failed-attempt limits for the credential-bearing mutations (activation)."""
    report_usage: ReportUsageHandler
    """Seat link: ``POST /api/v1/seat_links`` and ``reportUsage``."""
    upload_usage_file: UploadUsageFileHandler
    """``uploadUsageFile`` and ``provision usage upload``."""
    cancel_license: CancelLicenseHandler
    webhooks: WebhookEndpoints
    partners: Partners
    transfer_subscription: TransferSubscriptionHandler
    signer: LicenseSigner
    """The license signer the handlers share (the app loads its key at start-up)."""
    marketplaces: MarketplaceCommands
    cloud_connector_access: CloudConnectorAccessHandler | None = None
    """None when no service token signer was given (the key ring lives in the app)."""
    fleet: Fleet | None = None
    """Instance roles, retirement and replacement (always built by ``build``)."""
    instance_stale_days: int = 7
    """PROVISION_INSTANCE_STALE_DAYS: silence after which an instance stopped syncing."""
    sandbox: SandboxTime | None = None
    """Sandbox tenants' test clocks (docs/test-clock.md); the app sets it."""

    @classmethod
    def build(
        cls,
        db: Database,
        clock: Clock,
        signer: LicenseSigner | None = None,
        failures: FailureLimiter | None = None,
        service_tokens: ServiceTokenSigner | None = None,
        *,
        webhook_attempts: int = DEFAULT_ATTEMPTS,
        webhooks_allow_http_loopback: bool = False,
        max_attempts: int = 8,
        instance_stale_days: int = 7,
    ) -> Commands:
        def unit_of_work() -> PostgresUnitOfWork:
            return PostgresUnitOfWork(db)

        signer = signer or DatabaseLicenseSigner(lambda: db.pool, clock.now)
        receipts = (
            signer
            if isinstance(signer, DatabaseLicenseSigner)
            else DatabaseLicenseSigner(lambda: db.pool, clock.now)
        )

        return cls(
            create_subscription=CreateSubscriptionHandler(
                unit_of_work, clock, webhook_attempts=webhook_attempts
            ),
            cancel_subscription=CancelSubscriptionHandler(unit_of_work, clock, webhook_attempts),
            renew_subscription=RenewSubscriptionHandler(unit_of_work, clock, webhook_attempts),
            change_subscription=ChangeSubscriptionHandler(unit_of_work, clock, webhook_attempts),
            rotate_activation_code=RotateActivationCodeHandler(unit_of_work, clock),
            activate_subscription=ActivateSubscriptionHandler(
                unit_of_work, clock, signer, webhook_attempts
            ),
            issue_offline_license=IssueOfflineLicenseHandler(
                unit_of_work, clock, signer, webhook_attempts
            ),
            start_self_managed_trial=StartSelfManagedTrialHandler(
                unit_of_work, clock, webhook_attempts=webhook_attempts
            ),
            namespaces=LinkNamespaceHandler(unit_of_work, clock),
            namespace_keeping=NamespaceKeeping(unit_of_work, clock),
            trials=Trials(unit_of_work, clock, webhook_attempts=webhook_attempts),
            retry_provision_event=RetryProvisionEventHandler(unit_of_work, clock),
            retry_dedicated_tenant=RetryTenant(unit_of_work, clock),
            change_dedicated_tenant=ChangeDedicatedTenantHandler(unit_of_work, clock),
            resolve_provision_event=ResolveProvisionEventHandler(
                unit_of_work, clock, webhook_attempts
            ),
            report_usage=ReportUsageHandler(unit_of_work, clock, signer, webhook_attempts),
            upload_usage_file=UploadUsageFileHandler(unit_of_work, clock, receipts),
            cancel_license=CancelLicenseHandler(unit_of_work, clock, signer),
            webhooks=WebhookEndpoints(
                unit_of_work,
                clock,
                allow_http_loopback=webhooks_allow_http_loopback,
                delivery_attempts=webhook_attempts,
            ),
            partners=Partners(unit_of_work, clock),
            transfer_subscription=TransferSubscriptionHandler(unit_of_work, clock),
            signer=signer,
            marketplaces=MarketplaceCommands(
                offers=MarketplaceOffers(unit_of_work, PostgresOfferMappings(db), clock),
                offer_reads=PostgresOfferMappings(db),
                inbox=PostgresMarketplaceInbox(db, clock, max_attempts),
            ),
            cloud_connector_access=CloudConnectorAccessHandler(unit_of_work, clock, service_tokens)
            if service_tokens is not None
            else None,
            failures=failures or FailureLimiter(lambda: db.pool, timedelta(minutes=15), clock.now),
            fleet=Fleet(unit_of_work, clock, signer),
            instance_stale_days=instance_stale_days,
        )


# Sandbox tenants and their test clocks (docs/test-clock.md), shared by the app, the
# worker and the CLI.
#
# ``SandboxTime`` says which clock a request acts on (``offset_for``: a sandbox's when the
# caller acts for exactly one sandbox customer, zero for everyone else) and advances a
# sandbox's clock: it walks the days on which something of the tenant's is due, in order, and at
# each runs the worker's time-driven jobs for that tenant alone (``TenantUnitOfWork``) on a
# clock reading that moment - trials ending and reverting, channel transfers, Dedicated renewals
# and removals, reminder emails, stopped-syncing reminders - then stores the new offset. What
# time derives (a ramp segment's seats in the next license, a subscription's status, the
# reconciliation dates a seat link returns) follows from the tenant's clock itself. Ledger rows
# the jobs record are due at once in real time (``persistence.tenant_time``), so the workers
# send the emails and provisioning calls.

SANDBOX_HEADER = "x-provision-sandbox"
"""Staff name the sandbox customer (its global ID) whose clock a request reads."""

MAX_ADVANCE = timedelta(days=3660)
"""How far one advance may move a clock (ten years)."""


_DURATION = re.compile(
    r"P(?:(?P<years>\d{1,2})Y)?(?:(?P<months>\d{1,3})M)?(?:(?P<weeks>\d{1,3})W)?"
    r"(?:(?P<days>\d{1,4})D)?(?:T(?:(?P<hours>\d{1,5})H)?(?:(?P<minutes>\d{1,6})M)?"
    r"(?:(?P<seconds>\d{1,8})S)?)?"
)


@dataclass(frozen=True)
class Span:
    """How far to move a clock: calendar months (years are 12) and then a fixed time."""

    months: int = 0
    time: timedelta = timedelta(0)

    def after(self, instant: datetime) -> datetime:
        moved = add_months(instant.date(), self.months)
        return datetime.combine(moved, instant.timetz()) + self.time


def parse_duration(text: str) -> Span:
    """An ISO 8601 duration (``P1Y``, ``P2M10D``, ``PT36H``, ``P1W``) as a ``Span``; raises
    ValueError for anything else (fractions and negative durations included)."""
    found = _DURATION.fullmatch(text.strip()) if len(text) <= 40 else None
    if found is None or text.strip() in ("P", "PT") or text.strip().endswith("T"):
        raise ValueError(f"{text[:40]!r} is not an ISO 8601 duration such as P1Y, P30D or PT12H")
    part = {name: int(value or 0) for name, value in found.groupdict().items()}
    return Span(
        months=12 * part["years"] + part["months"],
        time=timedelta(
            weeks=part["weeks"],
            days=part["days"],
            hours=part["hours"],
            minutes=part["minutes"],
            seconds=part["seconds"],
        ),
    )


class FixedAt:
    """A Clock reading one instant: the moment an advance step runs the jobs at."""

    def __init__(self, instant: datetime) -> None:
        self._instant = instant

    def now(self) -> datetime:
        return self._instant

    def today(self) -> date:
        return self._instant.date()


@dataclass(frozen=True)
class Advanced:
    """An advanced sandbox: its clock now, and the moments its jobs ran at."""

    customer_id: uuid.UUID
    now: datetime
    steps: tuple[datetime, ...]


class SandboxTime:
    def __init__(self, db: Database, settings: Settings, base: Clock) -> None:
        self.db = db
        self.settings = settings
        self.base = base
        self.clocks = SandboxClocks(db, development_mode=settings.development_mode)

    # Which clock a caller reads.

    async def offset_for(self, principal: Principal, named: uuid.UUID | None = None) -> timedelta:
        """The offset of the sandbox ``principal`` acts for: a portal user's only customer,
        an instance's subscription's customer, the sandbox staff name (``named``)."""
        if principal.kind is PrincipalKind.PORTAL_USER and principal.subject:
            return await self.clocks.offset_of(
                await self.clocks.customers_of_user(principal.subject)
            )
        if principal.kind is PrincipalKind.INSTANCE and principal.subscription_id is not None:
            customer = await self.clocks.customer_of_subscription(principal.subscription_id)
            return await self.clocks.offset_of([customer] if customer else [])
        if principal.kind is PrincipalKind.STAFF and named is not None:
            return await self.clocks.offset_of([named])
        return timedelta(0)

    async def offset_of_customer(self, customer_id: uuid.UUID | None) -> timedelta:
        return await self.clocks.offset_of([customer_id] if customer_id else [])

    # Moving a clock.

    async def now_of(self, customer_id: uuid.UUID) -> datetime:
        state = await self.clocks.state(customer_id)
        offset = state.offset if state is not None and state.sandbox else timedelta(0)
        return self.base.now() + offset

    async def _authorize(self, principal: Principal, customer_id: uuid.UUID) -> None:
        """Staff, or the customer's owner; anyone else finds no such customer (a member who
        is no owner is refused)."""
        require_scope(principal, Resource.CUSTOMERS, Access.WRITE)
        if principal.kind is PrincipalKind.STAFF:
            return
        role = None
        if principal.kind is PrincipalKind.PORTAL_USER and principal.subject:
            role = await PostgresCustomers(self.db).role_of(customer_id, principal.subject)
        if role is None:
            raise NotFound("no such customer", path=("customerId",))
        if role is not Role.OWNER:
            raise Forbidden("only the sandbox's owner (or staff) moves its clock")

    async def advance(
        self,
        principal: Principal,
        customer_id: uuid.UUID,
        *,
        to: datetime | None = None,
        by: Span | None = None,
    ) -> Advanced:
        """Move the sandbox's clock to ``to`` (or ``by`` ahead), running on the way, in
        order, everything time drives for that tenant (module docstring)."""
        await self._authorize(principal, customer_id)
        if (to is None) == (by is None):
            raise ValidationFailed("give exactly one of `to` and `by`", path=("to",))
        state = await self.clocks.state(customer_id)
        if state is None:
            raise NotFound("no such customer", path=("customerId",))
        if not state.sandbox:
            raise NotASandbox(
                "the customer is no sandbox: only a sandbox's test clock moves (mark it with"
                " `provision clock sandbox`, or run with PROVISION_DEVELOPMENT_MODE)",
                path=("customerId",),
            )
        current = self.base.now() + state.offset
        if to is not None:
            if to.tzinfo is None or to.utcoffset() is None:
                raise ValidationFailed(
                    "`to` needs a time zone (2029-01-01T00:00:00Z)", path=("to",)
                )
            target = to.astimezone(UTC)
            field = "to"
        else:
            assert by is not None
            target = by.after(current)
            field = "by"
        if target < current:
            raise ClockNotForward(
                f"a test clock only moves forwards: it reads {current.isoformat()}",
                path=(field,),
            )
        if target - current > MAX_ADVANCE:
            raise ValidationFailed("one advance moves a clock at most ten years", path=(field,))
        return await self.run_until(customer_id, current, target)

    async def run_until(
        self, customer_id: uuid.UUID, current: datetime, target: datetime
    ) -> Advanced:
        """Run the tenant's jobs at each moment something is due in (current, target], then
        at ``target``, and store the clock there (no authorization: the CLI and the app's
        mutation check first)."""
        settings = self.settings
        days = await self.clocks.dates_of(
            customer_id,
            current.date(),
            target.date(),
            lead_days=(
                settings.mail_trial_ending_days,
                settings.mail_subscription_expiring_days,
                settings.dedicated_renewal_days,
            ),
            stale_days=settings.instance_stale_days,
        )
        steps = [
            moment
            for moment in (datetime.combine(day, time(), UTC) for day in days)
            if current < moment < target
        ]
        steps.append(target)
        for moment in steps:
            await self.run_at(customer_id, moment)
        await self.clocks.move(customer_id, max(target - self.base.now(), timedelta(0)))
        return Advanced(customer_id, target, tuple(steps))

    async def run_at(self, customer_id: uuid.UUID, moment: datetime) -> None:
        """The worker's time-driven jobs for one tenant, on a clock reading ``moment``."""
        settings = self.settings
        clock = FixedAt(moment)

        def unit_of_work() -> TenantUnitOfWork:
            return TenantUnitOfWork(self.db, customer_id)

        with acting_at(moment - self.base.now()):
            await Trials(unit_of_work, clock, webhook_attempts=settings.webhook_attempts).expire(
                moment.date()
            )
            await ApplyDueTransfers(unit_of_work, clock)()
            await TenantSweeps(
                unit_of_work,
                clock,
                DedicatedSettings(
                    max_attempts=settings.ledger_max_attempts,
                    renewal_days=settings.dedicated_renewal_days,
                ),
            )()
            reminders = Reminders(
                unit_of_work,
                clock,
                ReminderSettings(
                    trial_ending_days=settings.mail_trial_ending_days,
                    subscription_expiring_days=settings.mail_subscription_expiring_days,
                    max_attempts=settings.ledger_max_attempts,
                    instance_stale_days=settings.instance_stale_days,
                ),
            )
            await reminders.trials_ending_soon()
            await reminders.subscriptions_expiring()
            await reminders.instances_stopped_syncing()

    async def sweep(self) -> int:
        """The worker's periodic job: every sandbox whose clock is ahead runs its jobs at its
        own now (real tenants are the ordinary jobs'). How many sandboxes it ran."""
        sandboxes = await self.clocks.sandboxes()
        for sandbox in sandboxes:
            await self.run_at(sandbox.customer_id, self.base.now() + sandbox.offset)
        return len(sandboxes)

"""The use-case handlers, built once by the composition root and handed to the resolvers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from auth.licenses.keys import DatabaseLicenseSigner
from auth.rate_limit import FailureLimiter
from domain.model.webhook import DEFAULT_ATTEMPTS
from domain.ports import Clock, LicenseSigner, ServiceTokenSigner
from domain.use_cases.activate_subscription import ActivateSubscriptionHandler
from domain.use_cases.cancel_license import CancelLicenseHandler
from domain.use_cases.cancel_subscription import CancelSubscriptionHandler
from domain.use_cases.change_dedicated_tenant import ChangeDedicatedTenantHandler
from domain.use_cases.change_subscription import ChangeSubscriptionHandler
from domain.use_cases.cloud_connector_access import CloudConnectorAccessHandler
from domain.use_cases.create_subscription import CreateSubscriptionHandler
from domain.use_cases.dedicated import RetryTenant
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
from domain.use_cases.transfer_subscription import TransferSubscriptionHandler
from domain.use_cases.trials import Trials
from domain.use_cases.upload_usage_file import UploadUsageFileHandler
from domain.use_cases.upsert_namespace import NamespaceKeeping
from domain.use_cases.webhooks import WebhookEndpoints
from persistence.database import Database
from persistence.marketplace import PostgresMarketplaceInbox, PostgresOfferMappings
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

"""Repositories: the domain's storage ports on PostgreSQL. They take and return domain
entities; one module per aggregate."""

from __future__ import annotations

from persistence.repositories.customers import PostgresCustomers
from persistence.repositories.dedicated import PostgresDedicatedTenants
from persistence.repositories.namespaces import PostgresNamespaces, PostgresTrials
from persistence.repositories.partners import PostgresChannelTransfers, PostgresPartners
from persistence.repositories.records import PostgresAuditLog, PostgresIdempotency
from persistence.repositories.self_managed import (
    PostgresInstances,
    PostgresLicenses,
    PostgresUsageReports,
    report_key,
)
from persistence.repositories.subscriptions import PostgresActivationCodes, PostgresSubscriptions
from persistence.repositories.webhooks import PostgresWebhookDeliveries, PostgresWebhookEndpoints

__all__ = [
    "PostgresActivationCodes",
    "PostgresAuditLog",
    "PostgresChannelTransfers",
    "PostgresCustomers",
    "PostgresDedicatedTenants",
    "PostgresIdempotency",
    "PostgresInstances",
    "PostgresLicenses",
    "PostgresNamespaces",
    "PostgresPartners",
    "PostgresSubscriptions",
    "PostgresTrials",
    "PostgresUsageReports",
    "PostgresWebhookDeliveries",
    "PostgresWebhookEndpoints",
    "report_key",
]

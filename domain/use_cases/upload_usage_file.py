"""uploadUsageFile: an offline instance's license usage file (protocols-next §1), recorded like
seat link (docs/usage-file.md).

The file's only authenticated part is its license key (§1.3): it must be a key Provision issued
(matched by ``license_key_digest``, as seat link does) for a subscription of the caller's
customer - a foreign key reads as an unknown one (NOT_FOUND), so nobody learns which keys exist.
Each row becomes a usage report (source ``USAGE_FILE``, the license named) stored once per
(license, recorded_at): uploading the same file again, or a later export of the same term,
records only the rows not seen before, and says how many were known. Counts edited in the file
cannot be detected; dates of another term, rows outside the term or in the future are refused.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from domain.errors import LicenseKeyUnknown, NotFound
from domain.model.audit import AuditEntry
from domain.model.license import License
from domain.model.subscription import Subscription
from domain.model.usage import UsageReport, UsageSource
from domain.model.usage_file import UsageFile, check_against_license, parse_usage_file
from domain.policy import Access, Resource, require_scope
from domain.ports import Clock, ReceiptSigner, UnitOfWork
from domain.principal import Principal
from domain.use_cases.emails import seat_overage
from domain.use_cases.subscription_changes_shared import may_act_on

OPERATION = "uploadUsageFile"
RECEIPT_TYPE = "provision.usage_file_receipt.v1"
_UNKNOWN = "no license Provision issued has this file's key, or it is not yours"


@dataclass(frozen=True)
class UploadUsageFile:
    content: str
    """The CSV text, exactly as GitLab exported it."""
    customer_id: uuid.UUID | None = None
    """The customer the file must belong to (staff uploading on a customer's behalf)."""


@dataclass(frozen=True)
class UsageFileUploaded:
    subscription: Subscription
    license: License
    usage_file: UsageFile
    rows_recorded: int
    """Rows stored by this upload."""
    rows_known: int
    """Rows already stored (an earlier upload of the file, or of an overlapping export)."""
    received_at: datetime
    receipt: str | None
    """The receipt (canonical JSON), when a receipt signer is configured."""
    receipt_signature: bytes | None


def reports_of(
    usage_file: UsageFile, subscription_id: uuid.UUID, license_id: uuid.UUID
) -> list[UsageReport]:
    """One report per row, oldest first; ``max_historical_users`` is the highest count up to
    the row, as GitLab's seat link computes it over the term's history."""
    reports = []
    highest = 0
    for row in sorted(usage_file.rows, key=lambda r: r.recorded_at):
        highest = max(highest, row.billable_users)
        reports.append(
            UsageReport(
                subscription_id=subscription_id,
                billable_users=row.billable_users,
                max_historical_users=highest,
                reported_at=row.recorded_at,
                source=UsageSource.USAGE_FILE,
                license_id=license_id,
            )
        )
    return reports


def receipt_document(
    usage_file: UsageFile,
    subscription: Subscription,
    license_id: uuid.UUID,
    recorded: int,
    known: int,
    received_at: datetime,
) -> str:
    """The receipt's JSON: sorted keys, no spaces, so its bytes are what the signature covers."""
    rows = sorted(row.recorded_at for row in usage_file.rows)
    return json.dumps(
        {
            "type": RECEIPT_TYPE,
            "file_sha256": usage_file.sha256,
            "license_id": str(license_id),
            "subscription": subscription.name,
            "rows_in_file": len(usage_file.rows),
            "rows_recorded": recorded,
            "rows_known": known,
            "first_recorded_at": rows[0].isoformat(),
            "last_recorded_at": rows[-1].isoformat(),
            "max_billable_users": usage_file.max_billable_users,
            "received_at": received_at.isoformat(),
        },
        sort_keys=True,
        separators=(",", ":"),
    )


class UploadUsageFileHandler:
    """Verify a usage file against the license its key names and record its rows."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        clock: Clock,
        receipts: ReceiptSigner | None = None,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._receipts = receipts

    async def __call__(self, principal: Principal, command: UploadUsageFile) -> UsageFileUploaded:
        """Needs ``usage:write``; a portal user must be an owner or admin of the customer.

        Raises ``ValidationFailed`` (path ``content``) for a malformed file or one that cannot
        be true of its license, ``LicenseKeyUnknown`` (NOT_FOUND) for a key Provision did not
        issue or one of another customer's, ``Forbidden`` for a viewer; nothing is stored then.
        """
        require_scope(principal, Resource.USAGE, Access.WRITE)
        usage_file = parse_usage_file(command.content)
        async with self._unit_of_work() as uow:
            license_ = await uow.licenses.find_by_key(usage_file.license_key)
            if license_ is None:
                raise LicenseKeyUnknown(_UNKNOWN, path=("content",))
            subscription = await uow.subscriptions.get(license_.subscription_id)
            assert subscription is not None
            if command.customer_id is not None and command.customer_id != subscription.customer_id:
                raise LicenseKeyUnknown(_UNKNOWN, path=("content",))
            try:
                await may_act_on(uow, principal, subscription)
            except NotFound:
                raise LicenseKeyUnknown(_UNKNOWN, path=("content",)) from None
            now = self._clock.now()
            check_against_license(usage_file, license_.starts_at, license_.expires_at, now)
            reports = reports_of(usage_file, subscription.id, license_.id)
            recorded = await uow.usage_reports.add_many_once(reports)
            known = len(reports) - recorded
            await seat_overage(uow, subscription, usage_file.max_billable_users, now)
            await uow.audit.record(
                AuditEntry.of(
                    principal,
                    OPERATION,
                    "License",
                    license_.id,
                    now,
                    after={
                        "subscription": subscription.name,
                        "fileSha256": usage_file.sha256,
                        "rowsRecorded": recorded,
                        "rowsKnown": known,
                    },
                )
            )
            await uow.commit()
        receipt = signature = None
        if self._receipts is not None:
            receipt = receipt_document(usage_file, subscription, license_.id, recorded, known, now)
            signature = await self._receipts.sign_document(receipt.encode())
        return UsageFileUploaded(
            subscription=subscription,
            license=license_,
            usage_file=usage_file,
            rows_recorded=recorded,
            rows_known=known,
            received_at=now,
            receipt=receipt,
            receipt_signature=signature,
        )

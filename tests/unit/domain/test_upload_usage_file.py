"""uploadUsageFile on in-memory ports: who may upload which file, what is recorded, what a
repeat records, and the receipt."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from domain.errors import Forbidden, LicenseKeyUnknown, ValidationFailed
from domain.model.customer import Customer, Membership
from domain.model.enums import Deployment, LicensingMode, Plan, Role
from domain.model.license import License, Licensee
from domain.model.usage import UsageSource
from domain.policy import grantable
from domain.principal import Principal, PrincipalKind
from domain.use_cases.upload_usage_file import (
    RECEIPT_TYPE,
    UploadUsageFile,
    UploadUsageFileHandler,
    UsageFileUploaded,
)

from builders import RAMP_START, YEAR_2, subscription
from fakes import FixedClock
from memory import MemoryUnitOfWork, Store
from usage_files import usage_file

STAFF = Principal(PrincipalKind.STAFF, subject="ops", scopes=grantable(PrincipalKind.STAFF))
KEY = '{"licensee": "Acme", "serial": 1}\n'


def portal(subject: str) -> Principal:
    return Principal(
        PrincipalKind.PORTAL_USER, subject=subject, scopes=grantable(PrincipalKind.PORTAL_USER)
    )


def day(n: int) -> datetime:
    return datetime.combine(RAMP_START + timedelta(days=n), datetime.min.time(), UTC).replace(
        hour=12, second=3
    )


class SigningFake:
    def __init__(self) -> None:
        self.signed: list[bytes] = []

    async def sign_document(self, document: bytes) -> bytes:
        self.signed.append(document)
        return b"signature-of-" + document[:8]


class World:
    def __init__(self) -> None:
        self.store = Store()
        self.customer = Customer("Acme", "Ada", "ada@acme.test", datetime(2024, 1, 1, tzinfo=UTC))
        self.other = Customer(
            "Umbrella", "Al", "al@umbrella.test", datetime(2024, 1, 1, tzinfo=UTC)
        )
        self.sub = subscription(customer_id=self.customer.id, deployment=Deployment.SELF_MANAGED)
        for customer in (self.customer, self.other):
            self.store.customers[customer.id] = customer
        self.store.subscriptions[self.sub.id] = self.sub
        self.store.memberships += [
            Membership(self.customer.id, "ada", Role.ADMIN),
            Membership(self.customer.id, "vic", Role.VIEWER),
            Membership(self.other.id, "al", Role.OWNER),
        ]
        self.license = License(
            subscription_id=self.sub.id,
            mode=LicensingMode.OFFLINE_CLOUD,
            plan=Plan.PREMIUM,
            seats=100,
            starts_at=RAMP_START,
            expires_at=YEAR_2,
            licensee=Licensee("Ada", "ada@acme.test", "Acme"),
            license_key=KEY,
            created_at=day(0),
        )
        self.store.licenses.append(self.license)
        self.clock = FixedClock.on(RAMP_START + timedelta(days=40))
        self.receipts = SigningFake()

    async def upload(
        self, text: str, principal: Principal = STAFF, **fields: object
    ) -> UsageFileUploaded:
        handler = UploadUsageFileHandler(
            lambda: MemoryUnitOfWork(self.store), self.clock, self.receipts
        )
        return await handler(principal, UploadUsageFile(text, **fields))  # type: ignore[arg-type]


def made(rows: list[tuple[datetime, int]], key: str = KEY, **fields: object) -> str:
    options: dict[str, object] = {
        "starts_on": RAMP_START,
        "ends_on": YEAR_2,
        "generated_at": day(39),
    }
    options.update(fields)
    return usage_file(key, rows, **options)  # type: ignore[arg-type]


ROWS = [(day(1), 80), (day(2), 120), (day(3), 90)]


async def test_each_row_is_recorded_as_a_usage_report_of_the_license() -> None:
    world = World()
    uploaded = await world.upload(made(ROWS), portal("ada"))
    assert (uploaded.rows_recorded, uploaded.rows_known) == (3, 0)
    reports = world.store.usage_reports
    assert [(r.reported_at, r.billable_users, r.max_historical_users) for r in reports] == [
        (day(1), 80, 80),
        (day(2), 120, 120),
        (day(3), 90, 120),
    ]
    assert {(r.source, r.license_id, r.instance_id) for r in reports} == {
        (UsageSource.USAGE_FILE, world.license.id, None)
    }
    [entry] = world.store.audit
    assert (entry.action, entry.object_id, entry.after["rowsRecorded"]) == (
        "uploadUsageFile",
        world.license.id,
        3,
    )


async def test_the_same_file_again_and_an_overlapping_export_record_only_new_rows() -> None:
    world = World()
    await world.upload(made(ROWS))
    again = await world.upload(made(ROWS))
    assert (again.rows_recorded, again.rows_known) == (0, 3)
    later = await world.upload(made([*ROWS, (day(4), 95), (day(5), 99)]))
    assert (later.rows_recorded, later.rows_known) == (2, 3)
    assert len(world.store.usage_reports) == 5


async def test_an_unknown_key_is_not_found_and_records_nothing() -> None:
    world = World()
    with pytest.raises(LicenseKeyUnknown) as caught:
        await world.upload(made(ROWS, key='{"forged": true}\n'), portal("ada"))
    assert caught.value.code == "NOT_FOUND"
    assert world.store.usage_reports == []


async def test_another_customers_file_reads_as_unknown_for_its_members_and_for_staff() -> None:
    world = World()
    with pytest.raises(LicenseKeyUnknown, match="no license Provision issued"):
        await world.upload(made(ROWS), portal("al"))
    with pytest.raises(LicenseKeyUnknown, match="no license Provision issued"):
        await world.upload(made(ROWS), STAFF, customer_id=world.other.id)
    assert world.store.usage_reports == []
    assert (await world.upload(made(ROWS), STAFF, customer_id=world.customer.id)).rows_recorded


async def test_viewers_may_not_upload_and_tokens_need_usage_write() -> None:
    world = World()
    with pytest.raises(Forbidden):
        await world.upload(made(ROWS), portal("vic"))
    reader = Principal(PrincipalKind.PORTAL_USER, subject="ada", scopes=frozenset({"usage:read"}))
    with pytest.raises(Forbidden, match="usage:write"):
        await world.upload(made(ROWS), reader)
    assert world.store.usage_reports == []


async def test_a_tampered_term_or_rows_outside_it_are_refused_before_anything_is_stored() -> None:
    world = World()
    with pytest.raises(ValidationFailed, match="License End Date 2026-01-15 is not the"):
        await world.upload(made(ROWS, ends_on=date(2026, 1, 15)))
    with pytest.raises(ValidationFailed, match=r"row 9: .* is outside the license term"):
        await world.upload(made([(day(-1), 1), *ROWS]))
    with pytest.raises(ValidationFailed, match=r"row 11: .* is in the future"):
        await world.upload(made([*ROWS[:2], (day(41), 1)]))
    assert world.store.usage_reports == []
    assert world.store.audit == []


async def test_the_receipt_names_the_file_the_license_and_what_was_recorded() -> None:
    world = World()
    text = made(ROWS)
    uploaded = await world.upload(text)
    assert uploaded.receipt is not None
    receipt = json.loads(uploaded.receipt)
    assert receipt == {
        "type": RECEIPT_TYPE,
        "file_sha256": uploaded.usage_file.sha256,
        "license_id": str(world.license.id),
        "subscription": world.sub.name,
        "rows_in_file": 3,
        "rows_recorded": 3,
        "rows_known": 0,
        "first_recorded_at": day(1).isoformat(),
        "last_recorded_at": day(3).isoformat(),
        "max_billable_users": 120,
        "received_at": world.clock.now().isoformat(),
    }
    assert world.receipts.signed == [uploaded.receipt.encode()]
    assert uploaded.receipt_signature == b"signature-of-" + uploaded.receipt.encode()[:8]

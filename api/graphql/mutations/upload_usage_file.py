"""uploadUsageFile: an offline instance's license usage file, as GitLab exported it
(docs/usage-file.md), recorded like seat link."""

from __future__ import annotations

import base64
import datetime
from typing import Annotated

import strawberry

from api.graphql.context import Info
from api.graphql.mutations.outcome import outcome
from api.graphql.types.mutation_error import MutationError
from api.graphql.types.nodes import LicenseNode, SubscriptionNode, license_node, subscription_node
from api.ids import parse_typed_id
from domain.use_cases.upload_usage_file import UploadUsageFile

RECEIPT_ALGORITHM = "RSA-SHA256"


@strawberry.input(
    description="A license usage file (Admin → Subscription → Export license usage file)."
)
class UploadUsageFileInput:
    content: str = strawberry.field(
        description="The file's text (`license_usage.csv`), exactly as GitLab exported it: CSV,"
        " not base64. Opening it in a spreadsheet program first rewrites its dates."
    )
    customer_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The customer the file must belong to (staff acting for a customer); a"
        " file of another customer's license is then NOT_FOUND.",
    )


@strawberry.type(
    description="Proof of reporting: `document` is the exact JSON signed; verify `signature`"
    " with Provision's license public key (`openssl dgst -sha256 -verify`, docs/usage-file.md)."
)
class UsageFileReceipt:
    document: str = strawberry.field(
        description="The receipt: file_sha256, license_id, subscription, rows_in_file,"
        " rows_recorded, rows_known, first/last_recorded_at, max_billable_users, received_at."
    )
    signature: str = strawberry.field(description="The signature of `document`'s bytes, base64.")
    algorithm: str = strawberry.field(description="Always `RSA-SHA256` (PKCS #1 v1.5).")


@strawberry.type(description="What a usage file recorded, or why it was refused.")
class UploadUsageFilePayload:
    subscription: SubscriptionNode | None = strawberry.field(
        description="The subscription the file's license belongs to."
    )
    license: LicenseNode | None = strawberry.field(description="The license whose key it carries.")
    rows_in_file: int = strawberry.field(description="Usage rows the file holds.")
    rows_recorded: int = strawberry.field(description="Rows this upload stored.")
    rows_known: int = strawberry.field(
        description="Rows stored before (the same file again, or an overlapping export)."
    )
    max_billable_users: int | None = strawberry.field(
        description="The highest billable user count in the file."
    )
    generated_at: datetime.datetime | None = strawberry.field(
        description="When GitLab exported it (as the file says; UTC)."
    )
    receipt: UsageFileReceipt | None = strawberry.field(description="The signed receipt.")
    errors: list[MutationError] = strawberry.field(description="Empty on success.")


async def upload_usage_file(
    info: Info,
    input: Annotated[UploadUsageFileInput, strawberry.argument(description="The file.")],
) -> UploadUsageFilePayload:
    ctx = info.context
    uploaded, errors = await outcome(
        lambda: ctx.commands.upload_usage_file(
            ctx.principal,
            UploadUsageFile(
                content=input.content,
                customer_id=parse_typed_id(input.customer_id, "Customer", path=("customerId",))
                if input.customer_id is not None
                else None,
            ),
        )
    )
    if uploaded is None:
        return UploadUsageFilePayload(
            subscription=None,
            license=None,
            rows_in_file=0,
            rows_recorded=0,
            rows_known=0,
            max_billable_users=None,
            generated_at=None,
            receipt=None,
            errors=errors,
        )
    view = await ctx.loaders.licenses.load(uploaded.license.id)
    receipt = None
    if uploaded.receipt is not None and uploaded.receipt_signature is not None:
        receipt = UsageFileReceipt(
            document=uploaded.receipt,
            signature=base64.b64encode(uploaded.receipt_signature).decode("ascii"),
            algorithm=RECEIPT_ALGORITHM,
        )
    return UploadUsageFilePayload(
        subscription=subscription_node(uploaded.subscription, ctx),
        license=license_node(view) if view is not None else None,
        rows_in_file=len(uploaded.usage_file.rows),
        rows_recorded=uploaded.rows_recorded,
        rows_known=uploaded.rows_known,
        max_billable_users=uploaded.usage_file.max_billable_users,
        generated_at=uploaded.usage_file.generated_at,
        receipt=receipt,
        errors=[],
    )

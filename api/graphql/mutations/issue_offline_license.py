"""issueOfflineLicense: the license file for an offline-cloud, legacy or Dedicated subscription."""

from __future__ import annotations

from typing import Annotated

import strawberry

from api.graphql.context import Info
from api.graphql.mutations.outcome import outcome
from api.graphql.types.mutation_error import MutationError
from api.graphql.types.nodes import LicenseNode, license_node
from api.ids import global_id, parse_typed_id
from domain.use_cases.issue_offline_license import IssueOfflineLicense


@strawberry.input(description="Which subscription's license file.")
class IssueOfflineLicenseInput:
    subscription_id: strawberry.ID = strawberry.field(description="The subscription's global ID.")


@strawberry.type(description="The license file, or why there is none.")
class IssueOfflineLicensePayload:
    license: LicenseNode | None = strawberry.field(description="The license.")
    license_key: str | None = strawberry.field(
        description="The file's content (a `.gitlab-license`); unchanged while its content is."
    )
    download_path: str | None = strawberry.field(
        description="GET it with the same token to download it as a file."
    )
    errors: list[MutationError] = strawberry.field(description="Empty on success.")


async def issue_offline_license(
    info: Info,
    input: Annotated[
        IssueOfflineLicenseInput, strawberry.argument(description="Which subscription.")
    ],
) -> IssueOfflineLicensePayload:
    ctx = info.context
    issued, errors = await outcome(
        lambda: ctx.commands.issue_offline_license(
            ctx.principal,
            IssueOfflineLicense(
                parse_typed_id(input.subscription_id, "Subscription", path=("subscriptionId",))
            ),
        )
    )
    if issued is None:
        return IssueOfflineLicensePayload(
            license=None, license_key=None, download_path=None, errors=errors
        )
    view = await ctx.loaders.licenses.load(issued.license.id)
    return IssueOfflineLicensePayload(
        license=license_node(view) if view is not None else None,
        license_key=issued.license.license_key,
        download_path=f"/api/v1/licenses/{global_id('License', issued.license.id)}/download",
        errors=[],
    )

"""GitLab's ``cloudConnectorAccess`` query (protocols-next §2.2-2.3), in GitLab's shape: the
instance's hourly (older: daily) sync of its service token and available services. No token is
needed: the license key is the credential."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from api.graphql.context import Info
from api.graphql.errors import api_error
from domain.errors import DomainError
from domain.model.cloud_connector import AvailableService
from domain.use_cases.cloud_connector_access import CloudConnectorAccess as AccessCommand

INSTANCE_ID_HEADER = "x-gitlab-instance-id"


@strawberry.type(description="A signed token for the cloud services (the AI gateway).")
class CloudConnectorServiceToken:
    token: str = strawberry.field(description="An RS256 JWT, verifiable through our JWKS.")
    expires_at: int = strawberry.field(
        description="When it expires, in seconds since the epoch (every GitLab version reads"
        " this; newer ones also read ISO 8601)."
    )


@strawberry.type(description="A cloud service and what it needs.")
class CloudConnectorService:
    name: str = strawberry.field(description="The service, like `code_suggestions`.")
    service_start_time: str | None = strawberry.field(
        description="From when it needs an add-on (ISO 8601); null: free."
    )
    bundled_with: list[str] = strawberry.field(
        description="The add-ons that unlock it (`duo_pro`, `duo_enterprise`) the license holds."
    )


@strawberry.type(description="What an online cloud license may reach through Cloud Connector.")
class CloudConnectorAccess:
    service_token: CloudConnectorServiceToken | None = strawberry.field(
        description="The instance's service token; null revokes the stored ones."
    )
    available_services: list[CloudConnectorService] = strawberry.field(
        description="The services the license may use (free ones included)."
    )
    catalog: JSON | None = strawberry.field(
        description="The newest clients' gitlab-cloud-connector catalog; not served (null)."
    )


def _service(service: AvailableService) -> CloudConnectorService:
    start = service.start
    return CloudConnectorService(
        name=service.name,
        service_start_time=None
        if start is None
        else datetime.combine(start, time(), tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        bundled_with=list(service.bundled_with),
    )


async def cloud_connector_access(
    info: Info,
    license_key: Annotated[
        str, strawberry.argument(description="The instance's license key (`License#data`).")
    ],
    gitlab_version: Annotated[
        str | None, strawberry.argument(description="The instance's GitLab version.")
    ] = None,
) -> CloudConnectorAccess | None:
    ctx = info.context
    handler = ctx.commands.cloud_connector_access
    assert handler is not None, "the app builds its Commands with a service token signer"
    request = ctx.request
    instance = request.headers.get(INSTANCE_ID_HEADER) if request is not None else None
    try:
        grant = await handler(AccessCommand(license_key, gitlab_version, instance))
    except DomainError as refused:
        # GitLab logs the joined top-level errors and keeps what it had.
        raise api_error(refused) from None
    return CloudConnectorAccess(
        service_token=CloudConnectorServiceToken(
            token=grant.token, expires_at=int(grant.access.expires_at.timestamp())
        ),
        available_services=[_service(s) for s in grant.access.services],
        catalog=None,
    )

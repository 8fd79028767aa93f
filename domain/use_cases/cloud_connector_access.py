"""cloudConnectorAccess (protocols-next §2): a GitLab instance with an online cloud license
asks for its service token and the services it may reach. The license key is the credential."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from domain.errors import LicenseKeyUnknown, ValidationFailed
from domain.model.cloud_connector import (
    REALM,
    ServiceAccess,
    check_licence_for_access,
    service_access,
)
from domain.model.instance import parse_instance_identifier
from domain.ports import Clock, ServiceTokenSigner, UnitOfWork


@dataclass(frozen=True)
class CloudConnectorAccess:
    license_key: str
    gitlab_version: str | None = None
    instance_identifier: str | None = None
    """``X-Gitlab-Instance-Id``: the UUID the instance sends to the AI gateway as well."""


@dataclass(frozen=True)
class CloudConnectorGrant:
    token: str
    access: ServiceAccess


class CloudConnectorAccessHandler:
    def __init__(
        self, unit_of_work: Callable[[], UnitOfWork], clock: Clock, signer: ServiceTokenSigner
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._signer = signer

    async def __call__(self, command: CloudConnectorAccess) -> CloudConnectorGrant:
        """The token and services for the license whose key is sent.

        Raises ``LicenseKeyUnknown`` for a key Provision did not issue, ``LicenseNotOnlineCloud``
        for a legacy, offline or cancelled one, ``LicenseExpired`` past the grace period, and
        ``ValidationFailed`` when the instance cannot be told (the token's subject).
        """
        sent = (
            parse_instance_identifier(command.instance_identifier)
            if command.instance_identifier
            else None
        )
        now = self._clock.now()
        async with self._unit_of_work() as uow:
            license_ = await uow.licenses.find_by_key(command.license_key)
            if license_ is None:
                raise LicenseKeyUnknown("The license key is invalid", path=("licenseKey",))
            check_licence_for_access(license_, now.date())
            instances = await uow.instances.for_subscription(license_.subscription_id)
        identifier = sent
        if identifier is None:
            # Older clients send no Cloud Connector headers: the activated instance, if one.
            if len(instances) != 1:
                raise ValidationFailed(
                    "send the X-Gitlab-Instance-Id header", path=("instanceIdentifier",)
                )
            identifier = instances[0].instance_identifier
        access = service_access(license_, now)
        claims: dict[str, object] = {
            "aud": list(access.audiences),
            "sub": identifier,
            "iat": int(access.issued_at.timestamp()),
            "nbf": int(access.not_before.timestamp()),
            "exp": int(access.expires_at.timestamp()),
            "jti": str(uuid.uuid4()),
            "gitlab_realm": REALM,
            "scopes": list(access.scopes),
            "duo_seat_count": access.duo_seats,
            "gitlab_instance_id": identifier,
        }
        return CloudConnectorGrant(await self._signer.sign(claims), access)

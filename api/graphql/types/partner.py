"""Partner (an organisation that sells to its own customers), its list, what the viewer may do
on a subscription (the channel policy's decisions), and channel transfers."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

import strawberry

from api.graphql.enums import (
    Channel,
    ChannelTransferStatus,
    ErrorCode,
    PartnerKind,
    SubscriptionAction,
    api_enum,
)
from api.graphql.types.node import PageInfo
from domain.errors import InvalidId
from domain.model.channel_policy import Decision
from domain.model.channel_transfer import ChannelTransfer
from domain.model.partner import Partner

_CURSOR_PREFIX = "partner:"


@strawberry.type(name="Partner", description="An organisation that sells to its own customers.")
class PartnerType:
    entity: strawberry.Private[Partner]

    @strawberry.field(description="The partner id subscriptions and partner tokens carry.")
    def id(self) -> str:
        return self.entity.id

    @strawberry.field(description="The partner's name, as customers are told it.")
    def name(self) -> str:
        return self.entity.name

    @strawberry.field(description="Reseller, distributor or marketplace.")
    def kind(self) -> PartnerKind:
        return api_enum(PartnerKind, self.entity.kind)

    @strawberry.field(description="When the partner was registered (or first met on a sale).")
    def created_at(self) -> datetime:
        return self.entity.created_at


def partner_type(partner: Partner) -> PartnerType:
    return PartnerType(entity=partner)


def partner_cursor(partner_id: str) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{partner_id}".encode()).decode()


def parse_partner_cursor(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        decoded = base64.urlsafe_b64decode(value.encode("ascii")).decode()
    except (binascii.Error, UnicodeError, ValueError):
        decoded = ""
    if not decoded.startswith(_CURSOR_PREFIX) or len(decoded) == len(_CURSOR_PREFIX):
        raise InvalidId(f"{value[:64]!r} is not a cursor issued by this API", path=("after",))
    return decoded[len(_CURSOR_PREFIX) :]


@strawberry.type(description="One partner of a page and the cursor that points at it.")
class PartnerEdge:
    node: PartnerType = strawberry.field(description="The partner.")

    @strawberry.field(description="Pass as `after` to fetch the partners after this one.")
    def cursor(self) -> str:
        return partner_cursor(self.node.entity.id)


@strawberry.type(description="A page of partners, by id, with cursors to walk the whole list.")
class PartnerConnection:
    edges: list[PartnerEdge] = strawberry.field(description="The partners of this page.")
    page_info: PageInfo = strawberry.field(description="Cursors and whether more pages exist.")
    total: strawberry.Private[int]

    @strawberry.field(description="How many partners the whole list has.")
    def total_count(self) -> int:
        return self.total


def partner_connection(
    partners: list[Partner], has_next: bool, *, after_given: bool, total: int
) -> PartnerConnection:
    edges = [PartnerEdge(node=partner_type(p)) for p in partners]
    return PartnerConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=has_next,
            has_previous_page=after_given,
            start_cursor=partner_cursor(partners[0].id) if partners else None,
            end_cursor=partner_cursor(partners[-1].id) if partners else None,
        ),
        total=total,
    )


@strawberry.type(
    description="Whether the caller may take an action on the subscription, and why (the"
    " channel policy and the caller's token, as the mutation would check them)."
)
class SubscriptionPermission:
    entity: strawberry.Private[Decision]

    @strawberry.field(description="The action.")
    def action(self) -> SubscriptionAction:
        return api_enum(SubscriptionAction, self.entity.action)

    @strawberry.field(
        description="Whether the policy lets the caller do it (the subscription's state - an"
        " expired term, a deployment without activation codes - may still refuse it)."
    )
    def allowed(self) -> bool:
        return self.entity.allowed

    @strawberry.field(description="The error the mutation answers with when refused.")
    def code(self) -> ErrorCode | None:
        return ErrorCode[self.entity.code] if self.entity.code else None

    @strawberry.field(description="Why, for people (names the partner when it manages it).")
    def reason(self) -> str:
        return self.entity.reason


@strawberry.type(name="ChannelTransfer", description="A subscription's move between channels.")
class ChannelTransferType:
    entity: strawberry.Private[ChannelTransfer]

    @strawberry.field(description="The transfer's id.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.entity.id))

    @strawberry.field(description="The channel it was sold through before.")
    def from_channel(self) -> Channel:
        return api_enum(Channel, self.entity.from_channel)

    @strawberry.field(description="The partner before (null: sold directly).")
    def from_partner_id(self) -> str | None:
        return self.entity.from_partner_id

    @strawberry.field(description="The channel it moves to.")
    def to_channel(self) -> Channel:
        return api_enum(Channel, self.entity.to_channel)

    @strawberry.field(description="The partner it moves to (null: direct).")
    def to_partner_id(self) -> str | None:
        return self.entity.to_partner_id

    @strawberry.field(description="When it takes (or took) effect.")
    def effective_at(self) -> datetime:
        return self.entity.effective_at

    @strawberry.field(description="Why, as staff recorded it.")
    def reason(self) -> str:
        return self.entity.reason

    @strawberry.field(description="Pending, applied or superseded.")
    def status(self) -> ChannelTransferStatus:
        return api_enum(ChannelTransferStatus, self.entity.status)

    @strawberry.field(description="When the subscription moved (null until then).")
    def applied_at(self) -> datetime | None:
        return self.entity.applied_at

    @strawberry.field(description="When staff recorded it.")
    def requested_at(self) -> datetime:
        return self.entity.requested_at

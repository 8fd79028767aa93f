"""MARKETPLACE_EVENT: one stored inbound event applied, exactly once. The row names the
inbox entry; a row whose entry is settled already (an attempt that applied it but could not
record its own outcome) does nothing more. The adapter turns the entry into an order (AWS reads
the entitlements here), the intake use case applies it, and then the adapter may tell the
marketplace (Azure: activate, acknowledge the operation)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping

from domain.model.marketplace import (
    InboxEntry,
    InboxState,
    Marketplace,
    MarketplaceEventRejected,
    MarketplaceOrder,
    MarketplacePeer,
)
from domain.model.provision_event import ProvisionEvent
from domain.ports import EventHandler
from domain.use_cases.marketplace import Applied

logger = logging.getLogger("provision.marketplace")

AfterApplied = Callable[[InboxEntry], Awaitable[None]]


class MarketplaceNotConfigured(Exception):
    """This worker has no adapter for the entry's marketplace (its URL is not set): the row
    is retried, and a worker that has it runs it."""


def marketplace_event_handler(
    get: Callable[[uuid.UUID], Awaitable[InboxEntry | None]],
    peers: Mapping[Marketplace, MarketplacePeer],
    apply: Callable[[uuid.UUID, MarketplaceOrder], Awaitable[Applied]],
    after: Mapping[Marketplace, AfterApplied] | None = None,
) -> EventHandler:
    hooks = after or {}

    async def handle(event: ProvisionEvent) -> None:
        try:
            inbox_id = uuid.UUID(str(event.payload.get("inbox_id")))
        except ValueError:
            raise MarketplaceEventRejected("the row names no inbox entry") from None
        entry = await get(inbox_id)
        if entry is None:
            raise MarketplaceEventRejected(f"inbox entry {inbox_id} does not exist")
        if entry.state is InboxState.RECEIVED:
            peer = peers.get(entry.marketplace)
            if peer is None:
                raise MarketplaceNotConfigured(f"{entry.marketplace.value} intake is not set up")
            order = await peer.order(entry)
            applied = await apply(entry.id, order)
            logger.info(
                "marketplace %s event %s: %s (%s)",
                entry.marketplace.value,
                entry.message_id,
                applied.state.value,
                applied.step.value,
            )
            state = applied.state
        else:
            state = entry.state
        hook = hooks.get(entry.marketplace)
        if hook is not None and state is InboxState.APPLIED:
            await hook(entry)

    return handle

"""What an outbound call raises when the peer answered, but not with a 2xx."""

from __future__ import annotations


class DeliveryRefused(Exception):
    """The peer answered, but not with a 2xx."""

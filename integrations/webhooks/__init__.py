"""Outbound webhooks: the WEBHOOK_DELIVERY handler (Standard Webhooks v1, docs/webhooks.md)."""

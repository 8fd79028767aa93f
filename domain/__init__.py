"""Provision's domain: entities, value objects, rules, ports, use cases (stdlib only)."""

"""Provision's domain: entities, value objects, rules, ports and use cases (standard library only)."""

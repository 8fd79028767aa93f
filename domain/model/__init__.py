"""Entities and value objects of Provision's domain."""

"""Print the schema as SDL: the checked-in contract ``schema.graphql`` is this output."""

from __future__ import annotations

from api.graphql.schema import build_schema


def export_sdl() -> str:
    return build_schema().as_str() + "\n"

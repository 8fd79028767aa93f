"""``provision schema``: the GraphQL SDL (schema.graphql)."""

from __future__ import annotations

import sys
from pathlib import Path


def print_schema(output: str | None) -> int:
    from api.graphql.export import export_sdl

    sdl = export_sdl()
    if output:
        Path(output).write_text(sdl)
    else:
        sys.stdout.write(sdl)
    return 0

"""schema.graphql is the contract: it must equal what the code exports."""

from __future__ import annotations

import difflib
from pathlib import Path

from graphql import build_schema as parse_sdl

from api.graphql.export import export_sdl

ROOT = Path(__file__).resolve().parents[2]
CHECKED_IN = ROOT / "schema.graphql"


def test_checked_in_schema_equals_the_export() -> None:
    exported = export_sdl()
    checked_in = CHECKED_IN.read_text()
    if exported != checked_in:
        diff = "".join(
            difflib.unified_diff(
                checked_in.splitlines(keepends=True),
                exported.splitlines(keepends=True),
                "schema.graphql (checked in)",
                "schema exported by the code",
            )
        )
        raise AssertionError(
            "schema.graphql is stale; run `provision schema -o schema.graphql`\n" + diff
        )


def test_everything_public_has_a_description() -> None:
    schema = parse_sdl(CHECKED_IN.read_text())
    missing = []
    for name, type_ in schema.type_map.items():
        if name.startswith("__") or name in ("String", "Int", "Float", "Boolean", "ID"):
            continue
        if not type_.description:
            missing.append(name)
        for field_name, field in (getattr(type_, "fields", None) or {}).items():
            if not field.description:
                missing.append(f"{name}.{field_name}")
            for arg_name, arg in (getattr(field, "args", None) or {}).items():
                if not arg.description:
                    missing.append(f"{name}.{field_name}({arg_name})")
        for value_name, value in (getattr(type_, "values", None) or {}).items():
            if not value.description:
                missing.append(f"{name}.{value_name}")
    assert missing == []

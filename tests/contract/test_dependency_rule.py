"""The hexagon's dependency rule: domain imports nothing of the adapters or their libraries;
persistence and auth import the domain, never the API; only api knows everything."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FORBIDDEN = {
    "domain": {
        "api",
        "persistence",
        "auth",
        "strawberry",
        "starlette",
        "piccolo",
        "asyncpg",
        "authlib",
        "graphql",
        "uvicorn",
        "httpx",
    },
    "persistence": {"api", "auth", "strawberry", "starlette", "authlib"},
    "auth": {"api", "persistence", "strawberry"},
}


def imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_what_it_may(package: str) -> None:
    offences = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for name in sorted(imported_top_levels(path) & FORBIDDEN[package]):
            offences.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offences == []


def test_domain_uses_the_standard_library_only() -> None:
    allowed = set(sys.stdlib_module_names) | {"domain", "__future__"}
    offences = []
    for path in sorted((ROOT / "domain").rglob("*.py")):
        for name in sorted(imported_top_levels(path) - allowed):
            offences.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offences == []


def test_the_rule_detects_an_offence(tmp_path: Path) -> None:
    offender = tmp_path / "bad.py"
    offender.write_text("import asyncpg\nfrom persistence.tables import Customer\n")
    assert imported_top_levels(offender) & FORBIDDEN["domain"] == {"asyncpg", "persistence"}

"""docs/README.md lists every page of docs/ (its folders' too, docs/clients/), and nothing in
the repository points at a document that is not there (``docs/….md`` in any Markdown or
Python file, and the relative links between the docs pages)."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SKIPPED = {".git", ".venv", "node_modules", ".provision", "__pycache__", ".mypy_cache"}
DOC_PATH = re.compile(r"(?<![\w/.-])docs/([\w./-]+?\.md)\b")
LINK = re.compile(r"\]\(([\w./-]+?\.md)(?:#[\w-]*)?\)")


def repository_files(*suffixes: str) -> Iterator[Path]:
    for path in ROOT.rglob("*"):
        relative = path.relative_to(ROOT)
        if any(part in SKIPPED for part in relative.parts):
            continue
        if path.is_file() and path.suffix in suffixes:
            yield path


def test_the_index_lists_every_page() -> None:
    index = (DOCS / "README.md").read_text()
    listed = set(LINK.findall(index))
    pages = {str(page.relative_to(DOCS)) for page in DOCS.rglob("*.md") if page.name != "README.md"}
    assert pages - listed == set(), "docs/README.md does not list these pages"
    assert {"deploy.md", "deprecation.md", "operations.md", "clients/portal.md"} <= pages


def test_every_referenced_document_exists() -> None:
    missing = []
    for path in repository_files(".md", ".py"):
        text = path.read_text(errors="replace")
        for name in DOC_PATH.findall(text):
            if not (DOCS / name).is_file():
                missing.append(f"{path.relative_to(ROOT)}: docs/{name}")
        if path.suffix == ".md":
            for target in LINK.findall(text):
                if "://" not in target and not (path.parent / target).is_file():
                    missing.append(f"{path.relative_to(ROOT)}: {target}")
    assert missing == []


def test_the_license_file_is_the_one_pyproject_names() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]
    assert declared == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")

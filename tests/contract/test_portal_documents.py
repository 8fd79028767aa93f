"""The portal's GraphQL documents (api/portal/operations/): valid against schema.graphql,
under the query cost limit, one named operation per file, and the exact set the portal's
JavaScript sends (every one registered as a trusted document)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import OperationDefinitionNode, parse, validate
from graphql import build_schema as parse_sdl

from api.graphql.cost import query_cost
from api.portal.documents import OPERATIONS, document_id, trusted_documents
from api.portal.page import STATIC
from api.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = parse_sdl((ROOT / "schema.graphql").read_text())
FILES = sorted(OPERATIONS.glob("*.graphql"))
# The largest page size any list variable is sent with by the portal.
LARGEST_VARIABLES = {"first": 100, "namespaceIds": [f"id{i}" for i in range(50)]}


def test_there_are_documents() -> None:
    assert len(FILES) >= 10


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_each_document_is_valid_against_the_checked_in_schema(path: Path) -> None:
    document = parse(path.read_text())
    errors = validate(SCHEMA, document)
    assert errors == [], [e.message for e in errors]
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    assert len(operations) == 1
    assert operations[0].name is not None
    assert operations[0].name.value == path.stem


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_each_document_stays_under_the_cost_limit(path: Path) -> None:
    document = parse(path.read_text())
    cost = query_cost(SCHEMA, document, path.stem, LARGEST_VARIABLES)
    assert 0 < cost <= Settings().max_query_cost, cost


def test_every_document_is_registered_by_its_hash_and_name() -> None:
    trusted = trusted_documents()
    assert set(trusted.by_name) == {p.stem for p in FILES}
    for path in FILES:
        text = path.read_text()
        assert trusted.by_name[path.stem] == document_id(text)
        assert trusted.text(document_id(text)) == text
        assert trusted.trusts(text)
    assert not trusted.trusts(FILES[0].read_text() + " ")


def test_the_javascript_sends_exactly_the_registered_documents() -> None:
    sent: set[str] = set()
    for script in STATIC.rglob("*.js"):
        sent |= set(re.findall(r"""\bgql\(\s*["'](\w+)["']""", script.read_text()))
    assert sent == set(trusted_documents().by_name)

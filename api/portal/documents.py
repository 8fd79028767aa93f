"""The portal's GraphQL documents: one file per operation in ``operations/``, registered as
trusted documents by their SHA-256 (``sha256:<hex>`` of the file's text, the id the portal
sends as ``documentId``).

With ``PROVISION_TRUSTED_DOCUMENTS_ONLY_FOR_PORTAL`` on, a portal user's token issued to the
portal's own client runs these documents and nothing else (``api/graphql/pipeline.py``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

OPERATIONS = Path(__file__).parent / "operations"


def document_id(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class TrustedDocuments:
    by_id: dict[str, str]
    """``sha256:<hex>`` → the document's text."""
    by_name: dict[str, str]
    """The operation's name (the file's stem) → its id."""

    def text(self, identifier: str) -> str | None:
        return self.by_id.get(identifier)

    def trusts(self, text: str) -> bool:
        return document_id(text) in self.by_id


@cache
def trusted_documents() -> TrustedDocuments:
    by_id: dict[str, str] = {}
    by_name: dict[str, str] = {}
    for path in sorted(OPERATIONS.glob("*.graphql")):
        text = path.read_text(encoding="utf-8")
        identifier = document_id(text)
        by_id[identifier] = text
        by_name[path.stem] = identifier
    return TrustedDocuments(by_id, by_name)

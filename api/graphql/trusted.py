"""Trusted documents: GraphQL documents registered ahead of time, sent by id
(``{"documentId": …}``), and the rule that some tokens may run nothing else. The registry is
given by the composition root (the customer portal's, ``api/portal/documents.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class DocumentRegistry(Protocol):
    def text(self, identifier: str) -> str | None:
        """The registered document with this id, or None."""
        ...

    def trusts(self, text: str) -> bool:
        """Whether this exact text is registered."""
        ...


@dataclass(frozen=True)
class TrustedDocuments:
    registry: DocumentRegistry
    only_for_client: str | None = None
    """Portal users' tokens issued to this OAuth client run registered documents only."""

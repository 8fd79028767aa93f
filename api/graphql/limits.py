"""Document limits measured in one linear walk: expanded size, depth and aliases.

A fragment spread is counted every time it is spread (what execution would do), but each
fragment is measured once and its figures reused: a chain of fragments that each spread the
previous one twice is 2^n fields expanded, found in n steps. strawberry's depth and alias
validators walk a fragment again at every spread (2^n steps), so this runs before any
validation, and replaces them.

Validation's overlapping-fields rule compares every pair of fields that merge into one
response key, and again below them: 200 copies of ``licenses { edges { node { id } } }`` take
seconds. Fields with sub-selections that merge into one key are capped (``MAX_MERGED``),
found by walking the merged selection sets once (each fragment once per merged set).
"""

from __future__ import annotations

from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

MAX_MERGED = 20
"""Fields with sub-selections that one response key may merge (leaves are cheap to compare)."""


class LimitError(GraphQLError):
    """A refused document: a top-level error with ``extensions.code`` and figures."""

    def __init__(self, message: str, code: str, **figures: int) -> None:
        super().__init__(message, extensions={"code": code, **figures})


@dataclass(frozen=True)
class DocumentLimits:
    max_depth: int
    max_aliases: int
    max_fields: int


@dataclass(frozen=True)
class Shape:
    """A selection set's figures with its fragments expanded."""

    fields: int  # fields reached, once per spread
    depth: int  # nesting below the top (strawberry's measure: a lone leaf is 0)
    aliases: int


_EMPTY = Shape(0, 0, 0)


class _Measure:
    def __init__(self, document: DocumentNode) -> None:
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.memo: dict[str, Shape] = {}
        self.in_progress: set[str] = set()

    def fragment(self, name: str) -> Shape:
        known = self.memo.get(name)
        if known is not None:
            return known
        definition = self.fragments.get(name)
        if definition is None or name in self.in_progress:
            return _EMPTY  # unknown or cyclic: validation reports it
        self.in_progress.add(name)
        shape = self.selections(definition.selection_set)
        self.in_progress.discard(name)
        self.memo[name] = shape
        return shape

    def selections(self, selection_set: SelectionSetNode | None) -> Shape:
        if selection_set is None:
            return _EMPTY
        fields = depth = aliases = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                inner = self.selections(selection.selection_set)
                fields += 1 + inner.fields
                aliases += inner.aliases + (1 if selection.alias else 0)
                # Introspection fields do not count for depth (GraphiQL's query nests deep).
                if selection.selection_set and not selection.name.value.startswith("__"):
                    depth = max(depth, 1 + inner.depth)
            elif isinstance(selection, FragmentSpreadNode):
                inner = self.fragment(selection.name.value)
                fields += inner.fields
                aliases += inner.aliases
                depth = max(depth, inner.depth)
            elif isinstance(selection, InlineFragmentNode):
                inner = self.selections(selection.selection_set)
                fields += inner.fields
                aliases += inner.aliases
                depth = max(depth, inner.depth)
        return Shape(fields, depth, aliases)


def measure(document: DocumentNode) -> dict[str, Shape]:
    """Each operation's shape, by name (``anonymous`` for an unnamed one)."""
    walk = _Measure(document)
    return {
        (d.name.value if d.name else "anonymous"): walk.selections(d.selection_set)
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    }


def _merged(
    selection_sets: list[SelectionSetNode], fragments: dict[str, FragmentDefinitionNode]
) -> dict[str, list[FieldNode]]:
    """The fields each response key collects from these selection sets, fragments expanded."""
    groups: dict[str, list[FieldNode]] = {}
    expanded: set[str] = set()
    pending = list(selection_sets)
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FieldNode):
                key = (selection.alias or selection.name).value
                groups.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                pending.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in expanded and name in fragments:
                    expanded.add(name)
                    pending.append(fragments[name].selection_set)
    return groups


def widest_merge(document: DocumentNode, limit: int = MAX_MERGED) -> int:
    """The most fields with sub-selections one response key merges (stops past ``limit``).
    Run after the expanded size is bounded: the walk visits each expanded field at most once."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    widest = 0
    pending = [
        [d.selection_set] for d in document.definitions if isinstance(d, OperationDefinitionNode)
    ]
    while pending:
        for fields in _merged(pending.pop(), fragments).values():
            below = [f.selection_set for f in fields if f.selection_set is not None]
            if below:
                widest = max(widest, len(below))
                if widest > limit:
                    return widest
                pending.append(below)
    return widest


def check_document(document: DocumentNode, limits: DocumentLimits) -> list[GraphQLError]:
    """The limits a document breaks (empty when it may go on to validation)."""
    shapes = measure(document)
    fields = sum(s.fields for s in shapes.values())
    if fields > limits.max_fields:
        return [
            LimitError(
                f"The document selects {fields} fields with its fragments expanded;"
                f" at most {limits.max_fields} are allowed.",
                "QUERY_TOO_LARGE",
                fields=fields,
                limit=limits.max_fields,
            )
        ]
    merged = widest_merge(document)
    if merged > MAX_MERGED:
        return [
            LimitError(
                f"{merged} selections of one field (with sub-selections) merge into one response"
                f" key; at most {MAX_MERGED} may.",
                "QUERY_TOO_LARGE",
                merged=merged,
                limit=MAX_MERGED,
            )
        ]
    errors: list[GraphQLError] = []
    for name, shape in shapes.items():
        if shape.depth > limits.max_depth:
            errors.append(
                LimitError(
                    f"'{name}' exceeds maximum operation depth of {limits.max_depth}",
                    "QUERY_TOO_DEEP",
                    depth=shape.depth,
                    limit=limits.max_depth,
                )
            )
    aliases = sum(s.aliases for s in shapes.values())
    if aliases > limits.max_aliases:
        errors.append(
            LimitError(
                f"{aliases} aliases found. Allowed: {limits.max_aliases}",
                "TOO_MANY_ALIASES",
                aliases=aliases,
                limit=limits.max_aliases,
            )
        )
    return errors

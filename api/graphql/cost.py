"""Static query cost: what a document may make the server load, known before it runs.

Every field costs 1. A connection field (one with a ``first`` argument) costs 1 plus its
page size times the cost of what it selects: ``first`` (a literal or a variable, clamped to
0..100), or the default page size when absent. ``nodes(ids:)`` multiplies by the number of
ids. Fragments are costed once each (the document has been validated, so their type
conditions hold) and reused at every spread.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSchema,
    InlineFragmentNode,
    ListValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
    value_from_ast_untyped,
)

from api.graphql.types.node import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

_PAGE_ARGUMENTS = ("first", "last")


class _Cost:
    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        variables: Mapping[str, Any],
        defaults: Mapping[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.variables = variables
        self.defaults = defaults
        self.memo: dict[str, int] = {}
        self.in_progress: set[str] = set()

    def value(self, node: ValueNode) -> Any:
        if isinstance(node, VariableNode):
            name = node.name.value
            return self.variables.get(name, self.defaults.get(name))
        return value_from_ast_untyped(node)

    def multiplier(self, field: FieldNode, field_args: Mapping[str, Any]) -> int:
        arguments = {a.name.value: a.value for a in field.arguments or ()}
        if any(name in field_args for name in _PAGE_ARGUMENTS):
            size = None
            for name in _PAGE_ARGUMENTS:
                if name in arguments:
                    size = self.value(arguments[name])
                    break
            if not isinstance(size, int) or isinstance(size, bool):
                size = DEFAULT_PAGE_SIZE
            return max(0, min(size, MAX_PAGE_SIZE))
        ids = arguments.get("ids")
        if ids is not None:
            listed = self.value(ids) if not isinstance(ids, ListValueNode) else ids.values
            return len(listed) if isinstance(listed, list | tuple) else 1
        return 1

    def fragment(self, name: str) -> int:
        known = self.memo.get(name)
        if known is not None:
            return known
        definition = self.fragments.get(name)
        if definition is None or name in self.in_progress:
            return 0
        self.in_progress.add(name)
        parent = self.schema.get_type(definition.type_condition.name.value)
        cost = self.selections(definition.selection_set, parent)
        self.in_progress.discard(name)
        self.memo[name] = cost
        return cost

    def selections(self, selection_set: SelectionSetNode | None, parent: Any) -> int:
        if selection_set is None:
            return 0
        cost = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                fields = getattr(parent, "fields", None) or {}
                field_def = fields.get(selection.name.value)
                if field_def is None:  # __typename, introspection, or a union's field
                    cost += 1
                    continue
                inner = self.selections(selection.selection_set, get_named_type(field_def.type))
                cost += 1 + self.multiplier(selection, field_def.args) * inner
            elif isinstance(selection, FragmentSpreadNode):
                cost += self.fragment(selection.name.value)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner_parent = self.schema.get_type(condition.name.value) if condition else parent
                cost += self.selections(selection.selection_set, inner_parent)
        return cost


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    for operation in operations:
        if name is None or (operation.name and operation.name.value == name):
            return operation
    return None


def query_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
) -> int:
    """The cost of the operation that would run (0 if there is none to run)."""
    operation = _operation(document, operation_name)
    if operation is None:
        return 0
    defaults = {
        v.variable.name.value: value_from_ast_untyped(v.default_value)
        for v in operation.variable_definitions or ()
        if v.default_value is not None
    }
    root = {
        OperationType.QUERY: schema.query_type,
        OperationType.MUTATION: schema.mutation_type,
        OperationType.SUBSCRIPTION: schema.subscription_type,
    }[operation.operation]
    walk = _Cost(schema, document, variables or {}, defaults)
    return walk.selections(operation.selection_set, root)

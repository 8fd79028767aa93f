"""The internals of strawberry, graphql-core and piccolo that Provision relies on are still there.

The compiled execution path (api/graphql/execution.py) and the request pipeline
(api/graphql/pipeline.py) use names neither library promises to keep, and the cancel-safe
transaction (persistence/database.py) reads piccolo's. pyproject.toml bounds the GraphQL
libraries and constraints.txt pins all three; when an update changes one of these names, the
test names the library and the internal instead of leaving a mysterious failure elsewhere.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from importlib import import_module
from importlib.metadata import version
from typing import Any

import pytest

from api.graphql.schema import build_schema

STRAWBERRY = "strawberry-graphql"
GRAPHQL_CORE = "graphql-core"
PICCOLO = "piccolo"


def _parameters(function: Callable[..., Any]) -> list[str]:
    return [name for name in inspect.signature(function).parameters if name != "self"]


def _importable(module: str, name: str) -> Callable[[], bool]:
    return lambda: hasattr(import_module(module), name)


def _transaction_source(method: str) -> str:
    from piccolo.engine.postgres import PostgresTransaction

    return inspect.getsource(getattr(PostgresTransaction, method))


def _execution_context() -> type:
    return import_module("strawberry.schema.schema").StrawberryGraphQLCoreExecutionContext  # type: ignore[no-any-return]


def _field_def_and_field() -> tuple[Any, Any]:
    from strawberry.schema.schema_converter import GraphQLCoreConverter

    schema = build_schema()._schema
    field_def = schema.type_map["Customer"].fields["company"]  # a plain attribute
    return field_def, field_def.extensions[GraphQLCoreConverter.DEFINITION_BACKREF]


def _resolver_field() -> Any:
    from strawberry.schema.schema_converter import GraphQLCoreConverter

    schema = build_schema()._schema
    query = schema.query_type
    assert query is not None
    return query.fields["viewer"].extensions[GraphQLCoreConverter.DEFINITION_BACKREF]


# (library, internal, check): each check returns True while the internal is as we use it.
INTERNALS: list[tuple[str, str, Callable[[], bool]]] = [
    (STRAWBERRY, "Schema._schema is graphql-core's GraphQLSchema",
     lambda: type(build_schema()._schema).__name__ == "GraphQLSchema"),
    (STRAWBERRY, "strawberry.schema.schema.validate_document(schema, document, rules)",
     lambda: _parameters(import_module("strawberry.schema.schema").validate_document)
     == ["schema", "document", "validation_rules"]),
    (STRAWBERRY, "strawberry.schema.schema.StrawberryGraphQLCoreExecutionContext",
     _importable("strawberry.schema.schema", "StrawberryGraphQLCoreExecutionContext")),
    (STRAWBERRY, "strawberry.execution.optimized_is_awaitable",
     _importable("strawberry.execution", "optimized_is_awaitable")),
    (STRAWBERRY, "GraphQLCoreConverter.DEFINITION_BACKREF in field and argument extensions",
     lambda: _field_def_and_field()[1].python_name == "company"),
    (STRAWBERRY, "Info(_raw_info=…, _field=…)",
     lambda: _parameters(import_module("strawberry.types.info").Info) == ["_raw_info", "_field"]),
    (STRAWBERRY, "StrawberryField.is_basic_field / default_resolver / base_resolver / arguments",
     lambda: all(hasattr(_field_def_and_field()[1], name) for name in
                 ("is_basic_field", "default_resolver", "base_resolver", "arguments",
                  "extensions", "python_name"))),
    (STRAWBERRY, "a plain field's graphql-core resolver is marked _is_default",
     lambda: getattr(_field_def_and_field()[0].resolve, "_is_default", False) is True),
    (STRAWBERRY, "StrawberryResolver's is_async / wrapped_func / *_parameter",
     lambda: all(hasattr(_resolver_field().base_resolver, name) for name in
                 ("is_async", "wrapped_func", "info_parameter", "self_parameter",
                  "root_parameter", "parent_parameter"))),
    (STRAWBERRY, "strawberry.types.base.StrawberryOptional",
     _importable("strawberry.types.base", "StrawberryOptional")),
    (STRAWBERRY, "strawberry.schema.validation_rules.maybe_null.MaybeNullValidationRule",
     _importable("strawberry.schema.validation_rules.maybe_null", "MaybeNullValidationRule")),
    (STRAWBERRY, "strawberry.schema.validation_rules.one_of.OneOfInputValidationRule",
     _importable("strawberry.schema.validation_rules.one_of", "OneOfInputValidationRule")),
    (STRAWBERRY, "SchemaExtension.get_results() merged into the response's extensions",
     lambda: hasattr(import_module("strawberry.extensions").SchemaExtension, "get_results")),
    (GRAPHQL_CORE, "graphql.validate(schema, document, rules, max_errors, hide_suggestions)",
     lambda: _parameters(import_module("graphql").validate)[:5]
     == ["schema", "document_ast", "rules", "max_errors", "hide_suggestions"]),
    (GRAPHQL_CORE, "graphql.NoSchemaIntrospectionCustomRule",
     _importable("graphql", "NoSchemaIntrospectionCustomRule")),
    (GRAPHQL_CORE, "graphql.execution.collect_fields.FieldDetails(node, defer_usage, "
     "fragment_variable_values)",
     lambda: tuple(import_module("graphql.execution.collect_fields").FieldDetails._fields)
     == ("node", "defer_usage", "fragment_variable_values")),
    (GRAPHQL_CORE, "graphql.execution.collect_fields.FieldDetailsList",
     _importable("graphql.execution.collect_fields", "FieldDetailsList")),
    (GRAPHQL_CORE, "get_argument_values(type_def, node, variable_values, fragment_variable_values,"
     " hide_suggestions)",
     lambda: _parameters(import_module("graphql.execution.values").get_argument_values)
     == ["type_def", "node", "variable_values", "fragment_variable_values", "hide_suggestions"]),
    (GRAPHQL_CORE, "graphql.pyutils.Path", _importable("graphql.pyutils", "Path")),
    (GRAPHQL_CORE, "graphql.language.parser.parse",
     _importable("graphql.language.parser", "parse")),
    (GRAPHQL_CORE, "executor.execute_field(parent_type, source, field_details_list, path, "
     "position_context)",
     lambda: _parameters(_execution_context().execute_field)
     == ["parent_type", "source", "field_details_list", "path", "position_context"]),
    (GRAPHQL_CORE, "executor.collect_subfields(return_type, field_details_list)",
     lambda: _parameters(_execution_context().collect_subfields)
     == ["return_type", "field_details_list"]),
    (GRAPHQL_CORE, "executor.build_resolve_info(field_def, field_nodes, parent_type, path)",
     lambda: _parameters(_execution_context().build_resolve_info)
     == ["field_def", "field_nodes", "parent_type", "path"]),
    (GRAPHQL_CORE, "executor.execute_operation / is_awaitable",
     lambda: all(hasattr(_execution_context(), name)
                 for name in ("execute_operation", "is_awaitable"))),
    # persistence/database.py CancelSafeTransaction gives a connection back on the paths
    # piccolo's transaction loses it: it reads these attributes of a PostgresTransaction.
    (PICCOLO, "PostgresTransaction.__init__ sets _parent (a nested transaction's outer one)",
     lambda: "self._parent = None" in _transaction_source("__init__")),
    (PICCOLO, "PostgresTransaction.__aenter__ takes self.connection, then BEGIN, then sets "
     "self.context from engine.current_transaction",
     lambda: all(line in _transaction_source("__aenter__") for line in
                 ("self.connection = await self.get_connection()", "await self.begin()",
                  "self.context = self.engine.current_transaction.set(self)"))),
    (PICCOLO, "PostgresTransaction.__aexit__ releases self.connection to engine.pool",
     lambda: "await self.engine.pool.release(self.connection)" in _transaction_source("__aexit__")),
]  # fmt: skip


@pytest.mark.parametrize(("library", "internal", "check"), INTERNALS, ids=[i[1] for i in INTERNALS])
def test_an_internal_we_rely_on_is_still_there(
    library: str, internal: str, check: Callable[[], bool]
) -> None:
    try:
        holds = check()
    except Exception as error:  # an import or attribute that went away
        holds = False
        reason = f"{type(error).__name__}: {error}"
    else:
        reason = "its shape changed"
    assert holds, (
        f"{library} {version(library)} changed an internal Provision uses: {internal} ({reason})."
        " Update api/graphql/execution.py, pipeline.py or persistence/database.py, or keep the pin"
        " in constraints.txt."
    )


def test_the_executor_attributes_the_compiled_path_reads_are_set() -> None:
    """The instance attributes PlainFieldExecutionContext reads, on a real execution."""
    import strawberry

    seen: set[str] = set()
    names = ("middleware_manager", "operation", "variable_values", "hide_suggestions",
             "async_helpers", "schema")  # fmt: skip

    class Recording(_execution_context()):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            seen.update(name for name in names if hasattr(self, name))
            if hasattr(self, "variable_values") and hasattr(self.variable_values, "coerced"):
                seen.add("variable_values.coerced")

    @strawberry.type
    class Query:
        hello: str = "world"

    schema = strawberry.Schema(Query, execution_context_class=Recording)
    assert schema.execute_sync("{ hello }", root_value=Query()).data == {"hello": "world"}
    missing = {*names, "variable_values.coerced"} - seen
    assert not missing, f"{GRAPHQL_CORE} {version(GRAPHQL_CORE)}: the executor lacks {missing}"

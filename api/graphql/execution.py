"""A faster path through graphql-core for the parts of a query whose data is in memory.

graphql-core completes every field the same way: a path entry, a ``GraphQLResolveInfo``,
argument coercion, the resolver (strawberry wraps even plain attributes), is-awaitable checks,
then completion, recursively. For a page of 50 subscriptions with 3 licenses each that
machinery, not the data, is most of a request's cost.

This execution context *compiles* a field's sub-tree into small closures: plain attributes
become ``getattr``, scalars and enums ``coerce_output_value``, lists and concrete object types
loops and dicts. Fields with resolvers are called directly when the resolver is synchronous,
has no permission classes or extensions, and takes only scalar arguments (so strawberry would
pass them unchanged). A synchronous resolver may still return an awaitable (a pending load):
then the usual path takes over.
The compiled field then runs for every object it meets, and is kept
for later requests with the same document and variables (documents come from the bounded
parser cache; the compiled cache is bounded too and keeps its documents alive).

Whatever the compiled code cannot answer exactly as graphql-core would (a null where the
schema says non-null, a value that does not coerce, an object of an unexpected type, a
resolver that must await, an exception) abandons it for that field, and graphql-core executes
the field the usual way: results, errors and null propagation are graphql-core's own. Fields
are compiled for queries only, where running part of a field twice has no side effect.
"""

from __future__ import annotations

import asyncio
import inspect
import types
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, NamedTuple

from graphql import (
    GraphQLBoolean,
    GraphQLField,
    GraphQLID,
    GraphQLInt,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLString,
    OperationType,
    Undefined,
    get_nullable_type,
    is_enum_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path
from strawberry.execution import optimized_is_awaitable
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.base import StrawberryOptional
from strawberry.types.field import StrawberryField
from strawberry.types.info import Info

Run = Callable[[Any, Any, Path | None], Any]  # (execution context, value, path) -> result
_SCALAR_ARGUMENTS = (int, str, bool, float)
# What our resolvers return when data is still to be loaded: checked first, cheaply.
_COMMON_AWAITABLES = (asyncio.Future, types.CoroutineType)
_BACKREF = GraphQLCoreConverter.DEFINITION_BACKREF
_CACHE_SIZE = 1024

# How a compiled field gets its value from the object.
_ATTRIBUTE, _METHOD, _CALL, _TYPENAME = range(4)

Compiled = tuple[int, Any, Run, bool]  # (how, what, complete, needs paths)
_cache: OrderedDict[tuple[Any, ...], tuple[object, Compiled | None]] = OrderedDict()


class _Abandon(Exception):  # control flow; never escapes this module
    """The compiled code cannot produce graphql-core's answer for this value."""


def _plain_attribute(field: StrawberryField, field_def: GraphQLField) -> bool:
    return (
        field.is_basic_field
        and field.default_resolver is getattr
        and getattr(field_def.resolve, "_is_default", False)
    )


def _direct_call_ok(field: StrawberryField, given: dict[str, Any] | None = None) -> bool:
    """A resolver strawberry would call with nothing but ``self``, info and scalars: an
    argument of another type (an input object, an enum) only when this document leaves it
    null (``given``: the argument values by Python name; None: before they are known)."""
    resolver = field.base_resolver
    if resolver is None or resolver.is_async or field.extensions:
        return False
    for argument in field.arguments:
        type_ = argument.type
        optional = isinstance(type_, StrawberryOptional)
        if isinstance(type_, StrawberryOptional):
            type_ = type_.of_type
        if isinstance(type_, type) and issubclass(type_, _SCALAR_ARGUMENTS):
            continue
        if not optional or given is None or given.get(argument.python_name) is not None:
            return False
    return True


def _not_awaitable(result: Any) -> Any:
    """A resolver's value, unless it must be awaited: then the usual path takes over."""
    if isinstance(result, _COMMON_AWAITABLES) or optimized_is_awaitable(result):
        if inspect.iscoroutine(result):
            result.close()
        raise _Abandon
    return result


class _Call(NamedTuple):
    """A resolver call prepared at compile time."""

    field_def: GraphQLField
    field: StrawberryField
    nodes: list[Any]
    kwargs: dict[str, Any]
    function: Callable[..., Any]
    info_name: str | None  # the resolver's info parameter
    takes_self: bool
    source_name: str | None  # its root/parent parameter


def _prepare_call(
    field_def: GraphQLField, field: StrawberryField, nodes: list[Any], kwargs: dict[str, Any]
) -> _Call:
    resolver = field.base_resolver
    assert resolver is not None
    source = resolver.root_parameter or resolver.parent_parameter
    return _Call(
        field_def,
        field,
        nodes,
        kwargs,
        resolver.wrapped_func,  # type: ignore[arg-type]
        resolver.info_parameter.name if resolver.info_parameter else None,
        resolver.self_parameter is not None,
        source.name if source else None,
    )


def _call(
    context: Any, call: _Call, parent_type: GraphQLObjectType, source: Any, path: Path
) -> Any:
    arguments = dict(call.kwargs)
    if call.info_name is not None:
        raw = context.build_resolve_info(call.field_def, call.nodes, parent_type, path)
        arguments[call.info_name] = Info(_raw_info=raw, _field=call.field)
    if call.takes_self:
        return _not_awaitable(call.function(source, **arguments))
    if call.source_name is not None:
        arguments[call.source_name] = source
    return _not_awaitable(call.function(**arguments))


_ENUM_MEMO_LIMIT = 256


_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1  # GraphQL's Int is 32-bit (graphql-core raises)


def leaf_coercer(leaf_type: Any) -> Callable[[Any], Any]:
    """``coerce_output_value``, with the common cases made cheap: strings stay strings, ints
    in Int's range and bools stay so (anything else goes through the scalar's own check),
    and an enum member's name is remembered (strawberry's enum search is a loop). Shared by
    the compiled executor and the fast path's writers (api/graphql/fast_page.py)."""
    coerce: Callable[[Any], Any] = leaf_type.coerce_output_value
    if leaf_type is GraphQLString or leaf_type is GraphQLID:

        def coerce_string(value: Any) -> Any:
            return value if type(value) is str else coerce(value)

        return coerce_string
    if leaf_type is GraphQLInt:

        def coerce_int(value: Any) -> Any:
            return value if type(value) is int and _INT_MIN <= value <= _INT_MAX else coerce(value)

        return coerce_int
    if leaf_type is GraphQLBoolean:

        def coerce_bool(value: Any) -> Any:
            return value if type(value) is bool else coerce(value)

        return coerce_bool
    if is_enum_type(leaf_type):
        names: dict[Any, Any] = {}

        def coerce_enum(value: Any) -> Any:
            name = names.get(value)
            if name is None:
                name = coerce(value)
                if len(names) < _ENUM_MEMO_LIMIT:
                    names[value] = name
            return name

        return coerce_enum
    return coerce


def _leaf_run(coerce: Callable[[Any], Any], non_null: bool) -> Run:
    def run(context: Any, value: Any, path: Path | None) -> Any:
        if value is None:
            if non_null:
                raise _Abandon
            return None
        coerced = coerce(value)
        if coerced is None or coerced is Undefined:
            raise _Abandon
        return coerced

    return run


def _list_run(item: Run, needs_path: bool, non_null: bool) -> Run:
    def run(context: Any, value: Any, path: Path | None) -> Any:
        if value is None:
            if non_null:
                raise _Abandon
            return None
        if needs_path:
            return [item(context, element, Path(path, i, None)) for i, element in enumerate(value)]
        return [item(context, element, None) for element in value]

    return run


def _object_run(
    object_type: GraphQLObjectType,
    non_null: bool,
    fields: tuple[tuple[str, int, Any, Run, bool, _Leaf | None], ...],
) -> Run:
    type_name = object_type.name
    is_type_of = object_type.is_type_of
    definition = object_type.extensions.get(_BACKREF)
    origin = getattr(definition, "origin", None)

    def run(context: Any, value: Any, path: Path | None) -> Any:
        if value is None:
            if non_null:
                raise _Abandon
            return None
        if (
            type(value) is not origin and is_type_of is not None and not is_type_of(value, None)  # type: ignore[arg-type]
        ):
            raise _Abandon
        result: dict[str, Any] = {}
        for response_name, how, what, complete, needs_path, leaf in fields:
            field_path = Path(path, response_name, type_name) if needs_path else None
            if how is _ATTRIBUTE:
                child = getattr(value, what)
            elif how is _METHOD:
                child = what(value)
                if isinstance(child, _COMMON_AWAITABLES):
                    child = _not_awaitable(child)
            elif how is _CALL:
                child = _call(context, what, object_type, value, field_path)  # type: ignore[arg-type]
            else:
                result[response_name] = type_name
                continue
            if leaf is None:
                result[response_name] = complete(context, child, field_path)
            elif child is None:
                if leaf.non_null:
                    raise _Abandon
                result[response_name] = None
            else:
                # Scalars and enums inline: most fields of a page are leaves.
                coerced = leaf.coerce(child)
                if coerced is None or coerced is Undefined:
                    raise _Abandon
                result[response_name] = coerced
        return result

    return run


class _Leaf(NamedTuple):
    coerce: Callable[[Any], Any]
    non_null: bool


def _typename_unused(context: Any, value: Any, path: Path | None) -> Any:
    raise AssertionError("__typename is answered without running")


class PlainFieldExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        manager = self.middleware_manager
        # strawberry always passes a manager; only one with middleware wraps resolvers, and
        # parts of a field may run twice only where nothing changes: in queries.
        self._compile = (manager is None or not manager.middlewares) and (
            self.operation.operation is OperationType.QUERY
        )
        self._variables_key: str | None = None
        # Fields whose compiled code gave up once in this request (the data is not all at
        # hand, say): the usual path for the rest of the request.
        self._abandoned: set[tuple[int, int]] = set()
        if self._compile:
            try:
                self._variables_key = repr(sorted(self.variable_values.coerced.items()))
            except TypeError:
                self._compile = False

    # --- compiling -----------------------------------------------------------------------

    def _compiled_field(
        self, parent_type: GraphQLObjectType, response_name: str, details: FieldDetailsList
    ) -> Compiled | None:
        nodes = tuple(detail.node for detail in details)
        key = (id(self.schema), id(parent_type), tuple(map(id, nodes)), self._variables_key)
        entry = _cache.get(key)
        if entry is not None:
            _cache.move_to_end(key)
            return entry[1]
        compiled = self._compile_field(parent_type, response_name, details)
        # The entry keeps the schema and the document's nodes alive, so ids stay unique.
        _cache[key] = ((self.schema, nodes), compiled)
        if len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
        return compiled

    def _compile_field(
        self, parent_type: GraphQLObjectType, response_name: str, details: FieldDetailsList
    ) -> Compiled | None:
        for detail in details:
            if detail.node.directives or detail.defer_usage is not None:
                return None
            if detail.fragment_variable_values is not None:
                return None
        node = details[0].node
        if node.name.value == "__typename":
            return (_TYPENAME, None, _typename_unused, False)
        field_def = parent_type.fields.get(node.name.value)
        field = field_def.extensions.get(_BACKREF) if field_def else None
        if field_def is None or not isinstance(field, StrawberryField):
            return None
        compiled = self._compile_type(field_def.type, details)
        if compiled is None:
            return None
        run, needs_path = compiled
        if not node.arguments and not field_def.args and _plain_attribute(field, field_def):
            return (_ATTRIBUTE, field.python_name, run, needs_path)
        resolver = field.base_resolver
        if resolver is None or resolver.is_async or field.extensions:
            return None
        try:
            values = get_argument_values(
                field_def, node, self.variable_values, None, self.hide_suggestions
            )
        except Exception:  # the usual path reports bad arguments
            return None
        kwargs = {
            field_def.args[name].extensions[_BACKREF].python_name: value
            for name, value in values.items()
        }
        if not _direct_call_ok(field, kwargs):
            return None
        if resolver.self_parameter and not resolver.info_parameter and not kwargs:
            if resolver.root_parameter or resolver.parent_parameter:
                return None
            return (_METHOD, resolver.wrapped_func, run, needs_path)
        return (
            _CALL,
            _prepare_call(field_def, field, [d.node for d in details], kwargs),
            run,
            True,
        )

    def _compile_type(
        self, type_: GraphQLOutputType, details: FieldDetailsList
    ) -> tuple[Run, bool] | None:
        non_null = is_non_null_type(type_)
        nullable: Any = get_nullable_type(type_)
        if is_leaf_type(nullable):
            return _leaf_run(leaf_coercer(nullable), non_null), False
        if is_list_type(nullable):
            item = self._compile_type(nullable.of_type, details)
            if item is None:
                return None
            return _list_run(item[0], item[1], non_null), item[1]
        if not is_object_type(nullable):
            return None  # interfaces and unions resolve their runtime type: the usual path
        grouped, new_defer_usages, *_ = self.collect_subfields(nullable, details)
        if new_defer_usages:
            return None
        fields = []
        needs_path = False
        for response_name, sub_details in grouped.items():
            compiled = self._compile_field(nullable, response_name, sub_details)
            if compiled is None:
                return None
            leaf = None
            if compiled[0] is not _TYPENAME:
                sub_type = nullable.fields[sub_details[0].node.name.value].type
                if is_leaf_type(get_nullable_type(sub_type)):
                    leaf = _Leaf(
                        leaf_coercer(get_nullable_type(sub_type)), is_non_null_type(sub_type)
                    )
            fields.append((response_name, *compiled, leaf))
            needs_path = needs_path or compiled[3]
        return _object_run(nullable, non_null, tuple(fields)), needs_path

    # --- running -------------------------------------------------------------------------

    def execute_operation(self, serially: bool | None = None) -> Any:
        result = super().execute_operation(serially)
        if self.is_awaitable(result):

            async def then_unlink() -> Any:
                try:
                    return await result
                finally:
                    self._unlink()

            return then_unlink()
        self._unlink()
        return result

    def _unlink(self) -> None:
        # graphql-core keeps its own bound methods in ``async_helpers``: a reference cycle
        # that would hold the request (context, loaders, loaded data) until the cyclic
        # collector ran. Once the result is complete nothing uses them.
        self.async_helpers = None  # type: ignore[assignment]

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        attempt = (id(parent_type), id(field_details_list))
        if self._compile and attempt not in self._abandoned:
            compiled = self._compiled_field(parent_type, path.key, field_details_list)  # type: ignore[arg-type]
            if compiled is not None and compiled[0] is not _TYPENAME:
                how, what, complete, _ = compiled
                try:
                    if how is _ATTRIBUTE:
                        child = getattr(source, what)
                    elif how is _METHOD:
                        child = _not_awaitable(what(source))
                    else:
                        child = _call(self, what, parent_type, source, path)
                    return complete(self, child, path)
                except Exception:  # graphql-core's path reports it
                    self._abandoned.add(attempt)
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )

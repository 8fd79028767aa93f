"""Errors as clients see them: expected ones coded, unexpected ones masked and logged."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
from graphql import GraphQLError

from api.graphql.errors import ApiError
from api.graphql.pipeline import present_errors
from domain.errors import NotFound


def _located(original: Exception | None) -> GraphQLError:
    return GraphQLError("raw", path=["subscriptions", 0, "seats"], original_error=original)


def test_an_unexpected_error_is_masked_with_the_request_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    context = SimpleNamespace(request_id="req-42")
    try:
        raise ZeroDivisionError("secret internals")
    except ZeroDivisionError as error:
        original = error
    with caplog.at_level(logging.ERROR, logger="provision.graphql"):
        (presented,) = present_errors([_located(original)], context)
    assert presented.message == "Internal error. Quote request id req-42 to support."
    assert presented.extensions == {"code": "INTERNAL", "requestId": "req-42"}
    assert "secret internals" not in presented.message
    assert presented.path == ["subscriptions", 0, "seats"]
    # The server keeps the traceback.
    assert "req-42" in caplog.text
    assert "ZeroDivisionError" in caplog.text


def test_a_domain_error_keeps_its_message_and_gains_its_code() -> None:
    (presented,) = present_errors(
        [_located(NotFound("no such thing", path=("id",)))], SimpleNamespace(request_id="r")
    )
    assert presented.message == "no such thing"
    assert presented.extensions == {"code": "NOT_FOUND", "field": "id"}


def test_validation_and_coded_errors_pass_unchanged() -> None:
    syntax = GraphQLError("Syntax Error: Unexpected <EOF>.")
    coded = _located(ApiError("`first` must be at most 100", "VALIDATION_FAILED", ("first",)))
    presented = present_errors([syntax, coded], SimpleNamespace(request_id="r"))
    assert presented[0] is syntax
    assert presented[1].extensions == {"code": "VALIDATION_FAILED", "field": "first"}

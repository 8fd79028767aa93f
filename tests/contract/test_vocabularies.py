"""The API says everything the domain says: every domain error's code is an ``ErrorCode`` (so
none reaches a payload as INTERNAL), and every domain vocabulary shown to clients has its
GraphQL enum, member for member. New errors and enums are found by walking the packages."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from enum import Enum
from types import ModuleType

import pytest
from graphql import GraphQLError

import api
import domain
from api.graphql.enums import MIRRORS, ErrorCode, domain_error_types, vocabulary_gaps
from api.graphql.mutations.outcome import outcome
from domain.errors import DomainError, Forbidden, Unauthenticated

NOT_MIRRORED = {
    # Shown as plain strings (DESIGN §2 names their values), not as GraphQL enums.
    "domain.model.enums.NamespaceKind",
    "domain.model.enums.Role",
    # Shown by an enum with one value more (ProvisionEventKind's OTHER; vocabulary_gaps checks).
    "domain.model.provision_event.ProvisionKind",
    # Never shown: how the server works, not what clients see.
    "domain.model.email.EmailTemplate",
    "domain.model.dedicated.TenantStep",
    "domain.policy.Resource",
    "domain.policy.Access",
    "domain.policy.Reach",
    "domain.model.marketplace.OrderAction",
    "domain.model.marketplace.Step",
    # The policy's view of who acts: clients see its decisions (SubscriptionPermission).
    "domain.model.channel_policy.Actor",
    # The CLI's report names: GraphQL has one field per report (StaffReports).
    "domain.model.reports.ReportName",
}
API_OWN_CODES = {
    "INTERNAL": "a masked unexpected error (api/graphql/pipeline.py)",
    "SERVICE_UNAVAILABLE": "the database is unreachable (api/graphql/errors.py), an HTTP 503",
    "TRIAL_NOT_ELIGIBLE": "the schema sketch's catch-all eligibility reason",
}


def _modules(package: ModuleType) -> list[ModuleType]:
    return [package] + [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")
    ]


DOMAIN_MODULES = _modules(domain)
API_MODULES = _modules(api)  # the API's own DomainError subclasses, too


def _defined_in(modules: list[ModuleType], base: type) -> dict[str, type]:
    return {
        f"{cls.__module__}.{cls.__qualname__}": cls
        for module in modules
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, base) and cls.__module__ == module.__name__
    }


ERRORS = _defined_in(DOMAIN_MODULES + API_MODULES, DomainError)
DOMAIN_ENUMS = _defined_in(DOMAIN_MODULES, Enum)


def test_the_walk_finds_the_errors_the_schema_build_checks() -> None:
    assert set(ERRORS.values()) == set(domain_error_types())
    assert vocabulary_gaps(ERRORS.values()) == []


@pytest.mark.parametrize("name", sorted(ERRORS))
async def test_every_domain_error_reaches_a_payload_with_its_own_code(name: str) -> None:
    error_type = ERRORS[name]
    assert error_type.code in set(ErrorCode.__members__), f"{name}: no ErrorCode"

    async def breaks_the_rule() -> None:
        raise error_type("a rule was broken")

    if issubclass(error_type, (Unauthenticated, Forbidden)):  # top-level errors, by design
        with pytest.raises(GraphQLError) as top_level:
            await outcome(breaks_the_rule)
        assert top_level.value.extensions == {"code": error_type.code}
        return
    _, [shown] = await outcome(breaks_the_rule)
    assert shown.code is ErrorCode[error_type.code]


def test_every_error_code_is_said_by_the_domain_or_owned_by_the_api() -> None:
    said = {error_type.code for error_type in ERRORS.values()}
    assert said.isdisjoint(API_OWN_CODES)
    assert set(ErrorCode.__members__) - said == set(API_OWN_CODES)


def test_every_domain_vocabulary_is_mirrored_or_kept_back_on_purpose() -> None:
    mirrored = {f"{d.__module__}.{d.__qualname__}" for d, _ in MIRRORS}
    assert mirrored.isdisjoint(NOT_MIRRORED)
    assert set(DOMAIN_ENUMS) == mirrored | NOT_MIRRORED


@pytest.mark.parametrize(("domain_enum", "api_enum"), MIRRORS, ids=lambda e: e.__name__)
def test_a_mirrored_vocabulary_has_every_member_both_ways(
    domain_enum: type[Enum], api_enum: type[Enum]
) -> None:
    assert set(domain_enum.__members__) == set(api_enum.__members__)

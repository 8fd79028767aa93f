"""Customer: the billing account's text and email rules."""

from __future__ import annotations

from typing import Any

import pytest

from domain.errors import ValidationFailed
from domain.model.customer import Customer, validate_email, validate_text

from fakes import FixedClock


def customer(clock: FixedClock, **overrides: Any) -> Customer:
    fields: dict[str, Any] = {
        "company": "Acme",
        "contact_name": "Ada Admin",
        "contact_email": "ada@example.com",
        "created_at": clock.now(),
    }
    fields.update(overrides)
    return Customer(**fields)


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("ada@example.com", "ada@example.com"),
        ("  Ada.Admin+billing@Example.COM \n", "ada.admin+billing@example.com"),
        ("x@y.io", "x@y.io"),
    ],
)
def test_email_is_trimmed_and_lower_cased(given: str, stored: str) -> None:
    assert validate_email(given) == stored


@pytest.mark.parametrize(
    "given",
    [
        "",
        "   ",
        "ada",
        "ada@",
        "@example.com",
        "ada@example",
        "ada@@example.com",
        "ada admin@example.com",
        "ada@exa mple.com",
        "a@b@example.com",
    ],
)
def test_malformed_email_is_refused(given: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        validate_email(given)
    assert raised.value.code == "VALIDATION_FAILED"
    assert raised.value.path == ("email",)


def test_email_longer_than_254_characters_is_refused() -> None:
    domain = "@example.com"
    assert validate_email("a" * (254 - len(domain)) + domain)
    with pytest.raises(ValidationFailed):
        validate_email("a" * (255 - len(domain)) + domain)


def test_text_is_trimmed() -> None:
    assert validate_text("  Acme Inc. ", "company") == "Acme Inc."


@pytest.mark.parametrize("value", ["", "  \t\n"])
def test_empty_text_is_refused(value: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        validate_text(value, "company")
    assert raised.value.path == ("company",)


def test_text_longer_than_its_limit_is_refused() -> None:
    assert validate_text("x" * 200, "company") == "x" * 200
    with pytest.raises(ValidationFailed):
        validate_text("x" * 201, "company")
    with pytest.raises(ValidationFailed):
        validate_text("x" * 11, "code", max_length=10)


def test_customer_cleans_its_fields(clock: FixedClock) -> None:
    acme = customer(clock, company=" Acme ", contact_name=" Ada ", contact_email=" ADA@Acme.io ")
    assert (acme.company, acme.contact_name, acme.contact_email) == ("Acme", "Ada", "ada@acme.io")


@pytest.mark.parametrize(
    ("field", "value", "path"),
    [
        ("company", " ", ("company",)),
        ("company", "c" * 201, ("company",)),
        ("contact_name", "", ("contactName",)),
        ("contact_email", "not-an-email", ("contactEmail",)),
    ],
)
def test_customer_refuses_bad_fields(
    clock: FixedClock, field: str, value: str, path: tuple[str, ...]
) -> None:
    with pytest.raises(ValidationFailed) as raised:
        customer(clock, **{field: value})
    assert raised.value.path == path


def test_customers_get_distinct_ids(clock: FixedClock) -> None:
    assert customer(clock).id != customer(clock).id

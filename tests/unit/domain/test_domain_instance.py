"""Instance: known by the UUID it sends; anything else is refused before a lookup."""

from __future__ import annotations

import uuid

import pytest

from domain.errors import ValidationFailed
from domain.model.instance import Instance, parse_instance_identifier

from fakes import FixedClock

CANONICAL = "6f1c2b9e-3a4d-4e5f-8a7b-1c2d3e4f5a6b"


@pytest.mark.parametrize(
    "sent",
    [
        CANONICAL,
        CANONICAL.upper(),
        f"  {CANONICAL}\n",
        "6F1C2B9E-3a4d-4E5F-8a7b-1C2D3E4F5A6B",
    ],
)
def test_identifier_is_normalised_to_canonical_lower_case(sent: str) -> None:
    assert parse_instance_identifier(sent) == CANONICAL


@pytest.mark.parametrize(
    "sent",
    [
        "",
        "   ",
        "not-a-uuid",
        CANONICAL[:-1],
        CANONICAL + "0",
        CANONICAL.replace("a", "g", 1),
        "'; DROP TABLE instance; --",
    ],
)
def test_garbage_identifier_is_refused(sent: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        parse_instance_identifier(sent)
    assert raised.value.code == "VALIDATION_FAILED"
    assert raised.value.path == ("instanceIdentifier",)


def test_instance_normalises_its_identifier_on_construction(clock: FixedClock) -> None:
    instance = Instance(
        instance_identifier=CANONICAL.upper(),
        subscription_id=uuid.uuid4(),
        activated_at=clock.now(),
    )
    assert instance.instance_identifier == CANONICAL
    assert instance.hostname is None


def test_instance_refuses_a_garbage_identifier(clock: FixedClock) -> None:
    with pytest.raises(ValidationFailed):
        Instance(instance_identifier="nope", subscription_id=uuid.uuid4(), activated_at=clock.now())

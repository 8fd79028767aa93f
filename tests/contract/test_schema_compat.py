"""Schema changes follow the deprecation policy (docs/deprecation.md): compared structurally
with the checked-in schema.graphql (graphql-core's ``find_breaking_changes``), the code's
schema removes or changes no field, argument or enum value unless schema.graphql marked it
``@deprecated`` first. The policy's rules are checked on small schemas below."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.graphql.export import export_sdl

from schema_compat import breaking_changes

ROOT = Path(__file__).resolve().parents[2]


def test_the_code_breaks_nothing_of_the_checked_in_schema() -> None:
    broken = breaking_changes((ROOT / "schema.graphql").read_text(), export_sdl())
    assert broken == [], (
        "these changes break clients of schema.graphql; deprecate first, remove in a later"
        " release (docs/deprecation.md):\n" + "\n".join(broken)
    )


OLD = """
type Query {
  plan(id: ID!, region: String @deprecated(reason: "Ignored.")): Plan
  oldPlans: [Plan!]! @deprecated(reason: "Use plans.")
  plans(first: Int): [Plan!]!
  legacy: Legacy @deprecated(reason: "Gone in 2.0.")
  size: Size
}
type Plan { id: ID! name: String! code: String @deprecated(reason: "Use name.") }
type Legacy { id: ID! }
enum Size { SMALL LARGE HUGE @deprecated(reason: "Use LARGE.") }
"""


@pytest.mark.parametrize(
    ("new", "broken"),
    [
        # Removing what was deprecated first is allowed.
        (OLD.replace('  oldPlans: [Plan!]! @deprecated(reason: "Use plans.")\n', ""), []),
        (OLD.replace(' code: String @deprecated(reason: "Use name.")', ""), []),
        (OLD.replace(', region: String @deprecated(reason: "Ignored.")', ""), []),
        (OLD.replace(' HUGE @deprecated(reason: "Use LARGE.")', ""), []),
        (
            OLD.replace('  legacy: Legacy @deprecated(reason: "Gone in 2.0.")\n', "").replace(
                "type Legacy { id: ID! }\n", ""
            ),
            [],
        ),
        # Changing a deprecated field's type is allowed too.
        (OLD.replace('code: String @deprecated(reason: "Use name.")', "code: Int"), []),
        # Anything else that breaks a client is not.
        (OLD.replace(" name: String!", ""), ["Field Plan.name was removed."]),
        (
            OLD.replace("name: String!", "name: Int!"),
            ["Field Plan.name changed type from String! to Int!."],
        ),
        (OLD.replace("plans(first: Int)", "plans"), ["Argument Query.plans(first:) was removed."]),
        (
            OLD.replace("plans(first: Int)", "plans(first: String)"),
            ["Argument Query.plans(first:) has changed type from Int to String."],
        ),
        (OLD.replace(" SMALL", ""), ["Enum value Size.SMALL was removed."]),
        (
            OLD.replace("plans(first: Int)", "plans(first: Int, owner: ID!)"),
            ["A required argument Query.plans(owner:) was added."],
        ),
    ],
)
def test_the_policy(new: str, broken: list[str]) -> None:
    assert breaking_changes(OLD, new) == broken


def test_a_type_still_used_by_a_live_field_cannot_go() -> None:
    old = OLD.replace("type Query {\n", "type Query {\n  current: Legacy\n")
    new = old.replace("  current: Legacy\n", "").replace(
        '  legacy: Legacy @deprecated(reason: "Gone in 2.0.")\n', ""
    )
    new = new.replace("type Legacy { id: ID! }\n", "")
    assert breaking_changes(old, new) == [
        "Legacy was removed.",
        "Field Query.current was removed.",
    ]

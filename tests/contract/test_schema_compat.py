"""Schema changes follow the deprecation policy (docs/deprecation.md): compared structurally
(graphql-core's ``find_breaking_changes``) with the CHECKED-IN schema.graphql — at HEAD and at
the merge base with ``main``, so regenerating the working-tree file cannot hide a break — the
code's schema removes or changes no field, argument or enum value unless the checked-in schema
marked it ``@deprecated`` first. A release may name exceptions in ``RELEASE_EXCEPTIONS`` (dated,
each named in CHANGELOG.md). The policy's rules are checked on small schemas below."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from api.graphql.export import export_sdl

from schema_compat import breaking_changes

ROOT = Path(__file__).resolve().parents[2]

RELEASE = "0.2.0"
"""The release the exceptions below ship in (CHANGELOG.md's `Unreleased` until then)."""

_DECIDED = "2026-12-02"
_KIND_CHANGES = [
    "Field AuditEntry.actorKind changed type from String! to ActorKind!.",
    "Field ProvisionEvent.kind changed type from String! to ProvisionEventKind!.",
    "Field ProvisionKindCount.kind changed type from String! to ProvisionEventKind!.",
    "Argument Query.provisionEvents(kind:) has changed type from String to ProvisionEventKind.",
    "Field Viewer.kind changed type from String! to PrincipalKind!.",
]
OWN_PAYLOADS = {
    "cancelSubscription": ("SubscriptionPayload", "CancelSubscriptionPayload"),
    "renewSubscription": ("SubscriptionPayload", "RenewSubscriptionPayload"),
    "changeSubscription": ("SubscriptionPayload", "ChangeSubscriptionPayload"),
    "setMarketplaceOffer": ("MarketplaceOfferPayload", "SetMarketplaceOfferPayload"),
    "updateMarketplaceOffer": ("MarketplaceOfferPayload", "UpdateMarketplaceOfferPayload"),
    "deleteMarketplaceOffer": ("MarketplaceOfferPayload", "DeleteMarketplaceOfferPayload"),
    "extendTrial": ("ApplyTrialPayload", "ExtendTrialPayload"),
    "reactivateTrial": ("ApplyTrialPayload", "ReactivateTrialPayload"),
    "updateWebhookEndpoint": ("WebhookEndpointPayload", "UpdateWebhookEndpointPayload"),
    "deleteWebhookEndpoint": ("WebhookEndpointPayload", "DeleteWebhookEndpointPayload"),
    "reportNamespaceUsage": ("UpsertNamespacePayload", "ReportNamespaceUsagePayload"),
    "replaceInstance": ("RetireInstancePayload", "ReplaceInstancePayload"),
    "retryProvisionEvent": ("ProvisionEventPayload", "RetryProvisionEventPayload"),
    "resolveProvisionEvent": ("ProvisionEventPayload", "ResolveProvisionEventPayload"),
    "createPartner": ("PartnerPayload", "CreatePartnerPayload"),
    "updatePartner": ("PartnerPayload", "UpdatePartnerPayload"),
    "unlinkNamespace": ("LinkNamespacePayload", "UnlinkNamespacePayload"),
    "retryDedicatedTenant": ("DedicatedTenantPayload", "RetryDedicatedTenantPayload"),
    "changeDedicatedTenant": ("DedicatedTenantPayload", "ChangeDedicatedTenantPayload"),
}
"""Each mutation's own payload type (issue 16), with the fields of the type it shared."""
_SHARED_ONLY = {"SubscriptionPayload", "MarketplaceOfferPayload", "WebhookEndpointPayload"} | {
    "ProvisionEventPayload",
    "PartnerPayload",
    "DedicatedTenantPayload",
}
"""Shared payload types no mutation keeps (the others stay with the mutation they are named
after: applyTrial, upsertNamespace, retireInstance, linkNamespace)."""

RELEASE_EXCEPTIONS: dict[str, tuple[str, str]] = {
    **{
        change: (f"{_DECIDED}: kind fields become enums of the strings they were", change)
        for change in _KIND_CHANGES
    },
    **{
        f"Field Mutation.{mutation} changed type from {old}! to {new}!.": (
            f"{_DECIDED}: each mutation its own payload type, same fields",
            f"`{mutation}`: `{old}` → `{new}`",
        )
        for mutation, (old, new) in OWN_PAYLOADS.items()
    },
    **{
        f"{old} was removed.": (f"{_DECIDED}: no mutation returns it any more", f"`{old}`")
        for old in _SHARED_ONLY
    },
}
"""Breaking changes accepted for ``RELEASE`` without a deprecation first, each with the date
and reason it was decided and the words that name it in CHANGELOG.md's Unreleased section.
Empty it once ``RELEASE`` is out (a checked-in schema with the change no longer reports it)."""


def _git(root: Path, *args: str) -> str | None:
    """``git args`` in ``root``; None when it fails (not a repository, no such revision)."""
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=False
        )
    except OSError:
        return None
    return done.stdout if done.returncode == 0 else None


def checked_in_schemas(root: Path) -> dict[str, str]:
    """The schema.graphql clients were promised: as committed at HEAD and at the merge base
    with ``main`` (a branch cannot commit its way past its own break); the file itself only
    outside git."""
    found: dict[str, str] = {}
    for branch in ("main", "origin/main"):
        base = _git(root, "merge-base", "HEAD", branch)
        if base and (text := _git(root, "show", f"{base.strip()}:schema.graphql")) is not None:
            found[f"the merge base with {branch} ({base.strip()[:12]})"] = text
            break
    if (text := _git(root, "show", "HEAD:schema.graphql")) is not None:
        found["HEAD"] = text
    if not found:
        found["schema.graphql (not in git)"] = (root / "schema.graphql").read_text()
    return found


def test_the_code_breaks_nothing_of_the_checked_in_schema() -> None:
    new = export_sdl()
    for where, old in checked_in_schemas(ROOT).items():
        broken = [
            change for change in breaking_changes(old, new) if change not in RELEASE_EXCEPTIONS
        ]
        assert broken == [], (
            f"these changes break clients of schema.graphql at {where}; deprecate first, remove"
            " in a later release (docs/deprecation.md):\n" + "\n".join(broken)
        )


def test_each_release_exception_is_dated_and_in_the_changelog() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text()
    unreleased = changelog.split("## [Unreleased]", 1)[1].split("\n## [", 1)[0]
    for change, (why, named) in RELEASE_EXCEPTIONS.items():
        assert re.match(r"\d{4}-\d{2}-\d{2}: \S", why), f"{change!r}: date it ('YYYY-MM-DD: why')"
        assert named in unreleased, f"CHANGELOG.md's Unreleased section must name {named!r}"


def test_the_baseline_is_the_committed_schema_not_the_working_tree(tmp_path: Path) -> None:
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    (tmp_path / "schema.graphql").write_text("type Query { a: Int }\n")
    subprocess.run([*git, "add", "schema.graphql"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "one"], check=True)
    subprocess.run([*git, "checkout", "-q", "-b", "topic"], check=True)
    (tmp_path / "schema.graphql").write_text("type Query { b: Int }\n")
    subprocess.run([*git, "commit", "-q", "-am", "two"], check=True)
    (tmp_path / "schema.graphql").write_text("type Query { c: Int }\n")  # regenerated, uncommitted

    found = checked_in_schemas(tmp_path)

    assert sorted(found.values()) == ["type Query { a: Int }\n", "type Query { b: Int }\n"]
    assert breaking_changes(found["HEAD"], "type Query { c: Int }") == [
        "Field Query.b was removed."
    ]


def test_outside_git_the_file_is_the_baseline(tmp_path: Path) -> None:
    (tmp_path / "schema.graphql").write_text("type Query { a: Int }\n")
    assert checked_in_schemas(tmp_path) == {
        "schema.graphql (not in git)": "type Query { a: Int }\n"
    }


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

"""The ``provision`` command line, parsed in process: one-line help on every subcommand,
``--version``, IDs as the API shows them wherever an id is taken, known scopes only, and the
proxy options of ``serve``."""

from __future__ import annotations

import argparse
import importlib.metadata
import uuid
from collections.abc import Iterator

import pytest

from api.cli.main import build_parser
from api.ids import global_id
from api.settings import Settings, SettingsError
from domain.policy import ALL_SCOPES

LOCAL = uuid.UUID("0190a2b3-c4d5-7e8f-9a0b-1c2d3e4f5a6b")


def subcommands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], str | None]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, child in action.choices.items():
                yield (*path, name), helps.get(name)
                yield from subcommands(child, (*path, name))


def test_every_subcommand_has_a_one_line_help() -> None:
    found = dict(subcommands(build_parser()))
    assert ("token", "issue") in found
    assert ("license", "verify") in found
    assert len(found) >= 20
    for path, text in found.items():
        assert text, f"provision {' '.join(path)} has no help"
        assert "\n" not in text
        assert len(text) <= 80, f"provision {' '.join(path)}: {len(text)} characters"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"provision {importlib.metadata.version('provision')}"


def refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(argv)
    assert exited.value.code == 2
    return capsys.readouterr().err


TOKEN = ["token", "issue", "--kind", "INSTANCE", "--subject", "i-1"]


@pytest.mark.parametrize(
    ("argv", "type_name", "attribute"),
    [
        ([*TOKEN, "--subscription"], "Subscription", "subscription"),
        (["user", "create", "--email", "a@b.example", "--customer"], "Customer", "customer"),
    ],
)
def test_ids_are_taken_as_the_api_shows_them_or_as_uuids(
    argv: list[str], type_name: str, attribute: str, capsys: pytest.CaptureFixture[str]
) -> None:
    shown = global_id(type_name, LOCAL)
    assert getattr(build_parser().parse_args([*argv, shown]), attribute) == LOCAL
    assert getattr(build_parser().parse_args([*argv, str(LOCAL)]), attribute) == LOCAL
    other = global_id("License", LOCAL)
    message = refused([*argv, other], capsys)
    assert f"'{other}' is the ID of a License, not of a {type_name}" in message
    message = refused([*argv, "sub_nothex"], capsys)
    assert f"'sub_nothex' is not a {type_name} ID" in message


def test_token_issue_refuses_an_unknown_scope_naming_the_known_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    message = refused(
        ["token", "issue", "--kind", "STAFF", "--subject", "s", "--scope", "subscriptions:rad"],
        capsys,
    )
    assert "unknown scope 'subscriptions:rad'" in message
    for scope in ALL_SCOPES:
        assert scope in message
    parsed = build_parser().parse_args(
        ["token", "issue", "--kind", "STAFF", "--subject", "s", "--scope", "audit:read"]
    )
    assert parsed.scope == ["audit:read"]


def test_serve_takes_uvicorns_proxy_options(capsys: pytest.CaptureFixture[str]) -> None:
    parsed = build_parser().parse_args(
        ["serve", "--no-proxy-headers", "--forwarded-allow-ips", "10.0.0.0/8, 192.168.1.7"]
    )
    assert parsed.proxy_headers is False
    assert parsed.forwarded_allow_ips == "10.0.0.0/8,192.168.1.7"
    assert build_parser().parse_args(["serve"]).proxy_headers is None  # the setting decides
    message = refused(["serve", "--forwarded-allow-ips", "proxy.internal"], capsys)
    assert "comma-separated IP addresses or networks" in message


def test_the_proxy_settings_are_checked() -> None:
    assert Settings.from_env({}).proxy_headers is True
    assert Settings.from_env({}).forwarded_allow_ips == "127.0.0.1"
    assert Settings.from_env({"PROVISION_FORWARDED_ALLOW_IPS": "*"}).forwarded_allow_ips == "*"
    with pytest.raises(SettingsError, match="PROVISION_FORWARDED_ALLOW_IPS"):
        Settings.from_env({"PROVISION_FORWARDED_ALLOW_IPS": "10.0.0.300"})
    with pytest.raises(SettingsError, match="PROVISION_PROXY_HEADERS"):
        Settings.from_env({"PROVISION_PROXY_HEADERS": "maybe"})

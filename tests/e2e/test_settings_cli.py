"""Settings from the real ``provision`` command: a bad value is one line naming the variable
and what it accepts, exit 2, no traceback; ``provision config`` shows every variable, where
its value came from, and never a secret."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from api.settings import VARIABLES

from provision_process import PROVISION, environment

pytestmark = pytest.mark.slow  # the suite's second step (docs/testing.md)

BAD_VALUES = [
    ("serve", "PROVISION_PORT", "abc", "PROVISION_PORT: expected an integer 1-65535, got 'abc'"),
    (
        "serve",
        "PROVISION_PORT",
        "70000",
        "PROVISION_PORT: expected an integer 1-65535, got '70000'",
    ),
    (
        "worker",
        "PROVISION_WORKER_CONCURRENCY",
        "-3",
        "PROVISION_WORKER_CONCURRENCY: expected an integer >= 1, got '-3'",
    ),
    (
        "migrate",
        "PROVISION_GRAPHIQL",
        "maybe",
        "PROVISION_GRAPHIQL: expected true or false (also 1/0, yes/no, on/off), got 'maybe'",
    ),
    (
        "serve",
        "PROVISION_ISSUER",
        "provision.example",
        "PROVISION_ISSUER: expected a http:// or https:// URL with a host, got 'provision.example'",
    ),
    (
        "worker",
        "PROVISION_WORKER_POLL_SECONDS",
        "soon",
        "PROVISION_WORKER_POLL_SECONDS: expected a number > 0 (seconds), got 'soon'",
    ),
    (
        "serve",
        "PROVISION_LOG_LEVEL",
        "loud",
        "PROVISION_LOG_LEVEL: expected one of debug, info, warning, error, critical, got 'loud'",
    ),
    (
        "migrate",
        "DATABASE_URL",
        "mysql://db/provision",
        "DATABASE_URL: expected a postgres:// or postgresql:// URL, got 'mysql://db/provision'",
    ),
    (
        "serve",
        "PROVISION_EXTERNAL_ISSUER",
        "https://id.example",
        "set both PROVISION_EXTERNAL_ISSUER and PROVISION_EXTERNAL_JWKS_URL, or neither",
    ),
]


@pytest.mark.parametrize(
    ("command", "name", "value", "message"),
    BAD_VALUES,
    ids=[f"{command}-{name}={value}" for command, name, value, _ in BAD_VALUES],
)
def test_a_bad_value_is_one_line_and_exit_2(
    tmp_path: Path, command: str, name: str, value: str, message: str
) -> None:
    env = {**environment(tmp_path / "data"), name: value}
    done = subprocess.run([*PROVISION, command], env=env, capture_output=True, timeout=60)
    assert done.returncode == 2, done.stderr.decode()
    assert done.stderr.decode().splitlines() == [message]
    assert done.stdout == b""
    assert not (tmp_path / "data").exists(), "nothing may start before the settings are valid"


SECRETS = {
    "DATABASE_URL": "postgresql://ops:db-pass-a1b2@db.internal:5432/provision",
    "SMTP_URL": "smtp://mailer:smtp-pass-c3d4@mail.internal:587?starttls=true",
    "PROVISION_GITLAB_COM_ADMIN_TOKEN": "admin-token-e5f6",
    "PROVISION_METRICS_TOKEN": "metrics-token-g7h8",
    "PROVISION_ALERT_WEBHOOK_URL": "https://hooks.example/services/T0/B0/hook-secret-i9j0",
}
SECRET_TEXT = ("db-pass-a1b2", "smtp-pass-c3d4", "admin-token-e5f6", "metrics-token-g7h8")


def test_config_prints_every_variable_and_masks_secrets(tmp_path: Path) -> None:
    env = {**environment(tmp_path / "data"), **SECRETS, "PROVISION_PORT": "9001"}
    env.pop("PROVISION_WORKERS", None)
    as_json = subprocess.run(
        [*PROVISION, "config", "--json"], env=env, capture_output=True, timeout=60
    )
    assert as_json.returncode == 0, as_json.stderr.decode()
    rows = {row["name"]: row for row in json.loads(as_json.stdout)}
    assert list(rows) == [variable.name for variable in VARIABLES]
    assert rows["PROVISION_PORT"] == {
        "name": "PROVISION_PORT",
        "value": "9001",
        "source": "environment",
    }
    assert rows["PROVISION_WORKERS"] == {
        "name": "PROVISION_WORKERS",
        "value": "1",
        "source": "default",
    }
    assert rows["DATABASE_URL"]["value"] == "postgresql://ops:********@db.internal:5432/provision"
    assert rows["SMTP_URL"]["value"] == "smtp://mailer:********@mail.internal:587?********"
    assert rows["PROVISION_METRICS_TOKEN"]["value"] == "********"
    assert rows["PROVISION_ALERT_WEBHOOK_URL"]["value"] == "https://hooks.example/********"
    as_text = subprocess.run([*PROVISION, "config"], env=env, capture_output=True, timeout=60)
    assert as_text.returncode == 0, as_text.stderr.decode()
    table = as_text.stdout.decode()
    assert len(table.splitlines()) == len(VARIABLES)
    assert any(
        line.split() == ["PROVISION_PORT", "9001", "(environment)"] for line in table.splitlines()
    )
    for output in (
        as_json.stdout.decode(),
        table,
        as_json.stderr.decode(),
        as_text.stderr.decode(),
    ):
        for secret in (*SECRET_TEXT, "hook-secret-i9j0"):
            assert secret not in output


def test_an_unknown_provision_variable_is_named_in_a_warning(tmp_path: Path) -> None:
    env = {**environment(tmp_path / "data"), "PROVISION_PROT": "9001"}
    done = subprocess.run([*PROVISION, "config"], env=env, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    [warning] = [line for line in done.stderr.decode().splitlines() if "PROVISION_PROT" in line]
    assert " WARNING provision PROVISION_PROT is not a Provision setting: ignored" in warning

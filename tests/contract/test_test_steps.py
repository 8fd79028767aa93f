"""The suite runs in two steps (docs/testing.md, "Limits"): the README's test command is
``-m "not slow"`` then ``-m slow``, which together select every test, and ``.ci/run`` runs
exactly those steps, plain and each under ``.ci/at-date``, and no other pytest command."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STEPS = [
    '.venv/bin/python -m pytest -m "not slow"',
    ".venv/bin/python -m pytest -m slow",
]
SHIFTED = ".ci/at-date '+1 year 1 day'"


def readme_test_block() -> list[str]:
    """The lines of the README's first ``sh`` block that runs pytest (its test command)."""
    readme = (ROOT / "README.md").read_text()
    for block in re.findall(r"```sh\n(.*?)```", readme, flags=re.DOTALL):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        if any("pytest" in line for line in lines):
            return lines
    raise AssertionError("the README shows no test command")


def ci_pytest_lines() -> list[str]:
    run = (ROOT / ".ci" / "run").read_text().splitlines()
    return [line.strip() for line in run if "pytest" in line and not line.lstrip().startswith("#")]


def test_the_readme_test_command_is_the_two_complementary_steps() -> None:
    # `-m "not slow"` and `-m slow`: every test is in exactly one of them.
    assert readme_test_block() == STEPS


def test_ci_runs_the_readme_steps_plain_and_then_shifted() -> None:
    assert ci_pytest_lines() == [*STEPS, *(f"{SHIFTED} {step}" for step in STEPS)]

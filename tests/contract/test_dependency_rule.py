"""The dependency rule, as pyproject.toml's [tool.importlinter] contracts state it (domain
imports none of ours and no library; persistence, auth and integrations import the domain and
not each other beyond the written exceptions; only api imports api; the entry points in api
are independent of each other), plus what import-linter cannot state: the domain imports the
standard library only, and no module anywhere is part of an import circle."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Mapping
from pathlib import Path

import grimp
import pytest
from importlinter.api import read_configuration

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("domain", "persistence", "auth", "integrations", "api")


def import_cycles(imports: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0
    for start in sorted(imports):
        if start in index:
            continue
        work = [(start, iter(sorted(imports.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = counter
                    counter += 1
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(imports.get(successor, ())))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        cycles.append(sorted(component))
    return cycles


def _graph(*packages: str, external: bool = False) -> grimp.ImportGraph:
    return grimp.build_graph(*packages, include_external_packages=external, cache_dir=None)


def _imports(graph: grimp.ImportGraph) -> dict[str, set[str]]:
    return {module: graph.find_modules_directly_imported_by(module) for module in graph.modules}


def _lint(config: Path, cwd: Path, pythonpath: Path | None = None) -> int:
    # In a process of its own: lint-imports configures logging (disabling the loggers that
    # exist), which would silence the other tests' logs.
    command = "from importlinter.cli import lint_imports_command; lint_imports_command()"
    env = {**os.environ, "PYTHONPATH": str(pythonpath)} if pythonpath else None
    return subprocess.run(
        [sys.executable, "-c", command, "--config", str(config), "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        check=False,
    ).returncode


def test_the_import_linter_contracts_hold() -> None:
    assert len(read_configuration(str(ROOT / "pyproject.toml"))["contracts_options"]) >= 6
    assert _lint(ROOT / "pyproject.toml", ROOT) == 0


def test_a_broken_contract_fails_the_lint(tmp_path: Path) -> None:
    package = tmp_path / "rule_demo"
    (package / "core").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "core" / "__init__.py").write_text("from rule_demo import entry\n")
    (package / "entry.py").write_text("")
    config = tmp_path / "pyproject.toml"
    config.write_text(
        textwrap.dedent(
            """
            [tool.importlinter]
            root_packages = ["rule_demo"]

            [[tool.importlinter.contracts]]
            name = "core imports no entry point"
            type = "forbidden"
            source_modules = ["rule_demo.core"]
            forbidden_modules = ["rule_demo.entry"]
            """
        )
    )
    assert _lint(config, tmp_path, pythonpath=tmp_path) == 1


def test_no_module_is_part_of_an_import_circle() -> None:
    # Every import counts: at module level, inside functions, under TYPE_CHECKING.
    assert import_cycles(_imports(_graph(*PACKAGES))) == []


def test_the_domain_uses_the_standard_library_only() -> None:
    graph = _graph(*PACKAGES, external=True)
    imported = {
        name.split(".")[0]
        for module in graph.find_descendants("domain") | {"domain"}
        for name in graph.find_modules_directly_imported_by(module)
    }
    assert imported - set(sys.stdlib_module_names) - {"domain"} == set()


def test_a_circle_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "circle_demo"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from circle_demo import b\n")
    (package / "b.py").write_text(
        textwrap.dedent(
            """
            def late():
                from circle_demo import c
            """
        )
    )
    (package / "c.py").write_text("import circle_demo.a\n")
    (package / "d.py").write_text("import circle_demo.a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    cycles = import_cycles(_imports(_graph("circle_demo")))
    assert cycles == [["circle_demo.a", "circle_demo.b", "circle_demo.c"]]


def test_api_holds_entry_point_folders_and_only_the_root_and_shared_helpers() -> None:
    # docs/layout.md: app.py (composition root), settings.py and at most three helpers every
    # entry point shares; each entry point in its folder.
    modules = {path.name for path in (ROOT / "api").glob("*.py")}
    assert modules == {"__init__.py", "app.py", "settings.py", "commands.py", "ids.py"}
    folders = {path.name for path in (ROOT / "api").iterdir() if (path / "__init__.py").exists()}
    assert folders == {"cli", "graphql", "http", "portal", "rest", "worker"}

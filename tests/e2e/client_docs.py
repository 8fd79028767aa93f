"""Run the worked examples of ``docs/clients/*.md``: their code blocks, read from the pages.

A page's fenced blocks are read in order:

- ```` ```graphql ````: a GraphQL document, validated against the schema;
- ```` ```python ````: run, in one namespace per page (a later block may use what an earlier
  one defined), with the page's environment in ``os.environ``;
- ```` ```sh ````: each line run as the shell would, for the subset the pages use: comments,
  ``NAME=value`` (also ``export``), ``NAME=$(COMMAND)`` and ``NAME=$(COMMAND | jq -r PATH)``,
  where ``COMMAND`` is ``curl …`` (sent with httpx to the served app, no network) or
  ``provision …`` (the real CLI, on the test database); any other line fails the test;
- ```` ```json ```` right after a python or sh block: the answer shown for it (what the
  python block printed, or the last command's output; a raw string when it is not JSON, as
  ``jq -r`` prints), compared as JSON. A string ``"…"`` stands for any value, and ``…`` inside
  a string for any characters.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from provision_process import PROVISION

FENCE = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```\s*$", re.DOTALL | re.MULTILINE)
ASSIGNMENT = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.DOTALL)
SUBSTITUTION = re.compile(r"^\$\((.*)\)$", re.DOTALL)
JQ = re.compile(r"^(.*?)\s*\|\s*jq\s+-r\s+(\S+)\s*$", re.DOTALL)
VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
ANY = "…"


@dataclass(frozen=True)
class Block:
    language: str
    text: str
    line: int
    answer: Block | None = None

    def where(self, page: Path) -> str:
        return f"{page.name}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The page's fenced blocks, each python or sh block with the json block shown after it."""
    text = page.read_text()
    found = [
        Block(m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1)
        for m in FENCE.finditer(text)
    ]
    paired: list[Block] = []
    for i, block in enumerate(found):
        after = found[i + 1] if i + 1 < len(found) else None
        if block.language in ("python", "sh") and after is not None and after.language == "json":
            block = Block(block.language, block.text, block.line, after)
        paired.append(block)
    return paired


def matches(expected: Any, actual: Any) -> bool:
    """``actual`` is what ``expected`` shows, ``…`` standing for what differs from run to run."""
    if expected == ANY:
        return True
    if isinstance(expected, str) and ANY in expected:
        pattern = ".*".join(re.escape(piece) for piece in expected.split(ANY))
        return isinstance(actual, str) and re.fullmatch(pattern, actual, re.DOTALL) is not None
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and expected.keys() == actual.keys()
            and all(matches(v, actual[k]) for k, v in expected.items())
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(matches(e, a) for e, a in zip(expected, actual, strict=True))
        )
    return bool(expected == actual and type(expected) is type(actual))


def check_answer(block: Block, page: Path, output: str) -> None:
    if block.answer is None:
        return
    expected = json.loads(block.answer.text)
    try:
        actual = json.loads(output)
    except json.JSONDecodeError:
        actual = output.strip()  # jq -r prints strings raw
    assert matches(expected, actual), (
        f"{block.where(page)}: the answer shown at line {block.answer.line} is not what came:\n"
        f"{json.dumps(actual, indent=2)}"
    )


def run_python(block: Block, page: Path, namespace: dict[str, Any]) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block.text, block.where(page), "exec"), namespace)
    check_answer(block, page, out.getvalue())


@dataclass
class Shell:
    """The shell subset the sh blocks use; ``env`` is the page's environment (and grows)."""

    env: dict[str, str]
    database_url: str
    issuer: str
    ran: list[httpx.Request] = field(default_factory=list)

    def run(self, block: Block, page: Path) -> None:
        output = ""
        for line in logical_lines(block.text):
            output = self.line(line, f"{block.where(page)}: {line[:60]}")
        check_answer(block, page, output)

    def line(self, line: str, where: str) -> str:
        assigned = ASSIGNMENT.match(line)
        if assigned:
            name, value = assigned.groups()
            substituted = SUBSTITUTION.match(value.strip())
            if substituted:
                self.env[name] = self.command(substituted.group(1), where).strip()
            else:
                [self.env[name]] = shlex.split(self.expand(value))
            return ""
        return self.command(line, where)

    def command(self, line: str, where: str) -> str:
        piped = JQ.match(line)
        command = piped.group(1) if piped else line
        words = shlex.split(self.expand(command), comments=True)
        assert words, where
        if words[0] == "curl":
            output = self.curl(words[1:], where)
        elif words[0] == "provision":
            output = self.provision(words[1:], where)
        else:
            raise AssertionError(f"{where}: the docs test runs curl and provision only")
        if piped:
            output = jq(json.loads(output), piped.group(2), where)
        return output

    def expand(self, text: str) -> str:
        """``$NAME`` and ``${NAME}`` outside single quotes, as the shell does; unknown: fail."""
        pieces = re.split(r"('[^']*')", text)

        def value(m: re.Match[str]) -> str:
            name = m.group(1) or m.group(2)
            assert name in self.env, f"the example uses ${name}, which nothing set"
            return self.env[name]

        return "".join(p if p.startswith("'") else VARIABLE.sub(value, p) for p in pieces)

    def curl(self, args: list[str], where: str) -> str:
        method: str | None = None
        headers: dict[str, str] = {}
        data: list[str] = []
        url: str | None = None
        write_out: str | None = None
        quiet_body = False
        get = False
        words = iter(args)
        for word in words:
            if word in ("-s", "-S", "-sS", "-f", "-fsS", "--silent", "--show-error"):
                continue
            if word in ("-X", "--request"):
                method = next(words)
            elif word in ("-H", "--header"):
                name, _, header = next(words).partition(":")
                headers[name.strip()] = header.strip()
            elif word in ("-d", "--data", "--data-raw"):
                piece = next(words)
                assert not piece.startswith("@"), f"{where}: -d @file is not supported"
                data.append(piece)
            elif word == "--data-urlencode":
                name, _, raw = next(words).partition("=")
                data.append(f"{name}={quote(raw, safe='')}")
            elif word in ("-u", "--user"):
                basic = base64.b64encode(next(words).encode()).decode()
                headers["Authorization"] = f"Basic {basic}"
            elif word in ("-G", "--get"):
                get = True
            elif word in ("-o", "--output"):
                assert next(words) == "/dev/null", where
                quiet_body = True
            elif word in ("-w", "--write-out"):
                write_out = next(words)
            elif word.startswith("-"):
                raise AssertionError(f"{where}: curl option {word} is not supported by the test")
            else:
                assert url is None, f"{where}: two URLs"
                url = word
        assert url is not None, f"{where}: no URL"
        assert url.startswith(self.env["API"]), f"{where}: URL {url}"
        body = "&".join(data)
        if get and body:
            url += ("&" if "?" in url else "?") + body
            body = ""
        if body and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        request = httpx.Request(
            method or ("POST" if body else "GET"), url, headers=headers, content=body or None
        )
        self.ran.append(request)
        with httpx.Client(timeout=30) as http:
            response = http.send(request)
        output = "" if quiet_body else response.text
        if write_out is not None:
            assert write_out.replace("\\n", "") == "%{http_code}", f"{where}: -w {write_out}"
            output += str(response.status_code)
        return output

    def provision(self, args: list[str], where: str) -> str:
        env = {k: v for k, v in os.environ.items() if k != "PICCOLO_CONF"}
        env["DATABASE_URL"] = self.database_url
        env["PROVISION_ISSUER"] = self.issuer
        ran = subprocess.run(
            [*PROVISION, *args], env=env, capture_output=True, timeout=60, check=False
        )
        assert ran.returncode == 0, f"{where}: exit {ran.returncode}\n{ran.stderr.decode()}"
        return ran.stdout.decode()


def logical_lines(text: str) -> list[str]:
    """The commands of a block as the shell reads them: a line ending in a backslash goes on,
    and so does one inside an open quote; blank lines and comments left out."""
    commands: list[str] = []
    current = ""
    for raw in text.splitlines():
        current = f"{current}\n{raw}" if current else raw
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        try:
            words = shlex.split(current, comments=True)
        except ValueError:  # "No closing quotation": the command goes on
            continue
        if words:
            commands.append(current.strip())
        current = ""
    assert not current.strip(), f"an unfinished command: {current[:80]}"
    return commands


def jq(value: Any, path: str, where: str) -> str:
    """``jq -r`` for the paths the pages use: ``.a.b``, ``.a[0].b``, ``.a["9001"]``."""
    path = path.strip("'\"")
    assert path.startswith("."), f"{where}: jq path {path}"
    steps = re.findall(r'\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\["([^"]+)"\]', path)
    for key, index, quoted in steps:
        value = value[key or quoted] if (key or quoted) else value[int(index)]
    return value if isinstance(value, str) else json.dumps(value)


CLI_IN_CODE = re.compile(r"(?:^|\$\()[ \t]*(provision [^\n)`]+)", re.MULTILINE)
CLI_INLINE = re.compile(r"`(provision [^`]+)`")


def cli_commands(page: Path) -> list[str]:
    """Every ``provision …`` command the page shows: in code blocks (indented ones too, and
    inside ``$(…)``) and in inline code."""
    text = page.read_text()
    code = "\n".join(
        m.group(2)
        for m in re.finditer(r"^[ \t]*```(\w*)\n(.*?)^[ \t]*```", text, re.DOTALL | re.MULTILINE)
    )
    code = re.sub(r"\\\n\s*", " ", code)
    found = [m.group(1).strip() for m in CLI_IN_CODE.finditer(code)]
    found += [" ".join(m.group(1).split()) for m in CLI_INLINE.finditer(text)]
    return found

"""Driving an endpoint with wrk and reading requests/s and latency percentiles from its report."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_LATENCY = re.compile(r"^\s*(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\s*$", re.MULTILINE)
_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_TOTAL = re.compile(r"^\s*(\d+) requests in", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET_ERRORS = re.compile(r"Socket errors:\s+(.*)")


@dataclass(frozen=True)
class Endpoint:
    """What wrk sends: a GET, or a POST of ``body`` as JSON."""

    name: str
    path: str
    body: str | None = None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Result:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int


@dataclass(frozen=True)
class Load:
    """wrk's knobs: threads, open connections, seconds per measured run and per warm-up."""

    threads: int = 2
    connections: int = 16
    seconds: int = 15
    warmup_seconds: int = 3


def require_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        sys.exit("wrk is not installed; install it with `apt-get install wrk` (Debian/Ubuntu)")
    return wrk


def _long_string(text: str) -> str:
    # A Lua long bracket takes the text verbatim; pick a level the text does not close.
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    eq = "=" * level
    return f"[{eq}[{text}]{eq}]"


def _lua(endpoint: Endpoint) -> str:
    # Header names and values are ASCII; JSON's string escapes are valid Lua.
    lines = [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in endpoint.headers]
    if endpoint.body is not None:
        lines += [
            'wrk.method = "POST"',
            'wrk.headers["Content-Type"] = "application/json"',
            f"wrk.body = {_long_string(endpoint.body)}",
        ]
    return "\n".join(lines) + "\n"


def parse(report: str) -> Result:
    """Read wrk's ``--latency`` report; a run with errors is rejected, not averaged in."""
    failures = [f"non-2xx responses: {m.group(1)}" for m in _NON_2XX.finditer(report)]
    failures += [f"socket errors: {m.group(1)}" for m in _SOCKET_ERRORS.finditer(report)]
    if failures:
        raise RuntimeError(f"wrk saw failures ({'; '.join(failures)}):\n{report}")
    latencies = {
        m.group(1): float(m.group(2)) * _UNIT_MS[m.group(3)] for m in _LATENCY.finditer(report)
    }
    rate, total = _RATE.search(report), _TOTAL.search(report)
    if rate is None or total is None or set(latencies) != {"50", "99"}:
        raise RuntimeError(f"could not read wrk's report:\n{report}")
    return Result(float(rate.group(1)), latencies["50"], latencies["99"], int(total.group(1)))


def run_wrk(wrk: str, base_url: str, endpoint: Endpoint, load: Load, *, seconds: int) -> Result:
    with tempfile.TemporaryDirectory(prefix="provision-bench-wrk-") as directory:
        command = [
            wrk,
            f"-t{load.threads}",
            f"-c{load.connections}",
            f"-d{seconds}s",
            "--latency",
            "--timeout",
            "10s",
        ]
        if endpoint.body is not None or endpoint.headers:
            script = Path(directory) / "request.lua"
            script.write_text(_lua(endpoint))
            command += ["-s", str(script)]
        command.append(base_url + endpoint.path)
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse(done.stdout)

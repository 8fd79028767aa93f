"""What ``provision serve`` writes: the human format by default, JSON with
PROVISION_LOG_FORMAT=json (uvicorn's own lines included, and no uvicorn access line), one
access line per request without its query string, PROVISION_LOG_LEVEL obeyed, and a client
that vanishes mid-body an INFO line rather than an error with a traceback."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import httpx

from provision_process import PROVISION, Served, _wait_until_ready, free_port, serving
from raw_http import Connection, get, post_graphql

LOG_WAIT_SECONDS = 10.0


def _line_with(log: Path, needle: str) -> str:
    """The first line of the server's log containing ``needle``, waiting for it to be written
    (the server writes its access line after the answer is sent)."""
    deadline = time.monotonic() + LOG_WAIT_SECONDS
    while True:
        for line in log.read_text().splitlines():
            if needle in line:
                return line
        if time.monotonic() > deadline:
            raise AssertionError(f"no line with {needle!r} in:\n{log.read_text()}")
        time.sleep(0.05)


HUMAN_ACCESS = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO provision\.access GET /healthz 200 [\d.]+ ms"
    r" request_id=logs-human-1 principal_kind=ANONYMOUS$"
)


def test_the_human_format_is_the_default(served: Served, port: int) -> None:
    with Connection(port) as connection:
        assert connection.exchange(get("/healthz", request_id="logs-human-1")).status == 200
    line = _line_with(served.log, "request_id=logs-human-1")
    assert HUMAN_ACCESS.match(line), line
    assert not line.startswith("{")


def test_a_client_gone_mid_body_is_an_info_line(served: Served, port: int) -> None:
    vanishing = Connection(port)
    vanishing.send(post_graphql("{ viewer { kind } }", request_id="logs-vanish-1")[:-10])
    # A FIN, not a reset: the headers reach the server before the end of the stream does.
    vanishing.close()
    line = _line_with(served.log, "request_id=logs-vanish-1")
    assert " INFO provision.access POST /graphql 499 " in line, line
    assert "the client went away before its body was read" in line
    log = served.log.read_text()
    assert "Exception in ASGI application" not in log
    assert "ClientDisconnect" not in log


def test_json_lines_from_the_served_app_and_uvicorn(
    serve_env: dict[str, str], staff_token: str, tmp_path: Path
) -> None:
    env = {**serve_env, "PROVISION_LOG_FORMAT": "json"}
    query = quote("query Probe { viewer { kind } }")
    with serving(env, tmp_path) as served:
        answer = httpx.get(
            f"{served.base}/graphql?query={query}&access_token=query-string-secret-2",
            headers={"Authorization": f"Bearer {staff_token}", "X-Request-Id": "logs-json-1"},
        )
        assert answer.json()["data"] == {"viewer": {"kind": "STAFF"}}
        _line_with(served.log, '"request_id": "logs-json-1"')
    text = served.log.read_text()
    lines = [json.loads(line) for line in text.splitlines()]  # every line is one object
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    assert any(
        line["logger"].startswith("uvicorn") and "Application startup complete" in line["message"]
        for line in lines
    )
    [access] = [line for line in lines if line.get("request_id") == "logs-json-1"]
    assert access["logger"] == "provision.access"
    assert (access["method"], access["path"], access["status"]) == ("GET", "/graphql", 200)
    assert (access["principal_kind"], access["operation"]) == ("STAFF", "Probe")
    assert access["duration_ms"] > 0
    assert "query-string-secret-2" not in text
    assert staff_token not in text
    assert 'HTTP/1.1"' not in text, "uvicorn's own access line is off"


def test_the_level_comes_from_provision_log_level(
    served: Served, serve_env: dict[str, str], tmp_path: Path
) -> None:
    bad = {"Authorization": "Bearer not-a-token"}
    # At the default level (info) a refused token is logged.
    assert httpx.get(f"{served.base}/graphql?query=%7Bviewer%7Bkind%7D%7D", headers=bad).is_error
    _line_with(served.log, "bearer token refused")

    port = free_port()
    log = tmp_path / "quiet.log"
    env = {**serve_env, "PROVISION_LOG_LEVEL": "warning"}
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*PROVISION, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    quiet = Served(port, log)
    try:
        _wait_until_ready(process, quiet)
        refused = httpx.get(f"{quiet.base}/graphql?query=%7Bviewer%7Bkind%7D%7D", headers=bad)
        assert refused.status_code == 401
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0, log.read_text()
    text = log.read_text()
    assert "bearer token refused" not in text
    assert " INFO " not in text, text
    assert "provision.access" not in text

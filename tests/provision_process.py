"""The ``provision`` command as a subprocess: ``serve`` until /readyz answers, ``token issue``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

PROVISION = [sys.executable, "-m", "api.cli.main"]
READY_WITHIN_SECONDS = 30
STOP_WITHIN_SECONDS = 30


@dataclass(frozen=True)
class Served:
    """A running ``provision serve``: where it listens and where its output goes."""

    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def environment(data_dir: Path, database_url: str | None = None) -> dict[str, str]:
    """This process's environment for a ``provision`` command: the embedded PostgreSQL's
    data in ``data_dir``, or the server at ``database_url``."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PICCOLO_CONF")}
    env["PROVISION_DATA_DIR"] = str(data_dir)
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


@contextmanager
def serving(
    env: dict[str, str],
    log_dir: Path,
    *,
    stop: signal.Signals = signal.SIGINT,
    exit_code: int = 0,
    port: int | None = None,
    args: tuple[str, ...] = (),
) -> Iterator[Served]:
    """``provision serve`` on 127.0.0.1 and a free port, once /readyz answers 200; stopped by
    ``stop`` at the end, after which it must have shut its app down and exited with
    ``exit_code`` (killed if it is still running 30 s later). Every failure carries the
    server's output (stdout and stderr, in ``Served.log``). ``port``: a free one chosen
    before (a server that must know its own address, ``PROVISION_ISSUER``). ``args``: more
    options for ``serve`` (``--forwarded-allow-ips …``)."""
    port = port or free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"serve-{port}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*PROVISION, "serve", "--host", "127.0.0.1", "--port", str(port), *args],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    served = Served(port, log)
    try:
        _wait_until_ready(process, served)
    except BaseException:
        process.kill()
        process.wait()
        raise
    try:
        yield served
    finally:
        _stop(process, stop, exit_code, served)


@contextmanager
def serving_all(envs: list[dict[str, str]], log_dir: Path) -> Iterator[list[Served]]:
    """Several ``provision serve`` at once (one per environment), started together and each
    waited for as ``serving`` does; all stopped by SIGINT at the end, each checked."""
    log_dir.mkdir(parents=True, exist_ok=True)
    started: list[tuple[subprocess.Popen[bytes], Served]] = []
    try:
        for env in envs:
            port = free_port()
            log = log_dir / f"serve-{port}.log"
            with log.open("wb") as output:
                process = subprocess.Popen(
                    [*PROVISION, "serve", "--host", "127.0.0.1", "--port", str(port)],
                    env=env,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                )
            started.append((process, Served(port, log)))
        for process, served in started:
            # Started together, they share the machine: each gets twice the usual time.
            _wait_until_ready(process, served, within=2 * READY_WITHIN_SECONDS)
    except BaseException:
        for process, _ in started:
            process.kill()
            process.wait()
        raise
    try:
        yield [served for _, served in started]
    finally:
        for process, _ in started:
            process.send_signal(signal.SIGINT)
        for process, served in started:
            # Signalled once above: a second SIGINT makes uvicorn force its exit and skip the
            # application's shutdown (seen under load).
            _stop(process, signal.SIGINT, 0, served, signalled=True)


def _wait_until_ready(
    process: subprocess.Popen[bytes], served: Served, within: float = READY_WITHIN_SECONDS
) -> None:
    started = time.monotonic()
    while True:
        code = process.poll()
        if code is not None:
            raise AssertionError(
                f"provision serve exited ({code}) before it was ready:\n{served.log.read_text()}"
            )
        try:
            if httpx.get(f"{served.base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() - started > within:
            raise AssertionError(
                f"provision serve not ready in {within:g} s:\n{served.log.read_text()}"
            )
        time.sleep(0.05)  # a refused connection costs little: poll often


def _stop(
    process: subprocess.Popen[bytes],
    stop: signal.Signals,
    exit_code: int,
    served: Served,
    *,
    signalled: bool = False,
) -> None:
    if not signalled and process.poll() is None:
        process.send_signal(stop)
    try:
        code = process.wait(timeout=STOP_WITHIN_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError(
            f"provision serve still running {STOP_WITHIN_SECONDS} s after {stop.name}, killed:\n"
            f"{served.log.read_text()}"
        ) from None
    output = served.log.read_text()
    assert code == exit_code, f"provision serve exited with {code}, not {exit_code}:\n{output}"
    assert "Application shutdown complete" in output, output


def mint_token(env: dict[str, str], *scopes: str, subject: str = "ops:ada") -> str:
    """A staff token from ``provision token issue`` (every grantable scope unless ``scopes``)."""
    command = [*PROVISION, "token", "issue", "--kind", "STAFF", "--subject", subject]
    for scope in scopes:
        command += ["--scope", scope]
    minted = subprocess.run(command, env=env, capture_output=True, timeout=60)
    assert minted.returncode == 0, minted.stderr.decode()
    token = minted.stdout.decode().strip()
    assert token.count(".") == 2
    return token

"""GraphQL limits under attack: how fast hostile documents are refused, and /healthz meanwhile.

    . .venv/bin/activate
    python bench/graphql_limits.py             # about 20 seconds
    python bench/graphql_limits.py --attacks 20 --levels 40

Serves ``create_app`` with uvicorn in a subprocess (an embedded PostgreSQL in a temporary
directory, or ``BENCH_DATABASE_URL``), then prints: the time to refuse a chain of fragments that
each spread the previous one twice (named, inline, aliases, directives variants), the cost of
the README's query, and /healthz latencies while ``--attacks`` such documents arrive at once.
Targets: refusal < 100 ms, /healthz < 100 ms (PASS/FAIL; the exit status stays 0).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 0.1


def fan_out(variant: str, levels: int) -> str:
    spread = {
        "named": "...F{p} ...F{p}",
        "inline": "... on Query {{ ...F{p} }} ... on Query {{ ...F{p} }}",
        "aliases": "a: viewer {{ kind }} ...F{p} ...F{p}",
        "directives": "...F{p} @include(if: true) ...F{p} @skip(if: false)",
    }[variant]
    fragments = ["fragment F0 on Query { viewer { kind } }"]
    fragments += [
        f"fragment F{level} on Query {{ {spread.format(p=level - 1)} }}"
        for level in range(1, levels + 1)
    ]
    return f"{{ ...F{levels} }}\n" + "\n".join(fragments)


def readme_query() -> str:
    explore = (ROOT / "README.md").read_text().split("## Explore", 1)[1]
    match = re.search(r"```graphql\n(.*?)```", explore, re.S)
    assert match
    return match[1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def served() -> Iterator[str]:
    port = _free_port()
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "PROVISION_DATA_DIR": data, "PROVISION_LOG_LEVEL": "warning"}
        if os.environ.get("BENCH_DATABASE_URL"):
            env["DATABASE_URL"] = os.environ["BENCH_DATABASE_URL"]
        provision = str(Path(sys.executable).with_name("provision"))
        process = subprocess.Popen(
            [provision, "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                        break
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit("the server did not become ready")
                time.sleep(0.2)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)


def verdict(seconds: float) -> str:
    return "PASS" if seconds < TARGET_SECONDS else "FAIL"


async def run(url: str, attacks: int, levels: int) -> None:
    variants = ("named", "inline", "aliases", "directives")
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        print(f"fan-out refusal, {levels} levels (2^{levels} fields expanded):")
        for variant in variants:
            document = fan_out(variant, levels)
            times = []
            for _ in range(5):
                started = time.perf_counter()
                response = await http.post("/graphql", json={"query": document})
                times.append(time.perf_counter() - started)
            code = response.json()["errors"][0]["extensions"]["code"]
            best = min(times)
            print(
                f"  {variant:<10} {len(document):>5} bytes  {best * 1000:7.1f} ms"
                f" (median {statistics.median(times) * 1000:.1f})  {code}  {verdict(best)}"
            )

        body = (await http.post("/graphql", json={"query": readme_query()})).json()
        print(f"README query cost: {body.get('extensions', {}).get('cost')}")

        latencies: list[float] = []
        done = asyncio.Event()

        async def probe() -> None:
            while not done.is_set():
                started = time.perf_counter()
                await http.get("/healthz")
                latencies.append(time.perf_counter() - started)
                await asyncio.sleep(0.005)

        async def attack(i: int) -> float:
            started = time.perf_counter()
            await http.post("/graphql", json={"query": fan_out(variants[i % 4], levels)})
            return time.perf_counter() - started

        prober = asyncio.create_task(probe())
        await asyncio.sleep(0.05)
        started = time.perf_counter()
        answered = await asyncio.gather(*(attack(i) for i in range(attacks)))
        wall = time.perf_counter() - started
        await asyncio.sleep(0.05)
        done.set()
        await prober
        worst = max(latencies)
        print(
            f"{attacks} parallel attacks: all answered in {wall * 1000:.0f} ms"
            f" (slowest {max(answered) * 1000:.0f} ms)"
        )
        print(
            f"/healthz meanwhile: {len(latencies)} probes, median"
            f" {statistics.median(latencies) * 1000:.1f} ms, max {worst * 1000:.1f} ms"
            f"  {verdict(worst)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--attacks", type=int, default=20)
    parser.add_argument("--levels", type=int, default=40)
    arguments = parser.parse_args()
    with served() as url:
        asyncio.run(run(url, arguments.attacks, arguments.levels))


if __name__ == "__main__":
    main()

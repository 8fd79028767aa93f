"""The deployment of docs/deploy.md in small: two ``provision serve`` processes (one with two
uvicorn workers) and two ``provision worker`` processes on one PostgreSQL, nothing else
shared. A mixed load through both servers (reads, and sales whose activation-code emails are
ledger work): both answer everything, every ledger row is run exactly once, and each server's
/metrics counts what it answered, across its uvicorn workers too."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from persistence.database import Database

from ledger_peer import WorkerProcess, start_worker
from ledger_wait import eventually
from provision_process import environment, free_port, mint_token, serving_all

pytestmark = pytest.mark.slow

SALES = 12
SELL = """mutation Sell($input: CreateSubscriptionInput!) { createSubscription(input: $input) {
  subscription { id } errors { code } } }"""
COUNT = "query Count { subscriptions(first: 1) { totalCount } }"


def sale(n: int) -> dict[str, object]:
    return {
        "deployment": "SELF_MANAGED",
        "plan": "PREMIUM",
        "term": {"segments": [{"startDate": "2026-01-01", "endDate": "2027-01-01", "seats": 5}]},
        "newCustomer": {
            "company": f"Company {n}",
            "contactName": "Ada",
            "contactEmail": f"ada{n}@example.test",
        },
    }


def requests_counted(text: str, operation: str) -> float:
    labels = {"route": "/graphql", "operation": operation, "status": "200"}
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "provision_http_requests_total" and sample.labels == labels
    )


async def test_two_servers_and_two_workers_on_one_database(
    clean_db: Database, database_url: str, tmp_path: Path
) -> None:
    env = environment(tmp_path / "unused-data", database_url)
    metrics_ports = [free_port(), free_port()]
    extra = [
        {
            "PROVISION_MAIL_DIR": str(tmp_path / "mail"),
            "PROVISION_WORKER_METRICS_PORT": str(port),
            "PROVISION_METRICS_TOKEN": "scrape-me",
        }
        for port in metrics_ports
    ]
    pool: list[Future[WorkerProcess]] = []

    def stop_started() -> None:
        # When something fails before the workers' own stops are registered below: once the
        # pool has finished starting them (its exit, unwound before this), none is left
        # running to claim the next tests' rows.
        for future in pool:
            if future.done() and future.exception() is None:
                future.result().stop()

    with ExitStack() as stack:
        stack.callback(stop_started)
        # Everything starts at once (each migrates first: one at a time, by an advisory lock).
        starting = stack.enter_context(ThreadPoolExecutor(3))
        minting = starting.submit(mint_token, env)
        pool += [
            starting.submit(start_worker, database_url, tmp_path / f"worker-{n}.log", extra[n])
            for n in range(2)
        ]
        one, two = stack.enter_context(
            serving_all([env, {**env, "PROVISION_WORKERS": "2"}], tmp_path)
        )
        token = minting.result()
        workers = [worker.result() for worker in pool]
        for worker in workers:
            stack.callback(worker.stop)
        headers = {"Authorization": f"Bearer {token}"}
        # No keep-alive: each request is a new connection, so the second server's two
        # processes both answer some.
        limits = httpx.Limits(max_keepalive_connections=0)
        async with (
            httpx.AsyncClient(base_url=one.base, headers=headers, limits=limits) as first,
            httpx.AsyncClient(base_url=two.base, headers=headers, limits=limits) as second,
        ):
            servers = [first, second]

            async def sell(n: int) -> httpx.Response:
                body = {"query": SELL, "operationName": "Sell", "variables": {"input": sale(n)}}
                return await servers[n % 2].post("/graphql", json=body)

            async def count(n: int) -> httpx.Response:
                body = {"query": COUNT, "operationName": "Count"}
                return await servers[(n + 1) % 2].post("/graphql", json=body)

            answers = await asyncio.gather(
                *(call(n) for n in range(SALES) for call in (sell, count))
            )
            for response in answers:
                assert response.status_code == 200, response.text
                assert "errors" not in response.json(), response.text
            sold = [r for r in answers if "createSubscription" in r.json()["data"]]
            assert all(r.json()["data"]["createSubscription"]["errors"] == [] for r in sold)
            assert len(sold) == SALES

            async def all_done() -> bool:
                left = await clean_db.fetchval(
                    "SELECT count(*) FROM provision_event WHERE status <> 'SUCCEEDED'"
                )
                return int(left) == 0

            await eventually(all_done, 60, "every ledger row succeeded")
            scraped = [(await server.get("/metrics")).text for server in servers]
        for text in scraped:  # each server counted what it answered, no more
            assert requests_counted(text, "Sell") == SALES / 2
            assert requests_counted(text, "Count") == SALES / 2
        # Each worker shows its own steps on its port, behind the metrics token.
        emailed = 0.0
        for port in metrics_ports:
            url = f"http://127.0.0.1:{port}/metrics"
            async with httpx.AsyncClient() as scraper:
                assert (await scraper.get(url)).status_code == 401
                answer = await scraper.get(url, headers={"Authorization": "Bearer scrape-me"})
            text = answer.text
            labels = {"kind": "EMAIL", "outcome": "succeeded"}
            emailed += sum(
                sample.value
                for family in text_string_to_metric_families(text)
                for sample in family.samples
                if sample.name == "provision_worker_step_duration_seconds_count"
                and sample.labels == labels
            )
        assert emailed == SALES
        steps = 0
        for worker in workers:
            assert worker.stop() == 0, worker.output()
            ran = re.search(r"stopped: ran (\d+) steps", worker.output())
            assert ran is not None, worker.output()
            steps += int(ran.group(1))
    rows = await clean_db.fetch("SELECT kind, status, attempts FROM provision_event")
    assert len([row for row in rows if row["kind"] == "EMAIL"]) == SALES
    # Exactly once: each row claimed once (a claim counts an attempt), and the workers ran
    # as many steps as there are rows.
    assert {(row["status"], row["attempts"]) for row in rows} == {("SUCCEEDED", 1)}
    assert steps == len(rows)
    assert len(list((tmp_path / "mail").glob("*.eml"))) == SALES

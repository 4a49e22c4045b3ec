"""Figure: submitting over HTTP (the gateway) next to the Python client and a bare FastAPI app.

Three servers' worth of the same work in one run, no worker running:

- the gateway (``schedq api``: bearer auth with the token cache, the Redis rate limit, the body
  cap, scope checks, the ledger INSERT + commit, the publish, the audit row);
- the Python client (``Client.submit`` / ``submit_many``: the ledger and the publish only);
- a bare FastAPI endpoint (``bench/bare_api.py``) that parses the same JSON body and returns,
  under uvicorn with the gateway's settings (one process, no access log): the HTTP ceiling.

Each is driven by one sequential producer (one keep-alive ``httpx.Client`` for HTTP), one job at
a time and in batches of ``load.BATCH``. The gateway's rate limit is raised for the run so every
request does the rate-limit work but none is refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import httpx

from bench import load
from bench.context import Context
from bench.report import Figure, Row
from producers.client import Client
from producers.gateway.clients import create_client
from schedq.processes import free_port, spawn, stop, wait_for_http


@contextmanager
def _server(ctx: Context, args: list[str], name: str) -> Iterator[str]:
    port = free_port()
    env = {"SCHEDQ_API_RATE_LIMIT": "10000000/minute", "SCHEDQ_LOG_LEVEL": "WARNING"}
    proc = spawn([*args, "--port", str(port)], env, ctx.env.log_dir / f"{name}.log")
    try:
        url = f"http://127.0.0.1:{port}"
        if not wait_for_http(f"{url}/livez", timeout=30):
            raise RuntimeError(f"{name} did not start; see {ctx.env.log_dir}/{name}.log")
        yield url
    finally:
        stop(proc)


def _bodies(tag: str, n: int) -> list[dict[str, Any]]:
    return [{"kind": r.kind, "payload": r.payload} for r in load.requests(tag, n, doctors=n)]


def _http_one(url: str, path: str, token: str, bodies: list[dict[str, Any]]) -> float:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
        http.post(path, json=bodies[0]).raise_for_status()  # warm: connection, token cache
        t0 = time.perf_counter()
        for body in bodies[1:]:
            http.post(path, json=body).raise_for_status()
        return (len(bodies) - 1) / (time.perf_counter() - t0)


def _http_batch(url: str, path: str, token: str, bodies: list[dict[str, Any]]) -> float:
    headers = {"Authorization": f"Bearer {token}"}
    batches = [bodies[i : i + load.BATCH] for i in range(0, len(bodies), load.BATCH)]
    with httpx.Client(base_url=url, headers=headers, timeout=120) as http:
        http.get("/livez")
        t0 = time.perf_counter()
        for batch in batches:
            http.post(path, json={"jobs": batch}).raise_for_status()
        return len(bodies) / (time.perf_counter() - t0)


def _client_one(tag: str, n: int) -> float:
    client = Client(submitter=tag)
    reqs = list(load.requests(tag, n, doctors=n))
    client.submit(reqs[0].kind, reqs[0].payload)
    t0 = time.perf_counter()
    for req in reqs[1:]:
        client.submit(req.kind, req.payload)
    return (n - 1) / (time.perf_counter() - t0)


def _client_batch(tag: str, n: int) -> float:
    client = Client(submitter=tag)
    reqs = list(load.requests(tag, n, doctors=n))
    t0 = time.perf_counter()
    for i in range(0, n, load.BATCH):
        client.submit_many(reqs[i : i + load.BATCH])
    return n / (time.perf_counter() - t0)


def run(ctx: Context) -> Figure:
    fig = Figure("gateway", ctx.command("gateway"))
    one, batch = ctx.size.submit_one, ctx.size.submit_batch
    r: dict[str, list[float]] = {k: [] for k in ("h1", "p1", "b1", "hb", "pb", "bb")}
    api = ["schedq.cli.main", "api"]  # spawn runs `python -m <these>`
    bare = ["uvicorn", "--factory", "bench.bare_api:create_app", "--no-access-log",
            "--no-server-header", "--log-level", "warning"]  # fmt: skip
    with _server(ctx, api, "gateway") as gateway, _server(ctx, bare, "bare-api") as noop:
        for i in range(ctx.runs):
            tag = f"gw{i}-{ctx.env.run_id}"
            token = create_client(tag, "submitter", [], [], actor="bench")
            steps: list[tuple[str, Callable[[], float]]] = [
                ("h1", partial(_http_one, gateway, "/v1/jobs", token, _bodies(tag + "h", one))),
                ("p1", partial(_client_one, tag, one)),
                ("b1", partial(_http_one, noop, "/noop", token, _bodies(tag + "b", one))),
                (
                    "hb",
                    partial(
                        _http_batch, gateway, "/v1/jobs:batch", token, _bodies(tag + "hb", batch)
                    ),
                ),
                ("pb", partial(_client_batch, tag, batch)),
                ("bb", partial(_http_batch, noop, "/noop", token, _bodies(tag + "bb", batch))),
            ]
            for key, step in steps:
                r[key].append(step())
            load.forget_jobs(tag)
            rates = ", ".join(f"{k} {v[-1]:.0f}/s" for k, v in r.items())
            print(f"  gateway run {i + 1}: {rates}")
    fig.rows += [
        Row.compare(f"{one} jobs one by one over HTTP", "jobs/s", r["h1"],
                    "Python Client.submit", r["p1"]),
        Row.compare(f"{one} jobs one by one over HTTP", "jobs/s", r["h1"],
                    "bare FastAPI POST", r["b1"]),
        Row.compare(f"{batch} jobs in batches of {load.BATCH} over HTTP", "jobs/s", r["hb"],
                    "Python Client.submit_many", r["pb"]),
        Row.compare(f"{batch} jobs in batches of {load.BATCH} over HTTP", "jobs/s", r["hb"],
                    "bare FastAPI POST", r["bb"]),
    ]  # fmt: skip
    fig.notes.append(
        "One sequential producer per system; HTTP over one keep-alive connection to a single "
        "uvicorn process (`schedq api` and `uvicorn bench.bare_api:create_app`, access log "
        "off). The gateway's jobs are recorded under the API client's name and audited."
    )
    fig.raw = r
    return fig

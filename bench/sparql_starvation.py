"""Does heavy SPARQL starve the other endpoints? Starts `leadgraph serve` over an index on a free
port of 127.0.0.1, measures `/search` and `/health` one request at a time while the server is
idle, then again while `--heavy` clients each keep one heavy SPARQL query in flight, and prints
both, the ratios, and how the SPARQL queries were answered (200, 503 busy, 503 query_timeout).

    .venv/bin/python -m bench.sparql_starvation --index /tmp/devidx
    .venv/bin/python -m bench.sparql_starvation --index /tmp/devidx --code /tmp/old-checkout

`--code` serves another checkout of the project (its `app` and `indexer`, run by this
interpreter), to compare before and after a change. Every loop is bounded: each SPARQL client
sends at most `--max-per-client` queries and stops when the measurements are done; a client
refused with 503 sends its next query at once, as a hostile client would, unless
`--honour-retry-after`. The aim (issue 22): `/search` p99 under load within 2x its idle p99, and
`/health` p99 under 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

HEAVY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
SEARCHES = [
    "who connects leaders and staff",
    "trust",
    "how do managers turn vision into action",
    "accountability and execution",
    "what makes an organization resilient",
]
# run from the checkout served: its own `leadgraph` package, or its top-level `app` before the
# namespace (a checkout older than it)
SERVE = "import sys; from {package}.cli import main; sys.argv[0] = 'leadgraph'; main()"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1)]


def _summary(values: list[float]) -> str:
    return (
        f"n={len(values):4d}  p50 {_percentile(values, 50) * 1000:8.1f} ms  "
        f"p99 {_percentile(values, 99) * 1000:8.1f} ms  max {max(values) * 1000:8.1f} ms"
    )


async def _probe(
    client: httpx.AsyncClient, samples: int, within_s: float = math.inf
) -> dict[str, list[float]]:
    """`samples` of /search and of /health, interleaved, one at a time, or as many as fit in
    `within_s` seconds; latency in seconds of each answered 200 (anything else stops the run)."""
    seen: dict[str, list[float]] = {"search": [], "health": []}
    deadline = time.monotonic() + within_s
    for i in range(samples):
        if time.monotonic() > deadline:
            break
        for name, path, params in (
            ("search", "/search", {"q": SEARCHES[i % len(SEARCHES)], "k": "5"}),
            ("health", "/health", {}),
        ):
            started = time.perf_counter()
            response = await client.get(path, params=params)
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                raise SystemExit(f"{path} answered {response.status_code}: {response.text[:200]}")
            seen[name].append(elapsed)
    return seen


async def _heavy_client(
    client: httpx.AsyncClient,
    stop: asyncio.Event,
    outcomes: Counter[str],
    max_queries: int,
    honour_retry_after: bool,
) -> None:
    for _ in range(max_queries):
        if stop.is_set():
            return
        try:
            response = await client.get("/sparql", params={"query": HEAVY})
        except httpx.HTTPError as exc:
            outcomes[f"transport error ({type(exc).__name__})"] += 1
            continue
        if response.status_code == 200:
            outcomes["200"] += 1
            continue
        try:
            code = str(response.json().get("error"))
        except ValueError:
            code = "?"
        outcomes[f"{response.status_code} {code}"] += 1
        if honour_retry_after and "Retry-After" in response.headers:
            try:
                await asyncio.wait_for(stop.wait(), float(response.headers["Retry-After"]))
            except TimeoutError:
                pass


async def _measure(base: str, args: argparse.Namespace) -> int:
    timeout = httpx.Timeout(120.0)
    async with httpx.AsyncClient(base_url=base, timeout=timeout) as probe:
        await _probe(probe, 10)  # warm: first search loads what it needs
        idle = await _probe(probe, args.samples)
        outcomes: Counter[str] = Counter()
        stop = asyncio.Event()
        limits = httpx.Limits(max_connections=args.heavy + 10, max_keepalive_connections=args.heavy)
        async with httpx.AsyncClient(base_url=base, timeout=timeout, limits=limits) as flood:
            clients = [
                asyncio.create_task(
                    _heavy_client(
                        flood, stop, outcomes, args.max_per_client, args.honour_retry_after
                    )
                )
                for _ in range(args.heavy)
            ]
            await asyncio.sleep(args.settle)  # every client has a query in flight
            loaded = await _probe(probe, args.samples, args.max_seconds)
            stop.set()
            drained = time.perf_counter()
            _, pending = await asyncio.wait(clients, timeout=60)
            for client in pending:  # still waiting for an answer after a minute
                client.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            drain_s = time.perf_counter() - drained
    print(f"idle    /search {_summary(idle['search'])}")
    print(f"idle    /health {_summary(idle['health'])}")
    print(f"loaded  /search {_summary(loaded['search'])}")
    print(f"loaded  /health {_summary(loaded['health'])}")
    ratio = _percentile(loaded["search"], 99) / _percentile(idle["search"], 99)
    health_p99 = _percentile(loaded["health"], 99) * 1000
    print(
        f"/search p99 loaded/idle: {ratio:.2f}x (aim <= 2)   "
        f"/health p99 loaded: {health_p99:.1f} ms (aim < 100)"
    )
    total = sum(outcomes.values())
    answered = ", ".join(f"{key}: {n}" for key, n in outcomes.most_common())
    print(f"SPARQL ({args.heavy} clients, {total} queries): {answered}")
    print(
        f"last SPARQL answers came {drain_s:.1f} s after the measurements ended"
        + (f"; {len(pending)} clients were still waiting at 60 s" if pending else "")
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--index", type=Path, required=True, help="index root to serve")
    parser.add_argument(
        "--code",
        type=Path,
        default=Path(__file__).resolve().parents[1],
        help="checkout whose app/ is served [default: this one]",
    )
    parser.add_argument("--heavy", type=int, default=100, help="concurrent heavy SPARQL clients")
    parser.add_argument("--samples", type=int, default=200, help="requests per endpoint probed")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds before measuring")
    parser.add_argument("--max-per-client", type=int, default=2000, help="queries per client")
    parser.add_argument(
        "--max-seconds", type=float, default=120.0, help="longest time spent probing under load"
    )
    parser.add_argument("--honour-retry-after", action="store_true")
    args = parser.parse_args(argv)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    package = "leadgraph.app" if (args.code / "leadgraph").is_dir() else "app"
    serve = SERVE.format(package=package)
    command = [sys.executable, "-c", serve, "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--index", str(args.index.resolve())]
    with tempfile.NamedTemporaryFile("w+b", prefix="sparql-starvation-", suffix=".log") as log:
        # a session of its own: the server and its SPARQL workers are stopped together
        server = subprocess.Popen(
            command,
            cwd=args.code,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
        try:
            _wait_ready(base, server, log.name)
            print(f"serving {args.code} on {base} (pid {server.pid})")
            return asyncio.run(_measure(base, args))
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)  # the server's group: workers included
            server.wait()


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(f"stopped by signal {signum}")


def _wait_ready(base: str, server: subprocess.Popen[bytes], log: str) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}:\n{_tail(log)}")
        try:
            if httpx.get(f"{base}/ready", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise SystemExit(f"/ready not 200 within 180 s:\n{_tail(log)}")


def _tail(log: str) -> str:
    return Path(log).read_text(errors="replace")[-2000:]


if __name__ == "__main__":
    sys.exit(main())

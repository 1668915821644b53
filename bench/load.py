"""Load generator: N concurrent clients for a fixed time against a running `leadgraph serve`,
mixing /search, /concepts, /ask and /sparql; prints, per endpoint, the requests, errors,
throughput and p50/p95/p99 latency, and the same over all endpoints.

    .venv/bin/python -m bench.load --url http://127.0.0.1:8000 --clients 8 --duration 30
    .venv/bin/python -m bench.load --url http://127.0.0.1:8000 --endpoints search --clients 32
    .venv/bin/python -m bench.load --url http://127.0.0.1:8000 --swap-every 5 --admin-token "$T"

Each client sends one request at a time, as fast as answers come (a closed loop), cycling through
realistic queries. An error is a transport failure, a timeout or any status other than 2xx.

`--swap-every S` also sends, S seconds after the previous one was answered, `PUT
/documents/load-probe` with a small Markdown article and then `DELETE` of it, in turn (Bearer
`--admin-token`), so the server rebuilds and swaps its index while the readers run. These updates
are counted on a line of their own (409 `update_in_progress` is no error: an update was still
building), a second table gives the readers' requests that overlapped an update (the latency
while the server rebuilds), and the probe is deleted at the end. They change the server's corpus
folder: serve a copy of it (`leadgraph serve --corpus /tmp/copy`).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

ENDPOINTS = ("search", "concepts", "ask", "sparql")
PROBE_ID = "load-probe"
QUESTIONS = [
    "Who is the bridge between leaders and the workforce?",
    "why does the organization exist",
    "What is the difference between leadership and management?",
    "How do managers turn vision into action?",
    "what makes an organization resilient",
    "accountability and execution",
    "How does leadership inspire employees?",
    "What is the capital of France?",
]
SPARQL = [  # the graph's prefixes (skos:, c:, lg:) are predeclared by the service
    'SELECT ?c ?d WHERE { ?c skos:prefLabel "bridge role"@en ; skos:definition ?d }',
    "SELECT ?p ?s WHERE { ?m lg:concept c:BridgeRole ; lg:passage ?p ; lg:score ?s } "
    "ORDER BY DESC(?s) LIMIT 20",
    "SELECT ?c (COUNT(?m) AS ?n) WHERE { ?m a lg:Mention ; lg:concept ?c } "
    "GROUP BY ?c ORDER BY DESC(?n) LIMIT 10",
    "ASK { c:Manager skos:broader ?b }",
]
LABELS = ["lead", "leadrship", "go-between", "psych", "management", "vision", "bridge role", "acc"]


@dataclass
class Stats:
    """What one endpoint saw: latencies of the answered requests, and the failures."""

    latencies: list[float] = field(default_factory=list)  # seconds, of every request
    errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)  # "503", "ReadTimeout", ...
    spans: list[tuple[float, float, str, bool]] = field(default_factory=list)  # see `record`

    def record(self, seconds: float, outcome: str, ok: bool, *, started: float = 0.0) -> None:
        """Counts one request that took `seconds` from `started` (time.monotonic)."""
        self.latencies.append(seconds)
        self.spans.append((started, started + seconds, outcome, ok))
        if not ok:
            self.errors += 1
            self.statuses[outcome] = self.statuses.get(outcome, 0) + 1

    def overlapping(self, windows: Sequence[tuple[float, float]]) -> Stats:
        """The requests that were in flight at some moment of one of `windows` (start, end)."""
        out = Stats()
        for start, end, outcome, ok in self.spans:
            if any(start < w_end and end > w_start for w_start, w_end in windows):
                out.record(end - start, outcome, ok, started=start)
        return out

    @classmethod
    def merged(cls, parts: Sequence[Stats]) -> Stats:
        out = cls()
        for part in parts:
            for start, end, outcome, ok in part.spans:
                out.record(end - start, outcome, ok, started=start)
        return out

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile of the latencies, in milliseconds."""
        if not self.latencies:
            return math.nan
        ordered = sorted(self.latencies)
        return 1000 * ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclass
class LoadReport:
    clients: int
    duration: float  # seconds the clients ran, measured
    endpoints: dict[str, Stats]
    swaps: Stats | None = None  # the PUTs and DELETEs of --swap-every
    conflicts: int = 0  # swaps answered 409: an update was still running

    @property
    def errors(self) -> int:
        return sum(s.errors for s in self.endpoints.values())

    @property
    def overall(self) -> Stats:
        """Every reader's request, whatever its endpoint."""
        return Stats.merged(list(self.endpoints.values()))

    @property
    def update_windows(self) -> list[tuple[float, float]]:
        """(start, end) of every update request of --swap-every."""
        return [] if self.swaps is None else [(a, b) for a, b, _, _ in self.swaps.spans]


def _request(endpoint: str, n: int) -> tuple[str, str, dict[str, object]]:
    if endpoint == "search":
        return "GET", "/search", {"params": {"q": QUESTIONS[n % len(QUESTIONS)], "k": 10}}
    if endpoint == "concepts":
        return "GET", "/concepts", {"params": {"q": LABELS[n % len(LABELS)], "limit": 10}}
    if endpoint == "sparql":
        return "GET", "/sparql", {"params": {"query": SPARQL[n % len(SPARQL)]}}
    return "POST", "/ask", {"json": {"question": QUESTIONS[n % len(QUESTIONS)], "k": 5}}


async def _timed(
    client: httpx.AsyncClient, method: str, path: str, **kw: object
) -> tuple[float, float, str, bool, int]:
    """(started, seconds, outcome, ok, status) of one request; `started` is time.monotonic."""
    started = time.monotonic()
    try:
        response = await client.request(method, path, **kw)  # type: ignore[arg-type]
    except httpx.HTTPError as exc:
        return started, time.monotonic() - started, type(exc).__name__, False, 0
    return (
        started,
        time.monotonic() - started,
        str(response.status_code),
        response.is_success,
        response.status_code,
    )


async def _reader(
    client: httpx.AsyncClient,
    number: int,
    endpoints: Sequence[str],
    deadline: float,
    stats: dict[str, Stats],
) -> None:
    # clients start at different points of the mix, so every endpoint is busy from the start
    for n in itertools.count(number):
        if time.monotonic() >= deadline:
            return
        endpoint = endpoints[n % len(endpoints)]
        method, path, kw = _request(endpoint, n // len(endpoints))
        started, seconds, outcome, ok, _ = await _timed(client, method, path, **kw)
        stats[endpoint].record(seconds, outcome, ok, started=started)


def probe_article(n: int) -> str:
    """A small Markdown article whose text changes with `n`, so each PUT is a real update."""
    return (
        f"---\nid: {PROBE_ID}\ntitle: Load probe {n}\nkind: article\n---\n"
        f"Load probe {n}. Leadership sets the direction and management turns it into "
        f"measurable work. A manager acts as the bridge between leaders and the workforce; "
        f"revision {n} of this note only exists to make the service swap its index.\n"
    )


async def _swapper(
    client: httpx.AsyncClient, every: float, token: str, deadline: float, report: LoadReport
) -> None:
    assert report.swaps is not None
    auth = {"Authorization": f"Bearer {token}"}
    for n in itertools.count(1):
        await asyncio.sleep(min(every, max(0.0, deadline - time.monotonic())))
        if time.monotonic() >= deadline:
            return
        if n % 2:  # a PUT, then a DELETE: both rebuild, one with a passage more, one less
            started, seconds, outcome, ok, status = await _timed(
                client,
                "PUT",
                f"/documents/{PROBE_ID}",
                content=probe_article(n),
                headers={**auth, "Content-Type": "text/markdown"},
            )
        else:
            started, seconds, outcome, ok, status = await _timed(
                client, "DELETE", f"/documents/{PROBE_ID}", headers=auth
            )
            ok = ok or status == 404  # the PUT before it was refused with 409
        if status == 409:
            report.conflicts += 1
            ok = True
        report.swaps.record(seconds, outcome, ok, started=started)


async def run(
    client: httpx.AsyncClient,
    *,
    clients: int,
    duration: float,
    endpoints: Sequence[str] = ENDPOINTS,
    swap_every: float | None = None,
    admin_token: str | None = None,
) -> LoadReport:
    """Runs `clients` readers (and the swapper, with `swap_every`) through `client` for
    `duration` seconds; the probe document is deleted afterwards."""
    stats = {endpoint: Stats() for endpoint in endpoints}
    report = LoadReport(clients, duration, stats, Stats() if swap_every else None)
    started = time.monotonic()
    deadline = started + duration
    tasks = [_reader(client, i, endpoints, deadline, stats) for i in range(clients)]
    if swap_every:
        if not admin_token:
            raise ValueError("--swap-every needs --admin-token")
        tasks.append(_swapper(client, swap_every, admin_token, deadline, report))
    await asyncio.gather(*tasks)
    report.duration = time.monotonic() - started
    if swap_every and admin_token:
        await client.delete(
            f"/documents/{PROBE_ID}", headers={"Authorization": f"Bearer {admin_token}"}
        )
    return report


HEADER = (
    f"{'endpoint':<10} {'clients':>7} {'seconds':>7} {'requests':>8} {'errors':>6} "
    f"{'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}"
)


def _row(name: str, stats: Stats, clients: int, seconds: float) -> str:
    count = len(stats.latencies)
    rate = count / seconds if seconds > 0 else math.nan
    return (
        f"{name:<10} {clients:>7} {seconds:>7.1f} {count:>8} {stats.errors:>6} {rate:>7.1f} "
        f"{stats.percentile(50):>7.1f} {stats.percentile(95):>7.1f} {stats.percentile(99):>7.1f}"
    )


def format_report(report: LoadReport) -> str:
    """The table: a row per endpoint, one over all of them (when more than one), one for the
    updates; then, with updates, the readers' requests that overlapped one."""
    rows = [(f"/{name}", stats) for name, stats in report.endpoints.items()]
    if len(rows) > 1:
        rows.append(("all", report.overall))
    if report.swaps is not None:
        rows.append(("updates", report.swaps))
    lines = [HEADER]
    lines += [_row(name, stats, report.clients, report.duration) for name, stats in rows]
    for name, stats in rows:
        if stats.statuses and name != "all":
            lines.append(f"{name} errors: {stats.statuses}")
    if report.swaps is not None:
        lines.append(f"updates: {report.conflicts} answered 409 (an update was still running)")
        windows = report.update_windows
        busy = sum(end - start for start, end in windows)
        lines.append(
            f"while an update ran ({len(windows)} updates, {busy:.1f} s; the requests in "
            "flight at some moment of one, per second of updates):"
        )
        lines.append(HEADER)
        during = [(f"/{name}", s.overlapping(windows)) for name, s in report.endpoints.items()]
        if len(during) > 1:
            during.append(("all", Stats.merged([s for _, s in during])))
        lines += [_row(name, stats, report.clients, busy) for name, stats in during]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="base URL, e.g. http://127.0.0.1:8000")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients [8]")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds [30]")
    parser.add_argument(
        "--endpoints",
        default=",".join(ENDPOINTS),
        help="comma-separated mix of search, concepts, ask, sparql [all four]",
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="per request, seconds [60]")
    parser.add_argument("--swap-every", type=float, default=None, metavar="SECONDS")
    parser.add_argument("--admin-token", default=None, help="bearer token for --swap-every")
    args = parser.parse_args(argv)
    endpoints = [e.strip() for e in args.endpoints.split(",") if e.strip()]
    unknown = sorted(set(endpoints) - set(ENDPOINTS))
    if unknown or not endpoints or args.clients < 1 or args.duration <= 0:
        parser.error(f"--endpoints: choose from {', '.join(ENDPOINTS)}; got {args.endpoints!r}")
    if args.swap_every is not None and not args.admin_token:
        parser.error("--swap-every needs --admin-token")

    async def go() -> LoadReport:
        limits = httpx.Limits(max_connections=args.clients + 1, max_keepalive_connections=None)
        async with httpx.AsyncClient(
            base_url=args.url.rstrip("/"), timeout=args.timeout, limits=limits
        ) as client:
            return await run(
                client,
                clients=args.clients,
                duration=args.duration,
                endpoints=endpoints,
                swap_every=args.swap_every,
                admin_token=args.admin_token,
            )

    report = asyncio.run(go())
    print(format_report(report))
    return 1 if report.errors or (report.swaps and report.swaps.errors) else 0


if __name__ == "__main__":
    sys.exit(main())

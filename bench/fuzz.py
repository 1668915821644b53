"""Schemathesis against a running `leadgraph serve`: every operation of its /openapi.json, with
the documented examples, then generated requests that fit the schema (positive) and requests that
break it (negative). Prints the cases sent per operation and every failure with a curl command
to reproduce it; exits 1 when there is one.

    .venv/bin/python -m bench.fuzz --url http://127.0.0.1:8000 --examples 200

A failure is a 5xx, a status, content type, header or body the schema does not document, or a
request breaking the schema that is answered with anything but a 4xx. A request that fits the
schema may still be refused (an unknown concept id, a blank query, text that is not SPARQL), so
acceptance of valid data is not checked. No admin token is sent, so the admin endpoints refuse
every case and the corpus is never changed. tests/api/test_fuzz.py runs the same over the app
in process with fewer examples.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, checks
from schemathesis.core.result import Ok

Case = schemathesis.Case[Any]

CHECKS: list[Callable[..., Any]] = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
]


@dataclass(frozen=True)
class Failure:
    operation: str
    mode: str
    message: str
    reproduce: str

    def __str__(self) -> str:
        return f"{self.operation} ({self.mode}): {self.message}\n    {self.reproduce}"


@dataclass
class FuzzReport:
    cases: Counter[str] = field(default_factory=Counter)  # operation label -> requests sent
    failures: list[Failure] = field(default_factory=list)
    # requests refused by uvicorn itself before the app saw them (a request line over 64 KiB)
    server_refusals: int = 0

    @property
    def total(self) -> int:
        return sum(self.cases.values())


def fuzz(
    schema: schemathesis.BaseSchema,
    *,
    examples: int,
    derandomize: bool = False,
    seed: int | None = None,
) -> FuzzReport:
    """Sends, per operation, its documented examples and up to `examples` generated requests of
    each mode; collects every failing case instead of stopping at the first (no shrinking)."""
    # a SPARQL query body is plain text on the wire
    schemathesis.serializer.alias("application/sparql-query", "text/plain")
    report = FuzzReport()
    seen: set[tuple[str, str]] = set()
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            error = str(result.err()).strip().splitlines()[0]
            report.failures.append(Failure("the schema", "load", error, "/openapi.json"))
            continue
        operation = result.ok()
        label = operation.label

        def check(case: Case, mode: str, label: str = label) -> None:
            report.cases[label] += 1
            try:
                response = case.call()
                if _refused_by_http_server(response):
                    report.server_refusals += 1
                    return
                case.validate_response(response, checks=CHECKS)
            except (Exception, BaseExceptionGroup) as exc:  # FailureGroup, or transport errors
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                message = _summary(exc) or first
                if (label, message) not in seen:  # one line per distinct problem
                    seen.add((label, message))
                    curl = case.as_curl_command()
                    curl = curl if len(curl) <= 300 else f"{curl[:300]}... ({len(curl)} chars)"
                    report.failures.append(Failure(label, mode, message, curl))

        strategies: list[tuple[str, st.SearchStrategy[Case], int]] = [
            ("example", strategy, 1) for strategy in schema.get_strategies_from_examples(operation)
        ]
        strategies += [
            (mode.value, operation.as_strategy(generation_mode=mode), examples)
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        ]
        for mode_name, strategy, count in strategies:
            try:
                _run(strategy, count, derandomize, seed, partial(check, mode=mode_name))
            except Unsatisfiable:
                pass  # nothing to negate: an operation without parameters or body
    return report


def _run(
    strategy: st.SearchStrategy[Case],
    count: int,
    derandomize: bool,
    seed: int | None,
    on_case: Callable[[Case], None],
) -> None:
    """Draws up to `count` cases from `strategy` and hands each to `on_case`."""

    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        derandomize=derandomize,
        phases=[Phase.generate],  # every failure is recorded by on_case, none shrunk
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Case) -> None:
        on_case(case)

    if seed is not None and not derandomize:
        run = hypothesis_seed(seed)(run)
    run()


def _refused_by_http_server(response: schemathesis.Response) -> bool:
    """Whether the HTTP layer answered instead of the app, for a request line past what it
    reads (a negative case can send a query of many KiB in the URL): `leadgraph serve`'s 431
    `headers_too_large` (max_header_bytes, 64 KiB), documented on every operation, or plain
    uvicorn's text 400 (about 64 KiB, httptools' own limit)."""
    request_line = len(response.request.url or "")
    if request_line <= 60_000:
        return False
    if response.status_code == 431:
        return '"headers_too_large"' in response.text
    return response.status_code == 400 and response.text == "Invalid HTTP request received."


def _summary(exc: BaseException) -> str:
    """The titles of schemathesis' failures in `exc` ("ST202 ..." lines are their codes)."""
    failures = getattr(exc, "exceptions", None)
    if not failures:
        return ""
    titles = []
    for failure in failures:
        title = getattr(failure, "title", None) or type(failure).__name__
        detail = getattr(failure, "message", "") or ""
        titles.append(f"{title}: {detail.strip().splitlines()[0]}" if detail else title)
    return "; ".join(sorted(set(titles)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="base URL, e.g. http://127.0.0.1:8000")
    parser.add_argument(
        "--examples", type=int, default=200, help="generated requests per operation and mode"
    )
    parser.add_argument("--seed", type=int, default=None, help="seed, to repeat a run")
    args = parser.parse_args(argv)
    schema = schemathesis.openapi.from_url(args.url.rstrip("/") + "/openapi.json")
    started = time.monotonic()
    report = fuzz(schema, examples=args.examples, seed=args.seed)
    elapsed = time.monotonic() - started
    for label, count in sorted(report.cases.items()):
        print(f"{label:<34} {count:>6} cases")
    print(
        f"{report.total} cases over {len(report.cases)} operations in {elapsed:.0f} s; "
        f"{len(report.failures)} failures"
    )
    if report.server_refusals:
        print(
            f"{report.server_refusals} requests with a URL over 64 KiB were refused by the HTTP "
            "layer before reaching the app (431, or uvicorn's plain-text 400; docs/SECURITY.md)"
        )
    for failure in report.failures:
        print(f"FAIL {failure}")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())

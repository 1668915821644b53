"""SPARQL under attack: its own bounded pool and queue, parser failures and deep nesting as 400,
descriptors past 1,023, crashed workers named, and MCP's sparql_select naming every failure."""

from __future__ import annotations

import gc
import os
import resource
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest
from fastapi.testclient import TestClient
from mcp import Client
from rdflib import Graph

from leadgraph.app.config import Settings
from leadgraph.app.deps import Services
from leadgraph.app.errors import ApiError, Busy, IndexNotReady, QueryCrashed
from leadgraph.app.main import create_app
from leadgraph.app.mcp_server import build_mcp
from leadgraph.app.services.sparql import SparqlService
from leadgraph.app.state import load_resources
from leadgraph.indexer.rdfio import load_store
from tests.fakes import HashingEmbedder

RUNAWAY = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
COUNT_ALL = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
# the reproducer: rdflib's parser recursed past Python's limit wording the syntax error
# that Oxigraph found, a 500
UNCLOSED_PATH = "SELECT * WHERE { ?s " + "(" * 35 + "<urn:p> ?o }"
UNCLOSED = [
    UNCLOSED_PATH,
    "SELECT * WHERE { ?s " + "(" * 60 + "<urn:p> ?o }",
    "SELECT * WHERE { ?s ?p ?o FILTER(" + "(" * 40 + "?o }",
    "ASK { ?s " + "(" * 50 + "^<urn:p>/ ?o }",
]
ENGINES = ["oxigraph", "rdflib"]


def _nested(kind: str, depth: int) -> str:
    """A query nesting `depth` levels, the outermost group's brace included, mostly of `kind`."""
    if kind == "filter":
        return "ASK { ?s ?p ?o FILTER(" + "(" * (depth - 2) + "true" + ")" * (depth - 2) + ") }"
    if kind == "braces":
        return "ASK " + "{" * depth + " ?s ?p ?o " + "}" * depth
    if kind == "not":
        return "ASK { FILTER(" + "!" * (depth - 2) + "true) }"
    if kind == "list":
        return "ASK { ?s ?p " + "(" * (depth - 1) + "1" + ")" * (depth - 1) + " }"
    if kind == "bnode":
        return "ASK { ?s ?p " + "[ ?p " * (depth - 1) + "1" + " ]" * (depth - 1) + " }"
    assert kind == "path"
    return "ASK { ?s " + "(" * (depth - 1) + "<urn:p>" + ")" * (depth - 1) + " ?o }"


KINDS = ["filter", "braces", "not", "list", "bnode", "path"]


def _service(api_index: Path, engine: str = "oxigraph", **settings: Any) -> SparqlService:
    graph_path = api_index / "current" / "graph.ttl"
    store = load_store(graph_path) if engine == "oxigraph" else None
    config = Settings(index=api_index, sparql_engine=engine, **settings)  # type: ignore[arg-type]
    return SparqlService(Graph().parse(graph_path), config, store)


@pytest.fixture
def small_pool(api_index: Path) -> Iterator[TestClient]:
    """One worker, one place in the queue, half a second of waiting, runaways stopped at 3 s."""
    settings = Settings(
        index=api_index,
        sparql_workers=1,
        sparql_queue=1,
        sparql_queue_wait_s=0.5,
        sparql_timeout_s=3.0,
        sparql_max_rows=10**9,
    )
    with TestClient(create_app(settings, embedder=HashingEmbedder())) as client:
        yield client


def _get(client: TestClient, query: str) -> Any:
    return client.get("/sparql", params={"query": query})


def _in_flight(client: TestClient, query: str) -> tuple[ThreadPoolExecutor, Any]:
    pool = ThreadPoolExecutor(1)
    return pool, pool.submit(_get, client, query)


# --- 1. an own bounded pool, a bounded queue -------------------------------------------------


def test_sparql_takes_no_thread_of_the_shared_threadpool(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # every hand-off to the shared pool (Starlette's run_in_threadpool, a plain `def` endpoint,
    # the MCP SDK's sync tools) goes through anyio.to_thread.run_sync
    def refused(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("SPARQL used the shared threadpool")

    _get(client, COUNT_ALL)  # the services are built before the shared pool is closed
    monkeypatch.setattr(anyio.to_thread, "run_sync", refused)
    assert _get(client, COUNT_ALL).status_code == 200
    response = client.post(
        "/sparql", content=COUNT_ALL, headers={"Content-Type": "application/sparql-query"}
    )
    assert response.status_code == 200, response.text


def test_a_full_queue_answers_busy_at_once(small_pool: TestClient) -> None:
    first_pool, running = _in_flight(small_pool, RUNAWAY)
    time.sleep(0.3)  # running on the one worker
    second_pool, queued = _in_flight(small_pool, RUNAWAY)
    time.sleep(0.1)  # waiting in the one place of the queue
    started = time.monotonic()
    response = _get(small_pool, COUNT_ALL)
    elapsed = time.monotonic() - started
    assert response.status_code == 503, response.text
    assert response.json()["error"] == "busy"
    assert "sparql_queue" in response.json()["detail"]
    assert response.headers["Retry-After"] == "1"
    assert elapsed < 0.3
    waited = queued.result(timeout=10)
    assert waited.status_code == 503 and waited.json()["error"] == "busy"
    assert "sparql_queue_wait_s" in waited.json()["detail"]
    assert "Retry-After" in waited.headers
    assert running.result(timeout=10).json()["error"] == "query_timeout"
    first_pool.shutdown()
    second_pool.shutdown()
    assert _get(small_pool, COUNT_ALL).status_code == 200  # every place was given back


def test_a_query_waiting_too_long_for_a_worker_is_busy(api_index: Path) -> None:
    service = _service(
        api_index,
        sparql_workers=1,
        sparql_queue=4,
        sparql_queue_wait_s=0.3,
        sparql_timeout_s=2,
        sparql_max_rows=10**9,
    )
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(service.run, RUNAWAY, None)
        time.sleep(0.3)
        started = time.monotonic()
        with pytest.raises(Busy) as refused:
            service.run(COUNT_ALL, None)
        assert 0.25 < time.monotonic() - started < 1.5
        assert refused.value.headers == {"Retry-After": "1"}
        with pytest.raises(ApiError, match="sparql_timeout_s"):
            running.result(timeout=10)
    assert service.run(COUNT_ALL, None).body  # the cancelled query left no place taken


# --- 2. parser failures are 400 --------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("query", UNCLOSED, ids=range(len(UNCLOSED)))
def test_a_parser_recursing_past_the_limit_is_a_400(
    api_index: Path, engine: str, query: str
) -> None:
    settings = Settings(index=api_index, sparql_engine=engine)  # type: ignore[arg-type]
    with TestClient(create_app(settings, embedder=HashingEmbedder())) as client:
        response = _get(client, query)
        assert response.status_code == 400, response.text
        assert response.json()["error"] == "bad_query"
        assert "SPARQL syntax error" in response.json()["detail"]
        # the parser is still whole: the next query answers
        assert _get(client, COUNT_ALL).status_code == 200


# --- 3. descriptors past 1,023 ---------------------------------------------------------------


@pytest.fixture
def many_descriptors() -> Iterator[Callable[[], None]]:
    """A function that opens descriptors until every number up to 1,100 is taken, so that the
    next pipes are numbered past 1,023 (select() refuses those); all closed afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 2048
    if soft != resource.RLIM_INFINITY and soft < wanted:
        if hard != resource.RLIM_INFINITY and hard < wanted:
            pytest.skip(f"RLIMIT_NOFILE hard limit {hard} is below {wanted}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    opened: list[int] = []

    def fill() -> None:
        gc.collect()  # services of earlier tests close their workers' pipes when collected
        while not opened or opened[-1] < 1100 or min(_free_below(1100), default=None):
            opened.append(os.open(os.devnull, os.O_RDONLY))

    try:
        yield fill
    finally:
        for fd in opened:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _free_below(top: int) -> list[int]:
    """Descriptor numbers from 3 up to `top` that are not open."""
    open_now = {int(name) for name in os.listdir("/proc/self/fd")}
    return [fd for fd in range(3, top) if fd not in open_now]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_query_answers_with_more_than_1024_descriptors_open(
    api_index: Path, engine: str, many_descriptors: Callable[[], None]
) -> None:
    service = _service(api_index, engine)
    many_descriptors()  # the worker, forked for the query, gets pipes numbered past 1,100
    probe = os.open(os.devnull, os.O_RDONLY)
    os.close(probe)
    assert probe > 1100
    assert b'"n"' in service.run(COUNT_ALL, None).body


# --- 4. deep nesting refused before evaluation; a crash named ---------------------------------


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("kind", KINDS)
def test_nesting_past_the_limit_is_a_400_naming_depth_and_limit(
    client: TestClient, api_index: Path, engine: str, kind: str
) -> None:
    service = _service(api_index, engine, sparql_max_depth=64)
    with pytest.raises(ApiError) as refused:
        service.run(_nested(kind, 65), None)
    assert refused.value.status == 400 and refused.value.code == "bad_query"
    assert "more than 64 levels" in refused.value.detail
    assert "sparql_max_depth" in refused.value.detail
    # the depths: thousands of levels crashed Oxigraph's worker
    response = _get(client, _nested(kind, 2500))
    assert response.status_code == 400 and "more than 64 levels" in response.json()["detail"]


@pytest.mark.parametrize("kind", KINDS)
def test_nesting_within_the_limit_is_answered_by_oxigraph(api_index: Path, kind: str) -> None:
    service = _service(api_index, sparql_max_depth=64)
    assert b"boolean" in service.run(_nested(kind, 64), None).body


def test_depth_counts_in_nested_expressions_not_in_strings_or_iris(api_index: Path) -> None:
    service = _service(api_index, sparql_max_depth=8)
    brackets = '"' + "(" * 50 + '" <urn:' + "%28" * 50 + ">"
    assert service.check(f"ASK {{ ?s ?p {brackets} }}") == "ASK"
    with pytest.raises(ApiError, match="more than 8 levels"):
        service.check("ASK { FILTER(!(!(!(!(!(true)))))) }")  # 5 parentheses, 5 negations


def test_a_worker_killed_by_a_signal_is_called_crashed(api_index: Path) -> None:
    service = _service(api_index, sparql_timeout_s=5, sparql_max_rows=10**9)
    before = _children()

    def crash_worker() -> None:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            workers = _children() - before
            if workers:
                time.sleep(0.2)  # the query is running by now
                os.kill(workers.pop(), signal.SIGSEGV)
                return
            time.sleep(0.02)

    killer = threading.Thread(target=crash_worker)
    killer.start()
    with pytest.raises(QueryCrashed) as crashed:
        service.run(RUNAWAY, None)
    killer.join()
    assert crashed.value.status == 503 and crashed.value.code == "query_crashed"
    assert "SIGSEGV" in crashed.value.detail
    assert b'"n"' in service.run(COUNT_ALL, None).body  # a new worker answers


def test_nesting_that_crashes_oxigraph_is_called_crashed(api_index: Path) -> None:
    service = _service(api_index)
    service.settings.sparql_max_depth = 10**6  # no limit: what the limit keeps away
    with pytest.raises(QueryCrashed, match="SIGSEGV"):
        service.run(_nested("braces", 5000), None)


def _children() -> set[int]:
    pids: set[int] = set()
    for task in os.listdir(f"/proc/{os.getpid()}/task"):
        try:
            with open(f"/proc/{os.getpid()}/task/{task}/children") as children:
                pids.update(int(pid) for pid in children.read().split())
        except FileNotFoundError:
            continue
    return pids


# --- MCP: every failure of sparql_select names the argument and the reason ---------------------


@pytest.fixture(scope="module")
def mcp_services(api_index: Path) -> Services:
    settings = Settings(
        index=api_index,
        sparql_workers=1,
        sparql_queue=0,
        sparql_queue_wait_s=0.5,
        sparql_timeout_s=1.0,
        sparql_max_rows=10**9,
    )
    return Services.build(load_resources(settings, HashingEmbedder()))


def _call(get_services: Callable[[], Services], arguments: dict[str, Any]) -> Any:
    server = build_mcp(get_services, settings=Settings())

    async def call() -> Any:
        async with Client(server) as client:
            return await client.call_tool("sparql_select", arguments)

    return anyio.run(call)


def _tool_error(result: Any) -> str:
    """What the client reads of a failed call, after the SDK's "Error executing tool
    sparql_select: " (all it read of a crash in the tool)."""
    assert result.is_error, result
    message: str = result.content[0].text
    assert "Traceback" not in message
    prefix = "Error executing tool sparql_select: "
    assert message.startswith(prefix), message
    return message.removeprefix(prefix)


@pytest.mark.parametrize(
    ("query", "words"),
    [
        (UNCLOSED_PATH, "SPARQL syntax error"),
        (_nested("braces", 100), "more than 64 levels"),
        ("CONSTRUCT WHERE { ?s ?p ?o }", "only SELECT and ASK are allowed here, got CONSTRUCT"),
        (RUNAWAY, "sparql_timeout_s"),
    ],
    ids=["recursion", "depth", "form", "timeout"],
)
def test_sparql_select_names_the_argument_and_the_reason(
    mcp_services: Services, query: str, words: str
) -> None:
    message = _tool_error(_call(lambda: mcp_services, {"query": query}))
    assert message.startswith("query: ") and words in message


def test_sparql_select_says_when_the_index_is_not_ready() -> None:
    def not_ready() -> Services:
        raise IndexNotReady("no index under index/; run `leadgraph index`")

    message = _tool_error(_call(not_ready, {"query": COUNT_ALL}))
    assert message.startswith("query: ") and "no index" in message


def test_sparql_select_says_when_sparql_is_busy(mcp_services: Services) -> None:
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(mcp_services.sparql.run, RUNAWAY, None)
        time.sleep(0.3)  # on the only worker, and the queue holds none
        message = _tool_error(_call(lambda: mcp_services, {"query": COUNT_ALL}))
        with pytest.raises(ApiError):
            running.result(timeout=10)
    assert message.startswith("query: ") and "at capacity" in message
    result = _call(lambda: mcp_services, {"query": COUNT_ALL})
    assert not result.is_error, result.content

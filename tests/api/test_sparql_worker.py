"""The forked SPARQL worker: what it may not do, whatever query reaches it."""

from __future__ import annotations

import gc
import json
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from rdflib import Graph
from rdflib.plugins.sparql.algebra import translateQuery
from rdflib.plugins.sparql.parser import parseQuery

from leadgraph.app.config import Settings
from leadgraph.app.errors import BadRequest, QueryTimeout
from leadgraph.app.services.sparql import SparqlService, _evaluate_oxigraph, _Plan, _run_forked
from leadgraph.indexer.rdfio import load_store


def _soon() -> float:
    return time.monotonic() + 30


def test_a_worker_can_open_no_socket() -> None:
    def job() -> tuple[bytes, bool]:
        socket.socket()
        return b"", False

    with pytest.raises(BadRequest, match="Too many open files"):
        _run_forked(job, _soon())


def test_a_worker_can_open_no_file() -> None:
    def job() -> tuple[bytes, bool]:
        Path(__file__).read_bytes()
        return b"", False

    with pytest.raises(BadRequest, match="Too many open files"):
        _run_forked(job, _soon())


def test_a_worker_holds_none_of_the_services_descriptors() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        fd = listener.fileno()

        def job() -> tuple[bytes, bool]:
            try:
                os.fstat(fd)
            except OSError:
                return b"closed", False
            return b"open", False

        assert _run_forked(job, _soon()) == (b"closed", False)


def test_service_cannot_reach_the_network_even_past_the_checks(api_index: Path) -> None:
    """Oxigraph follows SERVICE over HTTP; the service's checks refuse it (test_sparql.py),
    and should they miss a form of it, the worker still cannot connect."""
    store = load_store(api_index / "current" / "graph.ttl")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        text = f"SELECT * WHERE {{ SERVICE <http://127.0.0.1:{port}/sparql> {{ ?s ?p ?o }} }}"
        plan = _Plan(text, translateQuery(parseQuery(text)), "SELECT", "application/json", "json")
        with pytest.raises(BadRequest, match="Too many open files"):
            _run_forked(lambda: _evaluate_oxigraph(store, plan, 10, {}), _soon())
        listener.settimeout(0.3)
        with pytest.raises(TimeoutError):
            listener.accept()  # nobody called


# --- Oxigraph's kept workers -------------------------------------------------------------------

ALL = "SELECT * WHERE { ?s ?p ?o } LIMIT 3"
RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"


def _children() -> set[int]:
    pids: set[int] = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        try:
            pids.update(int(pid) for pid in (task / "children").read_text().split())
        except FileNotFoundError:
            pass  # a thread that has just ended (the reaping threads do)
    return pids


def _settle(before: set[int], expected: int) -> set[int]:
    """This process's children since `before`, once reaping has caught up with `expected`."""
    deadline = time.monotonic() + 5
    while len(_children() - before) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return _children() - before


def _service(api_index: Path, **settings: Any) -> SparqlService:
    graph = Graph().parse(api_index / "current" / "graph.ttl")
    store = load_store(api_index / "current" / "graph.ttl")
    return SparqlService(graph, Settings(index=api_index, **settings), store)


def test_a_worker_answers_query_after_query(api_index: Path) -> None:
    before = _children()
    service = _service(api_index)
    for _ in range(3):
        assert len(json.loads(service.run(ALL, None).body)["results"]["bindings"]) == 3
    (worker,) = _settle(before, 1)  # one worker served all three
    del service
    gc.collect()
    assert not _settle(before, 0), "the workers outlived their service"


def test_a_worker_past_the_deadline_is_killed_and_replaced(api_index: Path) -> None:
    before = _children()
    service = _service(api_index, sparql_timeout_s=0.5, sparql_max_rows=10**9)
    service.run(ALL, None)
    (first,) = _settle(before, 1)
    with pytest.raises(QueryTimeout):
        service.run(RUNAWAY, None)
    assert not _settle(before, 0)
    service.run(ALL, None)
    (second,) = _settle(before, 1)
    assert second != first


def test_a_grown_worker_is_retired(api_index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from leadgraph.app.services import sparql

    before = _children()
    service = _service(api_index)
    service.run(ALL, None)
    assert len(_settle(before, 1)) == 1
    monkeypatch.setattr(sparql, "_address_space", lambda pid: 1 << 62)
    service.run(ALL, None)  # answered, then the worker is stopped
    assert not _settle(before, 0)


def test_an_idle_worker_killed_from_outside_is_replaced(api_index: Path) -> None:
    before = _children()
    service = _service(api_index)
    service.run(ALL, None)
    (first,) = _settle(before, 1)
    os.kill(first, signal.SIGKILL)
    time.sleep(0.2)
    assert len(json.loads(service.run(ALL, None).body)["results"]["bindings"]) == 3
    assert first not in _settle(before, 1)

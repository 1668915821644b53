"""The forked SPARQL worker: what it may not do, whatever query reaches it."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest
from rdflib.plugins.sparql.algebra import translateQuery
from rdflib.plugins.sparql.parser import parseQuery

from app.errors import BadRequest
from app.services.sparql import _evaluate_oxigraph, _Plan, _run_forked
from indexer.rdfio import load_store


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

"""/graph: the whole index graph in each RDF syntax, negotiated by Accept."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from rdflib import Graph, URIRef

from leadgraph.indexer.store import resolve_version

SYNTAXES = [
    ("text/turtle", "turtle", "text/turtle; charset=utf-8"),
    ("application/ld+json", "json-ld", "application/ld+json"),
    ("application/n-triples", "nt", "application/n-triples; charset=utf-8"),
    ("application/rdf+xml", "xml", "application/rdf+xml"),
]


def test_graph_is_the_turtle_file_by_default(client: TestClient, api_index: Path) -> None:
    response = client.get("/graph")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/turtle; charset=utf-8"
    assert response.content == (resolve_version(api_index) / "graph.ttl").read_bytes()


def test_every_syntax_parses_to_the_same_triples(client: TestClient) -> None:
    graphs = {}
    for accept, syntax, content_type in SYNTAXES:
        response = client.get("/graph", headers={"Accept": accept})
        assert response.status_code == 200, accept
        assert response.headers["content-type"] == content_type
        graphs[syntax] = Graph().parse(data=response.content, format=syntax)
    sizes = {syntax: len(graph) for syntax, graph in graphs.items()}
    assert len(set(sizes.values())) == 1, sizes
    assert sizes["turtle"] > 1000
    assert (URIRef("https://leadgraph.dev/concept/BridgeRole"), None, None) in graphs["xml"]


def test_the_preferred_syntax_is_served(client: TestClient) -> None:
    response = client.get(
        "/graph", headers={"Accept": "text/turtle;q=0.5, application/n-triples;q=0.9"}
    )
    assert response.headers["content-type"].startswith("application/n-triples")


@pytest.mark.parametrize(
    "accept", ["text/html", "text/html, application/xhtml+xml", "text/turtle;q=0, text/*;q=0"]
)
def test_unservable_accept_is_406_naming_the_offer(client: TestClient, accept: str) -> None:
    response = client.get("/graph", headers={"Accept": accept})
    assert response.status_code == 406
    body = response.json()
    assert body["error"] == "not_acceptable"
    assert "text/turtle, application/ld+json, application/n-triples" in body["detail"]


def test_etag_per_syntax_and_304_when_unchanged(client: TestClient) -> None:
    turtle = client.get("/graph")
    nt = client.get("/graph", headers={"Accept": "application/n-triples"})
    assert turtle.headers["etag"] != nt.headers["etag"]
    assert turtle.headers["vary"] == "Accept"
    again = client.get("/graph", headers={"If-None-Match": turtle.headers["etag"]})
    assert again.status_code == 304 and again.content == b""

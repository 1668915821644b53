"""`leadgraph serve` as a user runs it, queried by clients we did not write: SPARQLWrapper for
the SPARQL endpoint, httpx + rdflib for the RDF documents."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import httpx
import pytest
from rdflib import Graph, URIRef
from SPARQLWrapper import JSON, POST, TURTLE, SPARQLWrapper

from tests.conftest import CORPUS, ROOT
from tests.serving import ENV, LEADGRAPH, serving

pytestmark = [pytest.mark.server, pytest.mark.model]

BRIDGE = URIRef("https://leadgraph.dev/concept/BridgeRole")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a `leadgraph serve` subprocess over an index built by `leadgraph index`."""
    folder = tmp_path_factory.mktemp("server")
    index = folder / "index"
    built = subprocess.run(
        [str(LEADGRAPH), "index", str(CORPUS), "--out", str(index)],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr
    with serving(index, folder / "serve.log") as base:
        yield base


def _sparql(base: str, query: str, fmt: str, *, post: bool = False) -> SPARQLWrapper:
    client = SPARQLWrapper(f"{base}/sparql")
    client.setQuery(query)
    client.setReturnFormat(fmt)
    if post:
        client.setMethod(POST)
    return client


@pytest.mark.parametrize("post", [False, True], ids=["GET", "POST"])
def test_sparqlwrapper_select_json(server: str, post: bool) -> None:
    query = """PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
        SELECT ?concept WHERE { ?concept skos:prefLabel "bridge role"@en }"""
    results = _sparql(server, query, JSON, post=post).queryAndConvert()
    assert isinstance(results, dict)
    assert [b["concept"]["value"] for b in results["results"]["bindings"]] == [str(BRIDGE)]


def test_sparqlwrapper_ask(server: str) -> None:
    query = "ASK { <https://leadgraph.dev/concept/BridgeRole> a ?type }"
    results = _sparql(server, query, JSON).queryAndConvert()
    assert isinstance(results, dict) and results["boolean"] is True


def test_sparqlwrapper_construct_turtle(server: str) -> None:
    query = """PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
        CONSTRUCT { ?c skos:prefLabel ?l } WHERE { ?c skos:prefLabel ?l ; skos:inScheme ?s }"""
    data = _sparql(server, query, TURTLE).queryAndConvert()
    assert isinstance(data, bytes)
    graph = Graph().parse(data=data, format="turtle")
    assert len(graph) > 30 and (BRIDGE, None, None) in graph


@pytest.mark.parametrize(
    ("path", "accept", "syntax"),
    [
        ("/concepts/BridgeRole", "text/turtle", "turtle"),
        ("/concepts/BridgeRole", "application/ld+json", "json-ld"),
        ("/graph", "text/turtle", "turtle"),
        ("/graph", "application/ld+json", "json-ld"),
    ],
)
def test_rdf_documents_parse(server: str, path: str, accept: str, syntax: str) -> None:
    response = httpx.get(f"{server}{path}", headers={"Accept": accept}, timeout=60)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(accept)
    graph = Graph().parse(data=response.content, format=syntax)
    assert (BRIDGE, None, None) in graph
    if path == "/graph":
        assert len(graph) > 1000

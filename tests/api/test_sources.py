"""Sources kept, local paths never shown: an index built from an absolute corpus path answers with
each article's front-matter `source` (/documents, citations of /ask and /context, search hits,
the graph) and names no path of the server in any answer or in graph.ttl."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS

from leadgraph.app.config import Settings
from leadgraph.app.main import create_app
from leadgraph.indexer.build import build_index
from leadgraph.indexer.namespaces import document_uri
from leadgraph.indexer.store import resolve_version
from tests.conftest import CORPUS, ROOT
from tests.fakes import HashingEmbedder

BRIDGE_QUESTION = "Who is the bridge between leaders and the workforce?"
SOURCES = {
    "synergy-of-success": "https://example.org/articles/synergy-of-success",
    "organizational-leadership-and-management": "https://example.org/articles/lead?id=3&p=2",
    "leadership-vs-management-power-duo": "004_5033195712522462.txt",  # a reference, as written
}
SCHEMA_URL = URIRef("https://schema.org/url")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled corpus with web sources, under `<site>/corpus/articles/`, indexed from the
    folder's absolute path."""
    folder = tmp_path_factory.mktemp("sources").resolve()
    articles = folder / "corpus" / "articles"
    articles.mkdir(parents=True)
    for file in CORPUS.glob("*.md"):
        text = file.read_text(encoding="utf-8")
        text = re.sub(r"^source: .*$", f"source: {SOURCES[file.stem]}", text, count=1, flags=re.M)
        (articles / file.name).write_text(text, encoding="utf-8")
    build_index(
        [folder / "corpus"],
        folder / "index",
        embedder=HashingEmbedder(),
        semantic_threshold=0.35,
    )
    return folder


@pytest.fixture(scope="module")
def client(site: Path) -> Iterator[TestClient]:
    settings = Settings(index=site / "index", corpus=site / "corpus")
    with TestClient(create_app(settings, embedder=HashingEmbedder())) as test_client:
        yield test_client


def local_paths(site: Path) -> list[str]:
    """What no answer may contain: the site's folder, the checkout's, the corpus file paths."""
    checkout = [str(ROOT)] if len(ROOT.parts) > 2 else []  # too short a path to look for
    return [str(site), *checkout, *(f"articles/{name}.md" for name in SOURCES)]


def assert_no_local_path(text: str, site: Path) -> None:
    for path in local_paths(site):
        assert path not in text


def test_documents_jsonl_keeps_each_source_and_a_path_inside_the_corpus(site: Path) -> None:
    lines = (resolve_version(site / "index") / "documents.jsonl").read_text(encoding="utf-8")
    records = {r["id"]: r for r in map(json.loads, lines.splitlines())}

    assert {i: r["source"] for i, r in records.items()} == SOURCES
    assert {i: r["path"] for i, r in records.items()} == {i: f"articles/{i}.md" for i in SOURCES}
    assert str(site) not in lines and str(ROOT) not in lines


def test_documents_show_their_source_and_no_path(client: TestClient, site: Path) -> None:
    listing = client.get("/documents")
    assert {d["id"]: d["source"] for d in listing.json()["items"]} == SOURCES
    assert_no_local_path(listing.text, site)
    for document_id, source in SOURCES.items():
        detail = client.get(f"/documents/{document_id}")
        assert detail.json()["source"] == source
        assert "path" not in detail.json()
        assert_no_local_path(detail.text, site)


def test_ask_citations_carry_the_source_of_their_document(client: TestClient, site: Path) -> None:
    response = client.post("/ask", json={"question": BRIDGE_QUESTION, "k": 5})
    body = response.json()
    assert body["abstained"] is False and body["citations"]
    for citation in body["citations"]:
        assert citation["source"] == SOURCES[citation["document_id"]]
    assert body["citations"][0]["source"] == SOURCES["organizational-leadership-and-management"]
    assert_no_local_path(response.text, site)


def test_context_citations_and_search_hits_carry_their_source(
    client: TestClient, site: Path
) -> None:
    context = client.post("/context", json={"question": BRIDGE_QUESTION, "k": 5})
    passages = context.json()["passages"]
    assert passages
    for passage in passages:
        assert passage["citation"]["source"] == SOURCES[passage["document_id"]]
    assert_no_local_path(context.text, site)

    search = client.get("/search", params={"q": "bridge between leaders", "k": 10})
    hits = search.json()["hits"]
    assert {h["document_id"] for h in hits} == set(SOURCES)
    for hit in hits:
        assert hit["source"] == SOURCES[hit["document_id"]]
    assert_no_local_path(search.text, site)


def test_the_graph_links_web_sources_and_names_no_local_path(site: Path) -> None:
    turtle = (resolve_version(site / "index") / "graph.ttl").read_text(encoding="utf-8")
    assert_no_local_path(turtle, site)
    graph = Graph().parse(data=turtle, format="turtle")
    for document_id, source in SOURCES.items():
        node = URIRef(document_uri(document_id))
        if source.startswith("https://"):
            assert list(graph.objects(node, DCTERMS.source)) == [URIRef(source)]
            assert list(graph.objects(node, SCHEMA_URL)) == [URIRef(source)]
        else:
            assert list(graph.objects(node, DCTERMS.source)) == [Literal(source)]
            assert list(graph.objects(node, SCHEMA_URL)) == []


def test_sparql_finds_the_original_of_a_document(client: TestClient) -> None:
    node = document_uri("synergy-of-success")
    query = f"SELECT ?s WHERE {{ <{node}> <http://purl.org/dc/terms/source> ?s }}"
    response = client.get("/sparql", params={"query": query})
    [row] = response.json()["results"]["bindings"]
    assert row["s"] == {"type": "uri", "value": SOURCES["synergy-of-success"]}


def test_no_other_answer_names_a_local_path(client: TestClient, site: Path) -> None:
    answers = [
        client.get("/ready"),
        client.get("/concepts", params={"q": "bridge"}),
        client.get("/concepts/BridgeRole"),
        client.get("/concepts/BridgeRole", headers={"Accept": "text/turtle"}),
        client.get("/concepts/BridgeRole/graph"),
        client.get("/graph"),
        client.get("/documents/no-such-document"),
        client.get("/openapi.json"),
    ]
    for response in answers:
        assert response.status_code in (200, 404), response.text
        assert_no_local_path(response.text, site)


def test_ready_names_no_absolute_path_when_the_index_cannot_load(tmp_path: Path) -> None:
    root = tmp_path / "deep" / "index"
    build_index([CORPUS], root, embedder=HashingEmbedder())
    manifest = resolve_version(root) / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"format_version": 2', '"format_version": 99'))
    app = create_app(Settings(index=root, index_watch_s=0), embedder=HashingEmbedder())
    with TestClient(app) as client:
        ready = client.get("/ready")
        search = client.get("/search", params={"q": "trust"})
    assert ready.status_code == 503 and search.status_code == 503
    for body in (ready.text, search.text):
        assert str(tmp_path) not in body and "format" in body

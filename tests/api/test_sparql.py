"""/sparql: the SPARQL 1.1 Protocol over the index graph, read-only, with limits."""

from __future__ import annotations

import csv
import io
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rdflib import Graph, URIRef
from rdflib.compare import isomorphic

from leadgraph.app.config import Settings
from leadgraph.app.main import create_app
from tests.conftest import ROOT
from tests.fakes import HashingEmbedder

BRIDGE_URI = "https://leadgraph.dev/concept/BridgeRole"
SPARQL_JSON = "application/sparql-results+json"
SPARQL_XML = "application/sparql-results+xml"
BY_LABEL = """PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
SELECT ?concept ?label WHERE {
  ?concept skos:prefLabel ?label .
  FILTER(?label = "bridge role"@en)
}"""
ALL_LABELS = """SELECT ?concept ?label WHERE {
  ?concept skos:prefLabel ?label ; skos:inScheme c:scheme .
} ORDER BY ?label"""
ASK_TRUE = "ASK { c:BridgeRole skos:broader ?broader }"
CONSTRUCT = (
    """CONSTRUCT { ?c skos:prefLabel ?l } WHERE { ?c skos:prefLabel ?l ; skos:inScheme c:scheme }"""
)
RUNAWAY = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
READ_ONLY = {
    "error": "bad_query",
    "detail": "SPARQL updates are refused: this endpoint is read-only",
}


def _get(client: TestClient, query: str, accept: str | None = None) -> Any:
    headers = {"Accept": accept} if accept else {}
    return client.get("/sparql", params={"query": query}, headers=headers)


def _bad(response: Any) -> str:
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"error", "detail"} and body["error"] == "bad_query"
    return str(body["detail"])


# --- results in each syntax --------------------------------------------------------------------


def test_select_by_label_answers_sparql_json_by_default(client: TestClient) -> None:
    response = _get(client, BY_LABEL)
    assert response.status_code == 200
    assert response.headers["content-type"] == SPARQL_JSON
    body = response.json()
    assert body["head"]["vars"] == ["concept", "label"]
    (row,) = body["results"]["bindings"]
    assert row["concept"] == {"type": "uri", "value": BRIDGE_URI}
    assert row["label"] == {"type": "literal", "value": "bridge role", "xml:lang": "en"}


def test_select_as_sparql_xml(client: TestClient) -> None:
    response = _get(client, BY_LABEL, SPARQL_XML)
    assert response.headers["content-type"] == SPARQL_XML
    ns = {"r": "http://www.w3.org/2005/sparql-results#"}
    root = ET.fromstring(response.content)
    uris = [e.text for e in root.iterfind(".//r:binding[@name='concept']/r:uri", ns)]
    assert uris == [BRIDGE_URI]


def test_select_as_csv(client: TestClient) -> None:
    response = _get(client, ALL_LABELS, "text/csv")
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["concept", "label"]
    assert [BRIDGE_URI, "bridge role"] in rows
    assert len(rows) > 30


def test_select_as_tsv_writes_terms_in_turtle_syntax(client: TestClient) -> None:
    response = _get(client, BY_LABEL, "text/tab-separated-values")
    assert response.headers["content-type"] == "text/tab-separated-values; charset=utf-8"
    assert response.text.splitlines() == [
        "?concept\t?label",
        f'<{BRIDGE_URI}>\t"bridge role"@en',
    ]


def test_ask(client: TestClient) -> None:
    assert _get(client, ASK_TRUE).json() == {"head": {}, "boolean": True}
    assert _get(client, "ASK { c:BridgeRole skos:broader c:Nothing }").json()["boolean"] is False
    xml = _get(client, ASK_TRUE, SPARQL_XML)
    assert xml.status_code == 200 and b"<boolean>true</boolean>" in xml.content


def test_ask_offers_no_csv(client: TestClient) -> None:
    response = _get(client, ASK_TRUE, "text/csv")
    assert response.status_code == 406
    assert response.json()["error"] == "not_acceptable"


@pytest.mark.parametrize(
    ("accept", "syntax", "content_type"),
    [
        (None, "turtle", "text/turtle; charset=utf-8"),
        ("text/turtle", "turtle", "text/turtle; charset=utf-8"),
        ("application/ld+json", "json-ld", "application/ld+json"),
        ("application/n-triples", "nt", "application/n-triples; charset=utf-8"),
    ],
)
def test_construct_parses_in_each_syntax(
    client: TestClient, accept: str | None, syntax: str, content_type: str
) -> None:
    response = _get(client, CONSTRUCT, accept)
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    graph = Graph().parse(data=response.content, format=syntax)
    assert len(graph) > 30
    assert (URIRef(BRIDGE_URI), None, None) in graph
    assert "X-Leadgraph-Truncated" not in response.headers


def test_describe_gives_the_concepts_triples(client: TestClient) -> None:
    response = _get(client, "DESCRIBE c:BridgeRole")
    assert response.status_code == 200
    graph = Graph().parse(data=response.content, format="turtle")
    assert len(set(graph.predicates(URIRef(BRIDGE_URI)))) >= 4


def test_unservable_accept_is_406(client: TestClient) -> None:
    response = _get(client, BY_LABEL, "text/html")
    assert response.status_code == 406
    assert SPARQL_JSON in response.json()["detail"]
    assert _get(client, CONSTRUCT, SPARQL_JSON).status_code == 406


def test_graph_prefixes_are_predeclared(client: TestClient) -> None:
    assert _get(client, "ASK { c:BridgeRole a skos:Concept }").json()["boolean"] is True


# --- the three ways to send a query ------------------------------------------------------------


def test_post_form(client: TestClient) -> None:
    response = client.post("/sparql", data={"query": BY_LABEL}, headers={"Accept": "text/csv"})
    assert response.status_code == 200
    assert BRIDGE_URI in response.text


def test_post_sparql_query_body(client: TestClient) -> None:
    response = client.post(
        "/sparql",
        content=BY_LABEL.encode(),
        headers={"Content-Type": "application/sparql-query; charset=utf-8"},
    )
    assert response.status_code == 200
    assert response.json()["results"]["bindings"][0]["concept"]["value"] == BRIDGE_URI


def test_post_of_another_content_type_is_refused(client: TestClient) -> None:
    response = client.post("/sparql", json={"query": BY_LABEL})
    assert "application/sparql-query" in _bad(response)


def test_a_body_that_is_not_utf8_is_refused(client: TestClient) -> None:
    response = client.post(
        "/sparql", content=b"ASK {\xff}", headers={"Content-Type": "application/sparql-query"}
    )
    assert "not decodable" in _bad(response)


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "update",
    [
        "INSERT DATA { <urn:a> <urn:b> <urn:c> }",
        "DELETE DATA { <urn:a> <urn:b> <urn:c> }",
        "DELETE WHERE { ?s ?p ?o }",
        "LOAD <http://example.org/data.ttl>",
        "CLEAR DEFAULT",
        "DROP ALL",
        "CREATE GRAPH <urn:g>",
        "ADD DEFAULT TO <urn:g>",
        "MOVE DEFAULT TO <urn:g>",
        "COPY DEFAULT TO <urn:g>",
        "WITH <urn:g> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }",
        "PREFIX x: <urn:x:> # a comment\nINSERT { ?s ?p 1 } WHERE { ?s ?p ?o }",
        "insert data { <urn:a> <urn:b> }",  # malformed, but an update all the same
    ],
)
def test_updates_are_refused(client: TestClient, update: str) -> None:
    for response in (
        _get(client, update),
        client.post("/sparql", data={"query": update}),
        client.post(
            "/sparql", content=update, headers={"Content-Type": "application/sparql-query"}
        ),
    ):
        assert response.status_code == 400
        assert response.json() == READ_ONLY
    assert _get(client, "ASK { <urn:a> ?p ?o }").json()["boolean"] is False


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }",
        "SELECT * WHERE { ?s ?p ?o OPTIONAL { { SELECT * WHERE { "
        "SERVICE SILENT <http://example.org/sparql> { ?s ?q ?x } } } } }",
        "ASK { FILTER EXISTS { SERVICE <http://example.org/sparql> { ?s ?p ?o } } }",
        "CONSTRUCT { ?s ?p ?o } WHERE { SERVICE ?endpoint { ?s ?p ?o } }",
    ],
)
def test_service_is_refused_wherever_it_hides(client: TestClient, query: str) -> None:
    assert "SERVICE is refused" in _bad(_get(client, query))


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * FROM <http://example.org/g> WHERE { ?s ?p ?o }",
        "SELECT * FROM NAMED <http://example.org/g> WHERE { ?s ?p ?o }",
        "ASK FROM <file:///etc/passwd> { ?s ?p ?o }",
        "CONSTRUCT { ?s ?p ?o } FROM <http://example.org/g> WHERE { ?s ?p ?o }",
    ],
)
def test_from_is_refused(client: TestClient, query: str) -> None:
    assert "FROM and FROM NAMED are refused" in _bad(_get(client, query))


def test_graph_patterns_are_refused(client: TestClient) -> None:
    assert "GRAPH" in _bad(_get(client, "SELECT * WHERE { GRAPH ?g { ?s ?p ?o } }"))


@pytest.mark.parametrize("name", ["default-graph-uri", "named-graph-uri"])
def test_dataset_parameters_are_refused(client: TestClient, name: str) -> None:
    params = {"query": BY_LABEL, name: "http://example.org/g"}
    assert name in _bad(client.get("/sparql", params=params))
    assert name in _bad(client.post("/sparql", data=params))
    assert name in _bad(
        client.post(
            "/sparql",
            params={name: "http://example.org/g"},
            content=BY_LABEL,
            headers={"Content-Type": "application/sparql-query"},
        )
    )


CANARY = "http://127.0.0.1:9"  # the discard port: nothing answers there


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Every name lookup or connection attempted from now on, here or in a forked query worker
    (which inherits the patches), is appended to the returned file and fails."""
    log = tmp_path / "network.log"

    def refuse(what: str) -> Any:
        def attempt(*args: Any, **kwargs: Any) -> Any:
            with log.open("a") as out:
                out.write(f"{os.getpid()} {what} {args[1:] if what == 'connect' else args}\n")
            raise OSError(f"{what}: no network in this test")

        return attempt

    monkeypatch.setattr(socket.socket, "connect", refuse("connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("connect"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    # the guard itself works: a plain connect, and a URL fetch as rdflib would make one
    with socket.socket() as sock, pytest.raises(OSError):
        sock.connect(("127.0.0.1", 9))
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{CANARY}/context.jsonld", timeout=1)
    assert {line.split()[1] for line in log.read_text().splitlines()} == {"connect", "getaddrinfo"}
    log.unlink()
    return log


FETCH_BAIT = [  # (query, Accept)
    (f"SELECT * FROM <{CANARY}/g.ttl> WHERE {{ ?s ?p ?o }}", None),
    (f"SELECT * FROM NAMED <{CANARY}/g.ttl> WHERE {{ ?s ?p ?o }}", None),
    (f"ASK {{ SERVICE <{CANARY}/sparql> {{ ?s ?p ?o }} }}", None),
    (f"LOAD <{CANARY}/data.jsonld>", None),
    (f"LOAD <{CANARY}/data.ttl> INTO GRAPH <urn:g>", None),
    ("LOAD <https://schema.org/version/latest/schemaorg-current-https.jsonld>", None),
    (f"BASE <{CANARY}/> SELECT * WHERE {{ ?s ?p <x> }}", None),
    (f'SELECT ?x WHERE {{ BIND(IRI("{CANARY}/x") AS ?x) }}', None),
    # JSON-LD written with schema.org terms: rdflib must not fetch a context to compact them
    (
        f'CONSTRUCT {{ <{CANARY}/x> <https://schema.org/name> "x" ; '
        "a <https://schema.org/Article> } WHERE {}",
        "application/ld+json",
    ),
    (f"DESCRIBE <{CANARY}/x>", "application/ld+json"),
    (f"DESCRIBE <{CANARY}/x>", "application/rdf+xml"),
    (CONSTRUCT, "application/ld+json"),
]


def test_no_query_fetches_anything(client: TestClient, no_network: Path) -> None:
    for query, accept in FETCH_BAIT:
        for response in (
            _get(client, query, accept),
            client.post("/sparql", data={"query": query}, headers={"Accept": accept or "*/*"}),
        ):
            assert response.status_code in (200, 400), (query, response.text)
    assert not no_network.exists(), no_network.read_text()


def test_no_rdf_answer_fetches_a_context(client: TestClient, no_network: Path) -> None:
    for path in ("/graph", "/concepts/BridgeRole"):
        for media_type in ("application/ld+json", "application/rdf+xml", "text/turtle"):
            response = client.get(path, headers={"Accept": media_type})
            assert response.status_code == 200, response.text
    params = {"query": ASK_TRUE, "default-graph-uri": f"{CANARY}/g"}
    assert client.get("/sparql", params=params).status_code == 400
    assert not no_network.exists(), no_network.read_text()


def test_syntax_error_names_line_and_column(client: TestClient) -> None:
    detail = _bad(_get(client, "SELECT ?x WHERE {\n  ?x ?y \n}"))
    assert detail.startswith("SPARQL syntax error at line 2, column 3:")


def test_unknown_prefix_is_named(client: TestClient) -> None:
    assert "nope" in _bad(_get(client, "SELECT * WHERE { ?s nope:p ?o }"))


def test_missing_or_empty_query(client: TestClient) -> None:
    assert "query: missing" in _bad(client.get("/sparql"))
    assert "query: missing" in _bad(client.post("/sparql", data={"other": "x"}))
    assert "query: empty" in _bad(_get(client, "  \n "))
    detail = _bad(client.get("/sparql", params=[("query", ASK_TRUE), ("query", ASK_TRUE)]))
    assert "given 2 times" in detail


# --- limits ------------------------------------------------------------------------------------


@pytest.fixture
def tight_client(api_index: Path) -> Iterator[TestClient]:
    settings = Settings(
        index=api_index, sparql_timeout_s=0.5, sparql_max_rows=5, sparql_max_chars=500
    )
    with TestClient(create_app(settings, embedder=HashingEmbedder())) as client:
        yield client


@pytest.fixture
def uncapped_client(api_index: Path) -> Iterator[TestClient]:
    """A small timeout and no practical row cap: only the timeout can stop a runaway query."""
    settings = Settings(index=api_index, sparql_timeout_s=0.5, sparql_max_rows=10**9)
    with TestClient(create_app(settings, embedder=HashingEmbedder())) as client:
        yield client


def _children() -> set[int]:
    pids: set[int] = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        try:
            children = (task / "children").read_text().split()
        except FileNotFoundError:
            continue  # a thread that has just ended (the reaping threads do)
        pids.update(int(pid) for pid in children)
    return pids


@pytest.mark.parametrize(
    "query",
    [
        RUNAWAY,  # yields rows lazily, ~1.3e12 of them
        "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }",  # consumes all first
        "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f } ORDER BY ?f ?c",
        "CONSTRUCT { ?a ?b ?f } WHERE { ?a ?b ?c . ?d ?e ?f }",
    ],
)
def test_a_runaway_query_is_stopped_with_503(uncapped_client: TestClient, query: str) -> None:
    before = _children()
    started = time.monotonic()
    response = _get(uncapped_client, query)
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.json()["error"] == "query_timeout"
    assert "0.5 s" in response.json()["detail"]
    assert elapsed < 3.0
    deadline = time.monotonic() + 2
    while _children() - before and time.monotonic() < deadline:
        time.sleep(0.05)  # the killed worker is reaped in the background
    assert not _children() - before, "the worker process was left running"


# Run in a fresh interpreter: pyparsing (rdflib's SPARQL parser) learns how to call each parse
# action on its first use, process-wide, and two threads doing that at once break each other
# (TypeError: "postParse2() missing 1 required positional argument", a 500). In this process
# earlier tests have long since taught it everything.
FIRST_PARSES = """
import sys, threading
from rdflib import Graph
from leadgraph.app.config import Settings
from leadgraph.app.services.sparql import SparqlService

service = SparqlService(Graph(), Settings())
skos = "PREFIX skos: <http://www.w3.org/2004/02/skos/core#> "
queries = [  # rules the service's warm-up does not use
    "SELECT ?c (COUNT(?l) AS ?n) WHERE { ?c skos:prefLabel ?l FILTER(STRSTARTS(STR(?l), 'b')) "
    "OPTIONAL { ?c skos:broader ?b } } GROUP BY ?c HAVING (COUNT(?l) > 0) ORDER BY DESC(?n)",
    "SELECT ?x WHERE { BIND(CONCAT('a', STR(1 + 2 * 3)) AS ?x) VALUES ?y { 1 2 } }",
    "ASK { ?s ?p ?o FILTER NOT EXISTS { ?s a skos:Concept } FILTER(REGEX(STR(?s), 'x', 'i')) }",
    "CONSTRUCT { ?s ?p ?o } WHERE { { ?s ?p ?o } UNION { ?o ?p ?s } FILTER(isIRI(?s)) } LIMIT 2",
    "SELECT * WHERE { ?s skos:prefLabel|skos:altLabel ?l . ?s skos:broader+ ?b }",
    "SELECT (GROUP_CONCAT(?l; separator=',') AS ?g) WHERE { ?c skos:prefLabel ?l } GROUP BY ?c",
    "DESCRIBE ?c WHERE { ?c skos:prefLabel 'bridge role'@en }",
    "SELECT ?z WHERE { BIND(IF(YEAR(NOW()) > 2000, 'y', 'n') AS ?z) BIND(COALESCE(?q, 1) AS ?w) }",
]
start = threading.Barrier(len(queries))
errors = []

def check(query):
    start.wait()
    try:
        service.check(skos + query)
    except Exception as exc:
        errors.append(repr(exc))

threads = [threading.Thread(target=check, args=(q,)) for q in queries]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(*errors, file=sys.stderr)
sys.exit(1 if errors else 0)
"""


def test_first_queries_arriving_together_all_parse() -> None:
    done = subprocess.run(
        [sys.executable, "-c", FIRST_PARSES], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_health_answers_while_a_query_runs(uncapped_client: TestClient) -> None:
    outcome: dict[str, int] = {}

    def run() -> None:
        outcome["status"] = _get(uncapped_client, RUNAWAY).status_code

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(0.1)
    started = time.monotonic()
    assert uncapped_client.get("/health").status_code == 200
    assert time.monotonic() - started < 0.3
    worker.join()
    assert outcome["status"] == 503


def test_rows_are_capped_and_the_cap_is_said(tight_client: TestClient) -> None:
    response = _get(tight_client, ALL_LABELS)
    assert len(response.json()["results"]["bindings"]) == 5
    assert response.headers["X-Leadgraph-Truncated"] == "true"
    rows = list(csv.reader(io.StringIO(_get(tight_client, ALL_LABELS, "text/csv").text)))
    assert len(rows) == 6  # header + 5
    small = _get(tight_client, BY_LABEL)
    assert len(small.json()["results"]["bindings"]) == 1
    assert "X-Leadgraph-Truncated" not in small.headers


def test_construct_triples_are_capped(tight_client: TestClient) -> None:
    response = _get(tight_client, CONSTRUCT, "application/n-triples")
    assert response.headers["X-Leadgraph-Truncated"] == "true"
    assert len(Graph().parse(data=response.content, format="nt")) == 5


def test_a_runaway_query_under_a_row_cap_ends_with_the_first_rows(
    tight_client: TestClient,
) -> None:
    response = _get(tight_client, RUNAWAY)
    assert response.status_code == 200
    assert len(response.json()["results"]["bindings"]) == 5
    assert response.headers["X-Leadgraph-Truncated"] == "true"


def test_an_over_long_query_names_the_limit(tight_client: TestClient) -> None:
    query = BY_LABEL + " " * 500
    assert "LEADGRAPH_SPARQL_MAX_CHARS" in _bad(_get(tight_client, query))
    assert "500" in _bad(tight_client.post("/sparql", data={"query": query}))
    huge = tight_client.post(
        "/sparql", content="#" * 100_000, headers={"Content-Type": "application/sparql-query"}
    )
    assert "sparql_max_chars" in _bad(huge)


# --- the two engines ---------------------------------------------------------------------------

SAME_ANSWERS = [
    BY_LABEL,
    ALL_LABELS,
    ASK_TRUE,
    "ASK { c:BridgeRole skos:broader c:BridgeRole }",
    CONSTRUCT,
    "DESCRIBE c:BridgeRole",
    # aggregates, decimals, OPTIONAL with unbound variables, paths, string functions
    "SELECT ?c (COUNT(?m) AS ?n) (MAX(?s) AS ?best) WHERE { ?m a lg:Mention ; lg:concept ?c ; "
    "lg:score ?s } GROUP BY ?c ORDER BY DESC(?n) ?c",
    "SELECT ?c ?b WHERE { ?c skos:inScheme c:scheme OPTIONAL { ?c skos:broader ?b } } "
    "ORDER BY ?c ?b",
    "SELECT DISTINCT ?top WHERE { c:BridgeRole skos:broader+ ?top } ORDER BY ?top",
    "SELECT ?c (LCASE(?l) AS ?lower) (STRLEN(?l) AS ?n) WHERE { ?c skos:altLabel ?l "
    "FILTER(REGEX(?l, '^go', 'i')) } ORDER BY ?c ?lower",
    "SELECT ?d ?title ?date WHERE { ?d a schema:CreativeWork ; dcterms:title ?title "
    "OPTIONAL { ?d dcterms:date ?date } } ORDER BY ?d",
]


@pytest.fixture
def rdflib_client(api_index: Path) -> Iterator[TestClient]:
    settings = Settings(index=api_index, sparql_engine="rdflib")
    with TestClient(create_app(settings, embedder=HashingEmbedder())) as client:
        yield client


def test_oxigraph_is_the_default_engine(client: TestClient) -> None:
    from leadgraph.app.deps import app_services

    assert app_services(client.app).sparql.store is not None  # type: ignore[arg-type]
    assert Settings().sparql_engine == "oxigraph"


@pytest.mark.parametrize("query", SAME_ANSWERS)
def test_both_engines_give_the_same_answers(
    client: TestClient, rdflib_client: TestClient, query: str
) -> None:
    oxigraph, rdflib = _get(client, query), _get(rdflib_client, query)
    assert oxigraph.status_code == rdflib.status_code == 200, (oxigraph.text, rdflib.text)
    assert oxigraph.headers["content-type"] == rdflib.headers["content-type"]
    if oxigraph.headers["content-type"].startswith("text/turtle"):
        ours = Graph().parse(data=oxigraph.text, format="turtle")
        assert len(ours) > 0
        assert isomorphic(ours, Graph().parse(data=rdflib.text, format="turtle"))
        return
    ours_json, theirs_json = oxigraph.json(), rdflib.json()
    if "boolean" in ours_json:
        assert ours_json == theirs_json
        return
    assert ours_json["head"] == theirs_json["head"]
    assert ours_json["results"]["bindings"], "the query should match something"
    assert _rows(ours_json) == _rows(theirs_json)


def _rows(body: dict[str, Any]) -> list[dict[str, tuple[str, ...]]]:
    """The bindings with numbers compared by value (engines may write 0.80 or 0.8)."""
    rows = []
    for binding in body["results"]["bindings"]:
        row = {}
        for name, term in binding.items():
            value = term["value"]
            if term.get("datatype", "").endswith(("#decimal", "#double", "#integer")):
                value = str(float(value))
            row[name] = (term["type"].replace("typed-literal", "literal"), value)
        rows.append(row)
    return rows


@pytest.mark.parametrize("engine", ["oxigraph", "rdflib"])
def test_a_query_past_its_memory_budget_is_stopped_with_503(
    api_index: Path, engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leadgraph.app.services import sparql

    monkeypatch.setattr(sparql, "MEMORY_BUDGET", 64 << 20)  # read by each worker as it starts
    settings = Settings(
        index=api_index, sparql_engine=engine, sparql_timeout_s=60, sparql_max_rows=10**9
    )
    with TestClient(create_app(settings, embedder=HashingEmbedder())) as client:
        response = _get(client, "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f } ORDER BY ?f ?c")
    assert response.status_code == 503, response.text[:200]
    assert response.json() == {
        "error": "query_too_costly",
        "detail": "query needed more than 64 MiB of memory and was stopped; narrow it, or add "
        "LIMIT",
    }


def test_refusal_words_in_names_literals_iris_and_comments_refuse_nothing(
    client: TestClient,
) -> None:
    query = (
        "PREFIX from: <https://leadgraph.dev/concept/>\n"
        "SELECT ?graph ?service WHERE {\n"
        "  ?graph skos:prefLabel ?service . # GRAPH { SERVICE <x> } FROM <y>\n"
        '  FILTER(?service != "from a graph" && ?service != """SERVICE\nGRAPH""")\n'
        "  FILTER(?graph != <https://example.org/service/graph/from>)\n"
        "  FILTER(?graph != from:Service)\n"
        "} LIMIT 1"
    )
    response = _get(client, query)
    assert response.status_code == 200, response.text
    assert len(response.json()["results"]["bindings"]) == 1


@pytest.mark.parametrize(
    ("query", "refusal"),
    [
        ("select * where { service <http://example.org/> { ?s ?p ?o } }", "SERVICE is refused"),
        ("SELECT * WHERE { SeRvIcE <http://example.org/> { ?s ?p ?o } }", "SERVICE is refused"),
        ("SELECT*FROM<http://example.org/g>WHERE{?s ?p ?o}", "FROM and FROM NAMED"),
        ("SELECT * WHERE {?s ?p ?o.graph ?g {?a ?b ?c}}", "GRAPH"),
        ("#comment\nprefix x: <urn:x>\ndelete where { ?s ?p ?o }", "read-only"),
    ],
)
@pytest.mark.parametrize("engine", ["oxigraph", "rdflib"])
def test_both_engines_refuse_alike(
    client: TestClient, rdflib_client: TestClient, engine: str, query: str, refusal: str
) -> None:
    assert refusal in _bad(_get(client if engine == "oxigraph" else rdflib_client, query))


def test_a_text_that_is_no_query_form_names_where(client: TestClient) -> None:
    detail = _bad(_get(client, "PREFIX x: <urn:x>\n  FETCH ?s"))
    assert detail.startswith("SPARQL syntax error at line 2, column 3:")
    assert "SELECT, ASK, CONSTRUCT or DESCRIBE" in detail


def test_a_syntax_error_only_oxigraph_finds_keeps_its_line_and_column(client: TestClient) -> None:
    from leadgraph.app.deps import app_services

    service = app_services(client.app)  # type: ignore[arg-type]
    error = service.sparql._syntax_error(BY_LABEL, "error at 3:7: expected OPTIONAL\nor more")
    assert error.detail == "SPARQL syntax error at line 3, column 7: expected OPTIONAL"


@pytest.mark.parametrize(
    ("query", "where"),
    [
        ("{ ?s ?p ?o }", "line 1, column 1:"),
        ("PREFIX x: <urn:x>\n\n  ?s ?p ?o", "line 3, column 3:"),
        ("# only a comment\n", "line 2, column 1:"),
        ('"SELECT * WHERE { ?s ?p ?o }"', "line 1, column 1:"),
    ],
)
def test_a_query_without_its_form_is_named_where_the_form_should_be(
    client: TestClient, query: str, where: str
) -> None:
    detail = _bad(_get(client, query))
    assert detail.startswith(f"SPARQL syntax error at {where}"), detail

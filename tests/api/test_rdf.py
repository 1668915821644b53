"""app.rdf: Accept negotiation (RFC 9110), a concept's description, serialised responses."""

from __future__ import annotations

import json
import socket

import pytest
from rdflib import RDF, RDFS, SKOS, BNode, Graph, Literal, URIRef

from leadgraph.app.errors import NotAcceptable
from leadgraph.app.rdf import RDF_MEDIA_TYPES, choose_media_type, concept_graph, rdf_response
from leadgraph.indexer.namespaces import CONCEPT, LG

JSON = "application/json"
TURTLE = "text/turtle"
JSONLD = "application/ld+json"
NT = "application/n-triples"
XML = "application/rdf+xml"
OFFERED = [JSON, TURTLE, JSONLD, NT, XML]


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, JSON),
        ("", JSON),
        ("   ", JSON),
        ("*/*", JSON),
        (TURTLE, TURTLE),
        ("TEXT/Turtle", TURTLE),
        ("text/turtle;charset=utf-8", TURTLE),  # parameters other than q are ignored
        (" text/turtle ; q=0.5 , application/n-triples ; q=0.4 ", TURTLE),
        ("application/ld+json;q=0.9, text/turtle;q=0.5", JSONLD),
        ("text/*", TURTLE),
        ("text/*;q=0.3, application/n-triples;q=0.2", TURTLE),
        ("*/*;q=0.1, application/n-triples", NT),
        ("application/*", JSON),  # equal quality: the server's order decides
        ("application/n-triples, text/turtle", TURTLE),  # ditto: text/turtle is offered first
        ("text/turtle;q=0, */*", JSON),
        ("application/json;q=0, text/turtle;q=0, */*;q=0.5", JSONLD),
        ("application/*;q=0.2, application/rdf+xml;q=0.8", XML),  # most specific range wins
        ("application/*;q=0.9, application/json;q=0.1", JSONLD),  # ... even when lower
        ('text/turtle;profile="a,b";q=0.5, application/n-triples;q=0.4', TURTLE),  # quoted comma
        ("text/turtle;q=0.5;level=1, application/n-triples;q=0.4", TURTLE),  # accept-extension
        ("garbage", JSON),  # nothing well formed: as if there were no Accept
        ("text/turtle;q=abc", JSON),  # a malformed q drops its range
        ("text/turtle;q=2, application/n-triples;q=0.5", NT),  # q above 1 is malformed
        ("*/turtle, application/n-triples", NT),  # "*/x" is not a media range
        ("text/turtle;q=1.000, application/ld+json;q=1", TURTLE),
        ("text/turtle;q=0.001", TURTLE),
    ],
)
def test_choose_media_type(accept: str | None, chosen: str) -> None:
    assert choose_media_type(accept, OFFERED) == chosen


@pytest.mark.parametrize(
    "accept",
    [
        "text/html",
        "image/png, text/html;q=0.9",
        "text/turtle;q=0, application/*;q=0",
        "*/*;q=0",
        "text/*;q=0, application/*;q=0",
    ],
)
def test_nothing_acceptable_raises_naming_the_offer(accept: str) -> None:
    with pytest.raises(NotAcceptable) as caught:
        choose_media_type(accept, OFFERED)
    assert caught.value.status == 406
    assert "offers: application/json, text/turtle, application/ld+json" in caught.value.detail


# --- concept_graph -----------------------------------------------------------------------------

BRIDGE, ROLE, LEADER, STAFF, OTHER = (
    CONCEPT[n] for n in ("BridgeRole", "OrganizationalRole", "Leader", "Workforce", "Other")
)
DOC = URIRef("https://leadgraph.dev/doc/a")


@pytest.fixture
def small_graph() -> Graph:
    g = Graph()
    g.add((BRIDGE, RDF.type, SKOS.Concept))
    g.add((BRIDGE, SKOS.prefLabel, Literal("bridge role", lang="en")))
    g.add((BRIDGE, SKOS.broader, ROLE))
    g.add((BRIDGE, LG.bridges, LEADER))
    relation = BNode()
    g.add((BRIDGE, LG.relation, relation))
    g.add((relation, LG.target, STAFF))
    g.add((relation, LG.weight, Literal(0.5)))
    g.add((ROLE, SKOS.prefLabel, Literal("organizational role", lang="en")))
    g.add((ROLE, SKOS.definition, Literal("not part of the bridge's description")))
    g.add((LEADER, RDFS.label, Literal("leader")))
    g.add((STAFF, SKOS.prefLabel, Literal("workforce", lang="en")))
    g.add((OTHER, SKOS.related, BRIDGE))  # incoming: not part of the description
    g.add((DOC, LG.mentions, BRIDGE))
    return g


def test_concept_graph_has_the_concepts_own_triples(small_graph: Graph) -> None:
    out = concept_graph(small_graph, str(BRIDGE))
    assert set(out.predicate_objects(BRIDGE)) == set(small_graph.predicate_objects(BRIDGE))


def test_concept_graph_follows_blank_nodes(small_graph: Graph) -> None:
    out = concept_graph(small_graph, str(BRIDGE))
    (relation,) = out.objects(BRIDGE, LG.relation)
    assert (relation, LG.target, STAFF) in out
    assert (relation, LG.weight, Literal(0.5)) in out
    assert (STAFF, SKOS.prefLabel, Literal("workforce", lang="en")) in out  # label through a bnode


def test_concept_graph_labels_what_it_points_to_and_nothing_more(small_graph: Graph) -> None:
    out = concept_graph(small_graph, str(BRIDGE))
    assert (ROLE, SKOS.prefLabel, Literal("organizational role", lang="en")) in out
    assert (LEADER, RDFS.label, Literal("leader")) in out
    assert (ROLE, SKOS.definition, None) not in out
    assert (OTHER, None, None) not in out and (DOC, None, None) not in out
    assert len(out) == 10


def test_concept_graph_binds_readable_prefixes(small_graph: Graph) -> None:
    out = concept_graph(small_graph, str(BRIDGE))
    prefixes = dict(out.namespaces())
    for prefix in ("skos", "lg", "c", "dcterms", "prov", "rdfs"):
        assert prefix in prefixes
    turtle = out.serialize(format="turtle")
    assert "c:BridgeRole" in turtle and "skos:prefLabel" in turtle


def test_concept_graph_of_an_unknown_uri_is_empty(small_graph: Graph) -> None:
    assert len(concept_graph(small_graph, "https://leadgraph.dev/concept/Nope")) == 0


# --- rdf_response ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("media_type", "content_type"),
    [
        (TURTLE, "text/turtle; charset=utf-8"),
        (JSONLD, "application/ld+json"),
        (NT, "application/n-triples; charset=utf-8"),
        (XML, "application/rdf+xml"),
    ],
)
def test_rdf_response_round_trips(small_graph: Graph, media_type: str, content_type: str) -> None:
    response = rdf_response(small_graph, media_type)
    assert response.headers["content-type"] == content_type
    assert response.headers["vary"] == "Accept"
    parsed = Graph().parse(data=bytes(response.body), format=RDF_MEDIA_TYPES[media_type])
    assert len(parsed) == len(small_graph)


def test_json_ld_is_written_without_any_network_access(
    small_graph: Graph, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("JSON-LD serialisation tried to open a connection")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    body = json.loads(bytes(rdf_response(small_graph, JSONLD).body))
    assert "http" not in json.dumps([node.get("@context") for node in body if "@context" in node])
    assert any(node.get("@id") == str(BRIDGE) for node in body)

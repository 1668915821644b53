from __future__ import annotations

from rdflib import RDF, SKOS, BNode, Graph, Literal, URIRef
from rdflib.compare import isomorphic

from indexer.rdfio import turtle_bytes

C = "https://leadgraph.dev/concept/"
DECIMAL = URIRef("http://www.w3.org/2001/XMLSchema#decimal")


def _graph() -> Graph:
    graph = Graph()
    graph.bind("skos", SKOS)
    graph.bind("c", C)
    trust, node = URIRef(C + "Trust"), BNode()
    graph.add((trust, RDF.type, SKOS.Concept))
    graph.add((trust, SKOS.prefLabel, Literal("trust", lang="en")))
    graph.add((trust, SKOS.note, Literal('quote " and\nnewline, émoji 🙂')))
    graph.add((trust, URIRef(C + "score"), Literal("0.75", datatype=DECIMAL)))
    graph.add((trust, URIRef(C + "evidence"), node))
    graph.add((node, URIRef(C + "passage"), URIRef("https://leadgraph.dev/passage/a:p0")))
    return graph


def test_turtle_round_trips_through_rdflib() -> None:
    graph = _graph()
    parsed = Graph().parse(data=turtle_bytes(graph), format="turtle")
    assert isomorphic(graph, parsed)


def test_turtle_declares_only_the_prefixes_it_uses() -> None:
    text = turtle_bytes(_graph()).decode("utf-8")
    assert "@prefix skos:" in text and "@prefix c:" in text
    assert "brick" not in text and "@prefix owl:" not in text  # rdflib's defaults, unused
    assert "c:Trust" in text

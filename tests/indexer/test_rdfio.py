from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import RDF, SKOS, BNode, Graph, Literal, URIRef
from rdflib.compare import isomorphic

from leadgraph.indexer.rdfio import from_ox, load_store, rdflib_graph, turtle_bytes, turtle_prefixes

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


def test_the_oxigraph_store_holds_the_same_triples_in_rdflib_terms(tmp_path: Path) -> None:
    graph = _graph()
    path = tmp_path / "graph.ttl"
    path.write_bytes(turtle_bytes(graph))
    store = load_store(path)
    back = Graph()
    for quad in store:
        back.add((from_ox(quad.subject), from_ox(quad.predicate), from_ox(quad.object)))
    assert isomorphic(graph, back)
    # a plain literal stays plain (rdflib tells it from xsd:string), a typed one keeps its type
    assert Literal('quote " and\nnewline, émoji 🙂') in set(back.objects())
    assert Literal("0.75", datatype=DECIMAL) in set(back.objects())


def test_a_triple_term_has_no_rdflib_term() -> None:
    node = ox.NamedNode(C + "Trust")
    with pytest.raises(ValueError, match="triple terms"):
        from_ox(ox.Triple(node, node, node))  # type: ignore[arg-type]


def test_a_broken_turtle_file_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "graph.ttl"
    path.write_text("<urn:a> <urn:b> <urn:c> .\n<urn:a> <urn:b> .\n", encoding="utf-8")
    with pytest.raises(SyntaxError, match="line 2"):
        load_store(path)


def test_the_rdflib_graph_made_from_the_store_equals_rdflibs_parse(tmp_path: Path) -> None:
    path = tmp_path / "graph.ttl"
    path.write_bytes(turtle_bytes(_graph()))
    parsed = Graph().parse(path, format="turtle")
    made = rdflib_graph(load_store(path), turtle_prefixes(path))
    assert isomorphic(made, parsed)
    assert set(made.namespaces()) == set(parsed.namespaces())
    assert turtle_prefixes(path) == {"c": C, "rdf": str(RDF), "skos": str(SKOS)}

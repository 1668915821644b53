"""The index graph made as Oxigraph triples: the literals rdflib would write, each triple once,
and the same Turtle from the same inputs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from rdflib import RDF, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, PROV, XSD

from leadgraph.indexer.graph import build_graph
from leadgraph.indexer.models import (
    Candidate,
    Cooccurrence,
    Document,
    Mention,
    Passage,
    RelationEvidence,
    Span,
)
from leadgraph.indexer.namespaces import (
    LG,
    MENTION,
    RUN,
    candidate_uri,
    concept_uri,
    document_uri,
    passage_uri,
)

TRUST, SAFETY = concept_uri("Trust"), concept_uri("PsychologicalSafety")
STARTED = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
ENDED = datetime(2026, 12, 1, 9, 31, tzinfo=UTC)


def _graph(ontology: Graph | None = None) -> bytes:
    text = "Trust builds safety. Trust again."
    document = Document("d1", "On trust", text, kind="article", date="2026-11-30")
    passage = Passage("d1:p0", "d1", 0, 0, len(text), text, (Span(0, 20), Span(21, 33)), 7, "h")
    mentions = [
        Mention("d1:p0", TRUST, 1.0, "lexical", 0, 5, "Trust"),
        Mention("d1:p0", TRUST, 1.0, "lexical", 21, 26, "Trust"),  # the same concept again
        Mention("d1:p0", SAFETY, 0.61234567, "semantic"),
    ]
    graph = build_graph(
        ontology if ontology is not None else Graph(),
        [document],
        [passage],
        mentions,
        [Cooccurrence(TRUST, SAFETY, 1, -0.25)],
        [RelationEvidence(TRUST, str(LG.provides), SAFETY, "d1:p0", 0, 20, text[:20], 0.9)],
        [Candidate(candidate_uri("safety"), "safety", "safety", 2, 1, 1.0, ("d1:p0",))],
        version="20261201T093000Z",
        model="fake",
        started=STARTED,
        ended=ENDED,
    )
    turtle = graph.turtle()
    assert len(Graph().parse(data=turtle, format="turtle")) == len(graph)
    return turtle


def test_literals_are_typed_as_rdflib_types_them() -> None:
    graph = Graph().parse(data=_graph(), format="turtle")
    passage, document = URIRef(passage_uri("d1:p0")), URIRef(document_uri("d1"))
    assert graph.value(passage, LG.start) == Literal(0)
    assert graph.value(passage, LG.tokenCount) == Literal(7)
    assert graph.value(document, DCTERMS.title) == Literal("On trust")
    assert graph.value(document, DCTERMS.date) == Literal("2026-11-30", datatype=XSD.date)
    score = graph.value(MENTION["2"], LG.score)
    assert isinstance(score, Literal) and score.toPython() == Decimal("0.6123")
    assert score == Literal("0.6123", datatype=XSD.decimal)
    run = RUN["20261201T093000Z"]
    assert graph.value(run, PROV.endedAtTime) == Literal(
        "2026-12-01T09:31:00+00:00", datatype=XSD.dateTime
    )
    label = graph.value(
        URIRef(candidate_uri("safety")), URIRef("http://www.w3.org/2004/02/skos/core#prefLabel")
    )
    assert label == Literal("safety", lang="en")


def test_a_triple_made_twice_is_stored_once() -> None:
    graph = Graph().parse(data=_graph(), format="turtle")
    subjects = list(graph.objects(URIRef(passage_uri("d1:p0")), DCTERMS.subject))
    assert sorted(map(str, subjects)) == sorted([TRUST, SAFETY])


def test_the_same_inputs_give_the_same_turtle() -> None:
    ontology = Graph()
    ontology.add((URIRef(TRUST), RDF.type, URIRef("http://www.w3.org/2004/02/skos/core#Concept")))
    assert _graph(ontology) == _graph(ontology)  # blank nodes are labelled by position


def test_the_ontology_is_written_in_the_same_order_whatever_order_its_graph_gives() -> None:
    # an rdflib graph iterates in an order that follows its terms' hashes, which change from one
    # process to the next
    class Iterating(Graph):
        def __init__(self, triples: list[tuple[URIRef, URIRef, Literal | URIRef]]) -> None:
            super().__init__()
            self.order = triples
            for triple in triples:
                self.add(triple)

        def __iter__(self) -> Iterator[Any]:
            return iter(self.order)

    skos = "http://www.w3.org/2004/02/skos/core#"
    triples: list[tuple[URIRef, URIRef, Literal | URIRef]] = [
        (URIRef(TRUST), URIRef(skos + "altLabel"), Literal(label, lang="en"))
        for label in ("reliance", "confidence", "faith", "credibility")
    ]
    triples.append((URIRef(TRUST), RDF.type, URIRef(skos + "Concept")))
    assert _graph(Iterating(triples)) == _graph(Iterating(triples[::-1]))


def test_terms_the_ontology_types_are_not_declared_again() -> None:
    ontology = Graph()
    ontology.add((LG.Passage, RDF.type, URIRef("http://www.w3.org/2002/07/owl#Class")))
    graph = Graph().parse(data=_graph(ontology), format="turtle")
    assert graph.value(LG.Passage, URIRef("http://www.w3.org/2000/01/rdf-schema#label")) is None
    assert graph.value(LG.Mention, URIRef("http://www.w3.org/2000/01/rdf-schema#label")) == Literal(
        "Mention"
    )


def test_a_document_links_its_source_never_its_file() -> None:
    schema_url = URIRef("https://schema.org/url")
    documents = [
        Document("web", "W", "Text.", source="https://example.org/a?b=1", path="team/web.md"),
        Document("ref", "R", "Text.", source="003_569b31adfc32932d.txt", path="ref.md"),
        Document("none", "N", "Text.", path="/srv/corpus/none.md"),  # a path is never written
    ]
    turtle = build_graph(
        Graph(), documents, [], [], [], [], [], version="v", model="fake", started=STARTED
    ).turtle()
    graph = Graph().parse(data=turtle, format="turtle")

    web, ref, none = (URIRef(document_uri(d.id)) for d in documents)
    assert list(graph.objects(web, DCTERMS.source)) == [URIRef("https://example.org/a?b=1")]
    assert list(graph.objects(web, schema_url)) == [URIRef("https://example.org/a?b=1")]
    assert list(graph.objects(ref, DCTERMS.source)) == [Literal("003_569b31adfc32932d.txt")]
    assert list(graph.objects(ref, schema_url)) == []
    assert list(graph.objects(none, DCTERMS.source)) == []
    assert b"team/web.md" not in turtle and b"/srv/corpus" not in turtle

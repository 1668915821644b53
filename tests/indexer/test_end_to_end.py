"""The bundled corpus indexed with the real model: the links a reader would check first."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS

from leadgraph.indexer.namespaces import LG, concept_uri, passage_uri
from leadgraph.indexer.store import Index, load_index

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def index(real_index: Path) -> Index:
    return load_index(real_index)


def _passage_with(index: Index, words: str) -> str:
    return next(p.id for p in index.passages if words in p.text)


def _linked(index: Index, passage_id: str) -> set[str]:
    return {m.concept_uri for m in index.mentions_by_passage.get(passage_id, [])}


def test_bridge_passage_is_linked_to_bridge_role(index: Index) -> None:
    passage = _passage_with(index, "managers provide the bridge between leaders")
    assert concept_uri("BridgeRole") in _linked(index, passage)


def test_why_and_how_passage_is_linked_to_purpose_and_execution(index: Index) -> None:
    passage = _passage_with(index, "Leadership answers the “why,”")
    linked = _linked(index, passage)
    assert concept_uri("Purpose") in linked
    assert concept_uri("Execution") in linked


def test_every_mention_keeps_score_and_method_and_lexical_spans_are_exact(index: Index) -> None:
    for m in index.mentions:
        assert 0.0 < m.score <= 1.0 and m.method in ("lexical", "semantic")
        if m.method == "lexical":
            passage = index.passages[index.passage_rows[m.passage_id]]
            text = index.documents[passage.document_id].text
            assert m.start is not None and m.end is not None
            assert text[m.start : m.end] == m.surface


def test_relation_evidence_quotes_are_exact_sentences(index: Index) -> None:
    assert index.evidence
    for e in index.evidence:
        passage = index.passages[index.passage_rows[e.passage_id]]
        assert index.documents[passage.document_id].text[e.start : e.end] == e.quote


def test_graph_answers_which_passages_mention_bridge_role(index: Index) -> None:
    graph = Graph().parse(index.graph_path, format="turtle")
    rows = graph.query(
        "SELECT ?p WHERE { ?p dcterms:subject ?c }",
        initNs={"dcterms": DCTERMS},
        initBindings={"c": URIRef(concept_uri("BridgeRole"))},
    )
    passages = {str(row[0]) for row in rows}  # type: ignore[index]
    bridge = _passage_with(index, "managers provide the bridge between leaders")
    assert passage_uri(bridge) in passages
    methods = set(graph.objects(None, LG.method))
    assert methods == {Literal("lexical"), Literal("semantic")}

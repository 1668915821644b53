from __future__ import annotations

import math

import pytest

from leadgraph.indexer.chunking import chunk_corpus, split_sentences
from leadgraph.indexer.corpus import read_corpus
from leadgraph.indexer.linking import LexicalMatcher
from leadgraph.indexer.models import Concept, Mention, Passage, PropertyDef, Relation
from leadgraph.indexer.namespaces import LG, concept_uri
from leadgraph.indexer.ontology import load_ontology
from leadgraph.indexer.relations import cooccurrence, relation_evidence, role_stand_ins
from tests.conftest import CORPUS, ONTOLOGY
from tests.fakes import HashingEmbedder
from tests.indexer.linking_gold import BRIDGE, WHY_HOW

A, B, C = concept_uri("A"), concept_uri("B"), concept_uri("C")
PROVIDES = str(LG["provides"])


def mention(passage_id: str, uri: str, method: str = "lexical") -> Mention:
    return Mention(passage_id, uri, 1.0, "lexical" if method == "lexical" else "semantic")


# --- cooccurrence ---------------------------------------------------------------------------


def test_perfect_cooccurrence_has_npmi_one() -> None:
    mentions = [mention(p, u) for p in ("p0", "p1") for u in (B, A)]
    assert [(c.a, c.b, c.count, c.npmi) for c in cooccurrence(mentions, 4)] == [(A, B, 2, 1.0)]


def test_pair_in_every_passage_has_npmi_one() -> None:
    mentions = [mention(p, u) for p in ("p0", "p1") for u in (A, B)]
    (pair,) = cooccurrence(mentions, 2)
    assert pair.npmi == 1.0


def test_independent_concepts_have_npmi_zero() -> None:
    # p(a) = p(b) = 1/2, p(a,b) = 1/4 = p(a) p(b)
    mentions = [mention("p0", A), mention("p0", B), mention("p1", A), mention("p2", B)]
    (pair,) = cooccurrence(mentions, 4, min_count=1)
    assert pair.npmi == pytest.approx(0.0, abs=1e-9)


def test_npmi_by_hand() -> None:
    # 8 passages: a in 4, b in 3, both in 2 -> pmi = ln((2/8) / ((4/8)(3/8))), npmi = pmi / -ln(2/8)
    mentions = [mention(f"p{i}", A) for i in range(4)] + [mention(f"p{i}", B) for i in (2, 3, 4)]
    (pair,) = cooccurrence(mentions, 8)
    expected = math.log(0.25 / (0.5 * 0.375)) / -math.log(0.25)
    assert pair.npmi == pytest.approx(expected, abs=1e-6)
    assert pair.count == 2


def test_pairs_below_min_count_are_dropped() -> None:
    mentions = [mention("p0", A), mention("p0", B), mention("p1", A), mention("p1", C)]
    assert cooccurrence(mentions, 4) == []
    assert {(c.a, c.b) for c in cooccurrence(mentions, 4, min_count=1)} == {(A, B), (A, C)}


def test_repeated_and_semantic_mentions_count_once_per_passage() -> None:
    mentions = [
        mention("p0", A),
        mention("p0", A),
        mention("p0", B, "semantic"),
        mention("p1", B),
        mention("p1", A, "semantic"),
    ]
    (pair,) = cooccurrence(mentions, 3)
    assert (pair.a, pair.b, pair.count) == (A, B, 2)


def test_cooccurrences_sorted_by_npmi_then_count() -> None:
    mentions = (
        [mention(p, u) for p in ("p0", "p1") for u in (A, B)]  # A,B: only together
        + [mention(p, C) for p in ("p0", "p1", "p2", "p3")]  # C everywhere
    )
    result = cooccurrence(mentions, 6)
    assert [(c.a, c.b) for c in result] == [(A, B), (A, C), (B, C)]
    assert result[0].npmi > result[1].npmi


def test_no_passages_no_cooccurrence() -> None:
    assert cooccurrence([], 0) == []


# --- relation_evidence ----------------------------------------------------------------------


def ontology_bits(cue: tuple[str, ...] = ("provide",)) -> tuple[list[Concept], list[PropertyDef]]:
    leadership = Concept(
        concept_uri("Leadership"),
        "Leadership",
        "leadership",
        related=(concept_uri("Leader"),),
        relations=(Relation(PROVIDES, concept_uri("Vision")),),
    )
    leader = Concept(concept_uri("Leader"), "Leader", "leader", related=(leadership.uri,))
    vision = Concept(concept_uri("Vision"), "Vision", "vision")
    provides = PropertyDef(PROVIDES, "provides", cue_words=cue)
    return [leadership, leader, vision], [provides]


def make_passage(document: str, start: int, end: int) -> Passage:
    text = document[start:end]
    return Passage(
        "doc:p0", "doc", 0, start, end, text, tuple(split_sentences(document, start, end)), 9, ""
    )


def evidence_for(document: str, start: int = 0, **kwargs: tuple[str, ...]) -> list[tuple[str, ...]]:
    concepts, properties = ontology_bits(**kwargs)
    found = relation_evidence(
        [make_passage(document, start, len(document))],
        LexicalMatcher(concepts),
        concepts,
        properties,
    )
    return [(e.subject.rsplit("/", 1)[1], e.object.rsplit("/", 1)[1], e.quote) for e in found]


def test_evidence_found_with_exact_quote_offsets() -> None:
    document = "Intro here. Leadership provides vision. Then more."
    concepts, properties = ontology_bits()
    (evidence,) = relation_evidence(
        [make_passage(document, 12, len(document))], LexicalMatcher(concepts), concepts, properties
    )
    assert evidence.quote == "Leadership provides vision."
    assert document[evidence.start : evidence.end] == evidence.quote
    assert (evidence.subject, evidence.predicate, evidence.object) == (
        concept_uri("Leadership"),
        PROVIDES,
        concept_uri("Vision"),
    )
    assert evidence.passage_id == "doc:p0"
    assert evidence.score == 1.0


def test_no_evidence_without_a_cue_word() -> None:
    assert evidence_for("Leadership and vision go together.") == []


def test_no_evidence_when_the_concepts_are_in_different_sentences() -> None:
    assert evidence_for("Leadership provides much. Vision matters.") == []


def test_cue_words_match_on_stems() -> None:
    assert evidence_for("Leadership, providing vision.") == [
        ("Leadership", "Vision", "Leadership, providing vision.")
    ]
    assert evidence_for("Leadership comes from vision.", cue=("comes from",)) == [
        ("Leadership", "Vision", "Leadership comes from vision.")
    ]


def test_a_role_stands_in_for_its_practice() -> None:
    concepts, properties = ontology_bits()
    document = "Leaders provide vision."
    (evidence,) = relation_evidence(
        [make_passage(document, 0, len(document))], LexicalMatcher(concepts), concepts, properties
    )
    assert evidence.subject == concept_uri("Leadership")
    assert evidence.score == pytest.approx((0.9 + 1.0) / 2)


def test_cue_outside_the_two_mentions_scores_lower() -> None:
    concepts, properties = ontology_bits()
    document = "To provide: leadership and vision."
    (evidence,) = relation_evidence(
        [make_passage(document, 0, len(document))], LexicalMatcher(concepts), concepts, properties
    )
    assert evidence.score == pytest.approx(0.8)


def test_role_stand_ins_of_the_shipped_ontology() -> None:
    ontology = load_ontology(ONTOLOGY)
    assert role_stand_ins(ontology.concepts) == {
        concept_uri("Leadership"): frozenset({concept_uri("Leader")}),
        concept_uri("Management"): frozenset({concept_uri("Manager")}),
    }


def test_evidence_on_the_bundled_corpus() -> None:
    ontology = load_ontology(ONTOLOGY)
    passages = chunk_corpus(read_corpus([CORPUS]), HashingEmbedder().count_tokens)
    found = relation_evidence(
        passages, LexicalMatcher(ontology.concepts), ontology.concepts, ontology.properties
    )
    triples = {(e.subject, e.predicate.rsplit("#", 1)[1], e.object, e.quote) for e in found}
    c = concept_uri
    assert (c("Manager"), "bridges", c("Leader"), BRIDGE) in triples
    assert (c("Manager"), "bridges", c("Workforce"), BRIDGE) in triples
    assert (c("Leadership"), "answersQuestion", c("Purpose"), WHY_HOW) in triples
    assert (c("Management"), "answersQuestion", c("Execution"), WHY_HOW) in triples
    assert all(0.0 < e.score <= 1.0 for e in found)
    texts = {d.id: d.text for d in read_corpus([CORPUS])}
    by_id = {p.id: p for p in passages}
    for e in found:
        assert texts[by_id[e.passage_id].document_id][e.start : e.end] == e.quote

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from indexer.chunking import chunk_corpus
from indexer.corpus import read_corpus
from indexer.embedder import Embedder
from indexer.linking import (
    DEFAULT_SEMANTIC_THRESHOLD,
    ConceptLinker,
    LexicalMatcher,
    sentence_texts,
)
from indexer.models import Concept, Document, Mention, Passage, Span
from indexer.namespaces import concept_uri
from indexer.ontology import load_ontology
from tests.conftest import CORPUS, ONTOLOGY
from tests.fakes import HashingEmbedder
from tests.indexer.linking_gold import BRIDGE, GOLD, WHY_HOW, GoldPair

# Required of the real model on the gold set (see DEFAULT_SEMANTIC_THRESHOLD for the figures).
MIN_PRECISION = 0.8
MIN_RECALL = 0.8


def concept(
    cid: str, pref: str, *alts: str, definition: str = "", candidate: bool = False
) -> Concept:
    return Concept(
        uri=concept_uri(cid),
        id=cid,
        pref_label=pref,
        alt_labels=alts,
        definition=definition or f"{pref} in organizations.",
        candidate=candidate,
    )


def passage(pid: str, text: str, start: int = 0) -> Passage:
    return Passage(pid, pid.split(":")[0], 0, start, start + len(text), text, (), 1, "")


CONCEPTS = (
    concept("Leadership", "leadership", "leading"),
    concept("LeadershipMindset", "leadership mindset"),
    concept("Leader", "leader", "leaders"),
    concept("Manager", "manager", "managers"),
    concept("Management", "management", "managing"),
    concept("DecisionMaking", "decision making", "making decisions"),
    concept("PsychologicalSafety", "psychological safety"),
    concept("Purpose", "purpose", "the “why”", "meaning"),
    concept("Organizing", "organizing"),
)


def found(text: str, offset: int = 0) -> list[tuple[str, str, float]]:
    return [
        (m.concept_uri.rsplit("/", 1)[1], m.surface, m.score)
        for m in LexicalMatcher(CONCEPTS).find(text, offset)
    ]


# --- LexicalMatcher -------------------------------------------------------------------------


def test_matches_case_plural_and_possessive() -> None:
    assert found("LEADERS and a Manager's job") == [
        ("Leader", "LEADERS", 1.0),
        ("Manager", "Manager's", 1.0),
    ]


def test_matches_hyphenated_and_spaced_forms_alike() -> None:
    assert found("Decision-making, decision making and Decision – making") == [
        ("DecisionMaking", "Decision-making", 1.0),
        ("DecisionMaking", "decision making", 1.0),
        ("DecisionMaking", "Decision – making", 1.0),
    ]


def test_inflected_multi_word_label_matches_on_stems() -> None:
    assert found("when making decision") == [("DecisionMaking", "making decision", 0.9)]


def test_punctuation_ends_a_multi_word_label() -> None:
    assert found("decision. Making sense") == []
    assert found("psychological, safety") == []


def test_curly_and_straight_quotes_match_a_quoted_label() -> None:
    assert found("answers the “why,” first") == [("Purpose", "the “why", 0.9)]
    assert found('answers the "why" first') == [("Purpose", 'the "why', 0.9)]
    assert found("answers the why first") == [("Purpose", "the why", 0.9)]


def test_articles_inside_a_multi_word_label_are_skipped_on_both_sides() -> None:
    concepts = (
        concept("BridgeRole", "bridge role", "bridge between leaders and workforce"),
        concept("Vision", "vision of the future"),
    )
    matcher = LexicalMatcher(concepts)
    found_bridge = matcher.find("managers provide the bridge between leaders and the workforce")
    assert [m.surface for m in found_bridge] == ["bridge between leaders and the workforce"]
    assert [m.surface for m in matcher.find("a vision of future")] == ["vision of future"]
    assert matcher.find("the bridge") == []


def test_longest_match_wins() -> None:
    assert found("a leadership mindset and psychological safety") == [
        ("LeadershipMindset", "leadership mindset", 1.0),
        ("PsychologicalSafety", "psychological safety", 1.0),
    ]


def test_one_word_labels_match_inflections_not_derivations() -> None:
    # "organization" shares the Snowball stem of "organizing", "means" that of "meaning"
    assert found("the organization means well") == []
    assert found("organizing teams; it is meaningful; its meaning") == [
        ("Organizing", "organizing", 1.0),
        ("Purpose", "meaning", 0.8),
    ]


def test_words_whose_stem_several_concepts_share_go_to_the_concept_with_that_word() -> None:
    # "manager", "managers", "management" and "managing" all stem to "manag"
    assert found("managers practise management by managing") == [
        ("Manager", "managers", 1.0),
        ("Management", "management", 1.0),
        ("Management", "managing", 0.8),
    ]
    assert found("they manage") == []  # a form of neither concept's labels: left unlinked


def test_scores_prefer_preferred_labels() -> None:
    assert [s for _, _, s in found("purpose, the why, meaning")] == [1.0, 0.9, 0.8]


def test_offsets_are_absolute_and_exact() -> None:
    doc = "Intro. " + "Good Leaders foster psychological   safety."
    local = doc[7:]
    matches = LexicalMatcher(CONCEPTS).find(local, offset=7)
    assert [(doc[m.start : m.end], m.surface) for m in matches] == [
        ("Leaders", "Leaders"),
        ("psychological   safety", "psychological   safety"),
    ]


def test_matcher_without_concepts_finds_nothing() -> None:
    assert LexicalMatcher([]).find("leadership") == []


# --- ConceptLinker --------------------------------------------------------------------------


def test_link_gives_one_lexical_mention_per_occurrence_with_spans() -> None:
    embedder = HashingEmbedder()
    p = passage("doc:p0", "Leaders lead. Leaders and managers.", start=100)
    linker = ConceptLinker(CONCEPTS, embedder, semantic_threshold=1.01)
    mentions = linker.link([p], embedder.encode([p.text]))
    assert [(m.concept_uri.rsplit("/", 1)[1], m.start, m.end, m.method) for m in mentions] == [
        ("Leader", 100, 107, "lexical"),
        ("Leader", 114, 121, "lexical"),
        ("Manager", 126, 134, "lexical"),
    ]


def test_semantic_mentions_skip_lexically_linked_concepts_and_respect_threshold() -> None:
    concepts = [
        concept("Trust", "trust", definition="trust credibility reliance"),
        concept("Safety", "psychological safety", definition="speak up without fear"),
    ]
    vectors = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    linker = ConceptLinker(concepts, None, semantic_threshold=0.5, concept_vectors=vectors)
    p = passage("doc:p0", "Trust matters here.")
    q = passage("doc:p1", "Nothing named.")
    mentions = linker.link([p, q], np.array([[0.8, 0.6], [0.6, 0.8]], dtype=np.float32))
    assert [
        (m.passage_id, m.concept_uri.rsplit("/", 1)[1], m.method, m.score) for m in mentions
    ] == [
        ("doc:p0", "Trust", "lexical", 1.0),
        ("doc:p0", "Safety", "semantic", pytest.approx(0.6)),
        ("doc:p1", "Safety", "semantic", pytest.approx(0.8)),
        ("doc:p1", "Trust", "semantic", pytest.approx(0.6)),
    ]
    assert all(m.start is None and m.surface is None for m in mentions if m.method == "semantic")


def test_semantic_mentions_are_capped_per_passage() -> None:
    concepts = [concept(f"C{i}", f"zz{i}") for i in range(4)]
    vectors = np.tile(np.array([[1.0, 0.0]], dtype=np.float32), (4, 1))
    linker = ConceptLinker(
        concepts, None, semantic_threshold=0.1, concept_vectors=vectors, max_semantic=2
    )
    mentions = linker.link([passage("d:p0", "text")], np.array([[1.0, 0.0]], dtype=np.float32))
    assert [m.concept_uri.rsplit("/", 1)[1] for m in mentions] == ["C0", "C1"]  # ties by URI


def test_sentence_vectors_score_a_passage_by_its_best_sentence() -> None:
    concepts = [concept("Trust", "zz trust"), concept("Safety", "zz safety")]
    vectors = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    text = "One thing. Another thing."
    p = Passage("d:p0", "d", 0, 10, 10 + len(text), text, (Span(10, 20), Span(21, 35)), 5, "")
    assert sentence_texts([p]) == ["One thing.", "Another thing."]
    linker = ConceptLinker(concepts, None, semantic_threshold=0.75, concept_vectors=vectors)
    passage_vector = np.array([[0.71, 0.71]], dtype=np.float32)
    assert linker.link([p], passage_vector) == []  # the passage as a whole is lukewarm on both
    sentence_vectors = np.array([[0.6, 0.8], [0.96, 0.28]], dtype=np.float32)
    mentions = linker.link([p], passage_vector, sentence_vectors=sentence_vectors)
    assert [(m.concept_uri.rsplit("/", 1)[1], round(m.score, 4)) for m in mentions] == [
        ("Trust", 0.96),
        ("Safety", 0.8),
    ]
    with pytest.raises(ValueError, match="sentence vectors"):
        linker.link([p], passage_vector, sentence_vectors=sentence_vectors[:1])


def test_candidate_concepts_are_never_linked() -> None:
    concepts = [
        concept("Trust", "trust"),
        concept("OpEngine", "operational engine", candidate=True),
    ]
    vectors = np.ones((2, 2), dtype=np.float32) / np.sqrt(2)
    linker = ConceptLinker(concepts, None, semantic_threshold=0.0, concept_vectors=vectors)
    p = passage("d:p0", "the operational engine runs on trust")
    mentions = linker.link([p], vectors[:1])
    assert {m.concept_uri for m in mentions} == {concept_uri("Trust")}
    assert linker.link_query("operational engine", vectors[0]) == [
        (concept_uri("Trust"), 1.0, "semantic")
    ]


def test_precomputed_vectors_must_match_the_concepts() -> None:
    with pytest.raises(ValueError, match="rows"):
        ConceptLinker(CONCEPTS, None, concept_vectors=np.zeros((2, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="embedder"):
        ConceptLinker(CONCEPTS, None)


def test_link_query_lists_each_concept_once_lexical_first() -> None:
    embedder = HashingEmbedder()
    linker = ConceptLinker(CONCEPTS, embedder, semantic_threshold=0.3)
    text = "leaders with a leadership mindset, and more leaders"
    links = linker.link_query(text, embedder.encode([text]))
    ids = [(uri.rsplit("/", 1)[1], method) for uri, _, method in links]
    assert ids[:2] == [("Leader", "lexical"), ("LeadershipMindset", "lexical")]
    assert len({uri for uri, _, _ in links}) == len(links)
    assert all(method == "semantic" for _, _, method in links[2:])
    assert linker.link_query(text) == links[:2]  # no vector: lexical only


def test_link_is_deterministic() -> None:
    embedder = HashingEmbedder()
    passages = [passage("d:p0", "Leaders manage psychological safety."), passage("d:p1", "purpose")]
    vectors = embedder.encode([p.text for p in passages])
    linker = ConceptLinker(CONCEPTS, embedder, semantic_threshold=0.2)
    assert linker.link(passages, vectors) == linker.link(list(passages), vectors.copy())


# --- the gold set on the bundled corpus -----------------------------------------------------


def gold_predictions(
    gold: Sequence[GoldPair],
    documents: Sequence[Document],
    passages: Sequence[Passage],
    mentions: Sequence[Mention],
) -> list[bool]:
    """Whether the linker links each gold sentence to its concept.

    A lexical mention counts when it lies inside the sentence; a semantic mention is made on a
    whole passage, so it counts for every sentence of that passage.
    """
    texts = {d.id: d.text for d in documents}
    predictions = []
    for pair in gold:
        start = texts[pair.document_id].find(pair.sentence)
        assert start >= 0, f"gold sentence not in {pair.document_id}: {pair.sentence[:60]}"
        sentence = Span(start, start + len(pair.sentence))
        (holder,) = [
            p
            for p in passages
            if p.document_id == pair.document_id and p.start <= sentence.start < p.end
        ]
        uri = concept_uri(pair.concept_id)
        predictions.append(
            any(
                m.passage_id == holder.id
                and m.concept_uri == uri
                and (
                    m.method == "semantic"
                    or (m.start is not None and sentence.start <= m.start < sentence.end)
                )
                for m in mentions
            )
        )
    return predictions


def precision_recall(gold: Sequence[GoldPair], predictions: Sequence[bool]) -> tuple[float, float]:
    tp = sum(1 for g, p in zip(gold, predictions, strict=True) if g.positive and p)
    fp = sum(1 for g, p in zip(gold, predictions, strict=True) if not g.positive and p)
    fn = sum(1 for g, p in zip(gold, predictions, strict=True) if g.positive and not p)
    return tp / max(tp + fp, 1), tp / max(tp + fn, 1)


def link_corpus(
    embedder: Embedder, *, semantic_threshold: float = DEFAULT_SEMANTIC_THRESHOLD
) -> tuple[list[Document], list[Passage], list[Mention]]:
    """The bundled corpus linked as the build links it, with sentence-level semantic scores."""
    documents = read_corpus([CORPUS])
    passages = chunk_corpus(documents, embedder.count_tokens)
    concepts = load_ontology(ONTOLOGY).concepts
    linker = ConceptLinker(concepts, embedder, semantic_threshold=semantic_threshold)
    mentions = linker.link(
        passages,
        embedder.encode([p.text for p in passages]),
        sentence_vectors=embedder.encode(sentence_texts(passages)),
    )
    return documents, passages, mentions


def holder_of(sentence: str, documents: Sequence[Document], passages: Sequence[Passage]) -> str:
    for doc in documents:
        start = doc.text.find(sentence)
        if start >= 0:
            return next(
                p.id for p in passages if p.document_id == doc.id and p.start <= start < p.end
            )
    raise AssertionError(f"not in the corpus: {sentence}")


def linked(passage_id: str, mentions: Sequence[Mention]) -> set[str]:
    return {m.concept_uri.rsplit("/", 1)[1] for m in mentions if m.passage_id == passage_id}


def test_gold_sentences_are_in_the_corpus_and_labelled_both_ways() -> None:
    documents = read_corpus([CORPUS])
    texts = {d.id: d.text for d in documents}
    ids = {c.id for c in load_ontology(ONTOLOGY).concepts}
    assert len(GOLD) >= 20
    assert {g.positive for g in GOLD} == {True, False}
    for pair in GOLD:
        assert pair.sentence in texts[pair.document_id]
        assert pair.concept_id in ids
    assert len({(g.sentence, g.concept_id) for g in GOLD}) == len(GOLD)


def test_lexical_links_on_gold_set_with_fake_embedder() -> None:
    # the hashing embedder's cosines mean nothing here: semantic linking off, lexical alone
    documents, passages, mentions = link_corpus(HashingEmbedder(), semantic_threshold=1.01)
    assert all(m.method == "lexical" for m in mentions)
    precision, recall = precision_recall(
        GOLD, gold_predictions(GOLD, documents, passages, mentions)
    )
    assert precision == 1.0
    assert recall >= 0.75
    assert {"Purpose", "Execution"} <= linked(holder_of(WHY_HOW, documents, passages), mentions)


@pytest.mark.model
def test_gold_precision_and_recall_with_real_model(real_embedder: Embedder) -> None:
    documents, passages, mentions = link_corpus(real_embedder)
    predictions = gold_predictions(GOLD, documents, passages, mentions)
    precision, recall = precision_recall(GOLD, predictions)
    misses = [
        (g.concept_id, g.sentence[:50])
        for g, p in zip(GOLD, predictions, strict=True)
        if g.positive != p
    ]
    assert precision >= MIN_PRECISION, misses
    assert recall >= MIN_RECALL, misses
    assert "BridgeRole" in linked(holder_of(BRIDGE, documents, passages), mentions)
    assert {"Purpose", "Execution"} <= linked(holder_of(WHY_HOW, documents, passages), mentions)

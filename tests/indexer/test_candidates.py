from __future__ import annotations

from indexer.candidates import mine_candidates
from indexer.chunking import chunk_corpus, split_sentences
from indexer.corpus import read_corpus
from indexer.linking import LexicalMatcher
from indexer.models import Concept, Passage
from indexer.namespaces import candidate_uri, concept_uri
from indexer.ontology import load_ontology
from indexer.text import label_key
from tests.conftest import CORPUS, ONTOLOGY
from tests.fakes import HashingEmbedder

CONCEPTS = [
    Concept(concept_uri("PsychologicalSafety"), "PsychologicalSafety", "psychological safety"),
    Concept(concept_uri("Trust"), "Trust", "trust"),
]


def passages(*texts: str, document: str = "doc") -> list[Passage]:
    out = []
    for i, text in enumerate(texts):
        out.append(
            Passage(
                f"{document}:p{i}",
                document,
                i,
                0,
                len(text),
                text,
                tuple(split_sentences(text)),
                len(text.split()),
                "",
            )
        )
    return out


CORPUS_TEXTS = (
    "The Operational Engine of the firm runs on trust. Psychological safety matters.",
    "An operational engine needs fuel, and of the 2020 plans none for the of the engine.",
    "Psychological safety and the operational engine. Safety first, psychological safety next.",
)


def test_repeated_phrase_becomes_a_candidate() -> None:
    found = {c.id: c for c in mine_candidates(passages(*CORPUS_TEXTS), CONCEPTS)}
    engine = found["operational-engine"]
    assert engine.uri == candidate_uri("operational-engine")
    assert engine.label == "operational engine"  # the most frequent surface form
    assert engine.frequency == 3
    assert engine.document_frequency == 1
    assert engine.evidence == ("doc:p0", "doc:p1", "doc:p2")
    assert 0.0 < engine.score <= 1.0


def test_concept_labels_and_their_parts_never_become_candidates() -> None:
    ids = {c.id for c in mine_candidates(passages(*CORPUS_TEXTS), CONCEPTS, min_frequency=1)}
    assert not ids & {"psychological-safety", "psychological", "safety", "trust"}


def test_stop_words_numbers_and_punctuation_never_make_a_phrase() -> None:
    candidates = mine_candidates(passages(*CORPUS_TEXTS), CONCEPTS, min_frequency=1, limit=500)
    for c in candidates:
        words = c.label.lower().split()
        assert not any(w in {"the", "of", "and", "for"} for w in words), c.label
        assert not any(ch.isdigit() for ch in c.label), c.label
    # "fuel, and of the 2020 plans": the comma and the stop words split it
    assert "fuel-plans" not in {c.id for c in candidates}


def test_a_phrase_seen_only_inside_a_longer_one_gives_way_to_it() -> None:
    texts = ("Servant stewardship model here.", "A servant stewardship model again.")
    ids = [c.id for c in mine_candidates(passages(*texts), CONCEPTS)]
    assert ids[0] == "servant-stewardship-model"
    assert "stewardship" not in ids  # never outside the trigram


def test_thresholds_and_limit() -> None:
    texts = passages(*CORPUS_TEXTS)
    assert mine_candidates(texts, CONCEPTS, min_frequency=5) == []
    assert mine_candidates(texts, CONCEPTS, min_documents=2) == []
    assert len(mine_candidates(texts, CONCEPTS, min_frequency=1, limit=3)) == 3


def test_a_matcher_serves_as_well_as_the_concepts() -> None:
    texts = passages(*CORPUS_TEXTS)
    assert mine_candidates(texts, LexicalMatcher(CONCEPTS)) == mine_candidates(texts, CONCEPTS)


def test_candidates_are_deterministic_and_ranked() -> None:
    texts = passages(*CORPUS_TEXTS)
    first = mine_candidates(texts, CONCEPTS, min_frequency=1)
    assert first == mine_candidates(list(texts), CONCEPTS, min_frequency=1)
    assert [c.score for c in first] == sorted((c.score for c in first), reverse=True)
    assert first[0].score == 1.0
    assert len({c.id for c in first}) == len(first)


def test_candidates_of_the_bundled_corpus_match_no_concept() -> None:
    ontology = load_ontology(ONTOLOGY)
    corpus = chunk_corpus(read_corpus([CORPUS]), HashingEmbedder().count_tokens)
    candidates = mine_candidates(corpus, LexicalMatcher(ontology.concepts))
    keys = {label_key(label) for c in ontology.concepts for label in c.labels}
    assert 10 <= len(candidates) <= 50
    for cand in candidates:
        assert label_key(cand.label) not in keys
        assert cand.frequency >= 2
        assert 1 <= len(cand.evidence) <= 5
    top = [c.id for c in candidates[:10]]
    assert "operational-engine" in top
    assert "symbiotic-dance" in top


def test_at_the_limit_a_tie_of_score_and_frequency_goes_to_the_first_label() -> None:
    texts = ("Gamma delta. Alpha beta.", "Alpha beta, gamma delta.")
    (only,) = mine_candidates(passages(*texts), CONCEPTS, limit=1)
    assert only.label == "Alpha beta"  # "gamma delta" scores the same, as often
    both = mine_candidates(passages(*texts), CONCEPTS, limit=2)
    assert [c.label for c in both] == ["Alpha beta", "gamma delta"]
    assert both[0].score == both[1].score == 1.0


def test_the_label_is_the_commonest_surface_with_its_white_space_collapsed() -> None:
    texts = ("Line  Managers lead.", "Line managers lead.", "Line\tmanagers lead.")
    (top, *_) = mine_candidates(passages(*texts), CONCEPTS)
    assert top.label == "Line managers lead"  # two of the three, once the tab is a space
    assert top.frequency == 3

"""Answer candidates and what is read from a question (app/services/answers.py)."""

from __future__ import annotations

import pytest

from leadgraph.app.services.answers import (
    Candidate,
    Vocabulary,
    candidates,
    missing_named,
    read_question,
    shape_fit,
    units_of,
)
from leadgraph.indexer.chunking import split_sentences


def _idf(stem: str) -> float:
    return 1.0


def _candidates(text: str, document_id: str = "doc") -> list[Candidate]:
    units = units_of(text, split_sentences(text), passage_row=0)
    return candidates(document_id, text, len(units), units)


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How many employees experience burnout?", "quantity"),
        ("What percentage of teams were remote?", "quantity"),
        ("Who described the stages of team development?", "person"),
        ("Why does a change effort need a guiding coalition?", "reason"),
        ("What are the three components of SBI feedback?", "list"),
        ("Which styles of handling conflict does the model describe?", "list"),
        ("What is psychological safety?", "definition"),
        ("What does the word sawubona mean?", "definition"),
        ("How can a manager show that they are listening?", "manner"),
        ("When was the model first published?", "time"),
        ("When describing behaviour, what should you avoid?", "other"),
        ("Does the situational model accept one best way to lead?", "yes-no"),
        ("What is the main drawback of the democratic style of leadership?", "other"),
    ],
)
def test_question_kind(question: str, kind: str) -> None:
    assert read_question(question, _idf).kind == kind


def test_named_terms_are_names_acronyms_figures_and_quoted_words() -> None:
    q = read_question("What did Amy Edmondson's 1999 study say about 'sawubona' and RACI?", _idf)
    assert set(q.named.values()) == {"Amy", "Edmondson", "1999", "sawubona", "RACI"}
    assert "what" not in q.named.values()  # the question's first word is not a name


def test_question_counts_what_it_asks_for() -> None:
    assert read_question("What are the three components of SBI feedback?", _idf).count == 3
    assert read_question("Name 4 stages of the model", _idf).count == 4
    assert read_question("What is trust?", _idf).count is None


def test_a_sentence_and_its_continuations_are_candidates() -> None:
    text = "Trust takes time to build. It grows with every kept promise. Then it lasts for years.\n"
    spans = [c.text for c in _candidates(text)]
    assert "Trust takes time to build." in spans
    assert "Trust takes time to build. It grows with every kept promise." in spans
    assert "Then it lasts for years." in spans
    assert text.strip() not in spans  # at most one sentence continues another, outside lists


def test_a_paragraph_break_ends_a_span() -> None:
    text = "Trust takes time to build.\n\nBudgets are set every year by the board.\n"
    assert text.strip() not in [c.text for c in _candidates(text)]


def test_a_list_is_one_candidate_with_its_announcing_sentence() -> None:
    text = (
        "SBI feedback is broken down into 3 parts:\n"
        "1. The Situation: where it happened.\n"
        "2. The Behavior: what was done.\n"
        "3. The Impact: what it changed.\n"
    )
    lists = [c for c in _candidates(text) if c.is_list]
    assert len(lists) == 1
    assert lists[0].text == text.rstrip()
    assert len(lists[0].units) == 4  # "1. The Situation: ..." is one item, not "1." and a sentence


def test_every_candidate_is_an_exact_span_of_its_document() -> None:
    text = "🌟 Leaders set direction for everyone.\n\n- Managers plan the work well.\n"
    for c in _candidates(text):
        assert text[c.start : c.end] == c.text
        assert not c.text.startswith(("🌟", "-"))  # bullets and emoji trimmed


def test_headings_and_fragments_do_not_start_a_candidate() -> None:
    text = "The Behavior\nDescribe only what you saw happen.\n"
    assert [c.text for c in _candidates(text)] == ["Describe only what you saw happen."]


@pytest.mark.parametrize(
    ("question", "answer", "fits"),
    [
        ("How many workers feel burnt out?", "Nearly 63 percent of workers do.", True),
        ("How many workers feel burnt out?", "Most workers say they are tired.", True),
        ("How many workers feel burnt out?", "Workers say they are tired.", False),
        ("Who described the stages?", "The stages were described by Bruce Tuckman.", True),
        ("Who described the stages?", "The stages are well described.", False),
        ("Why does trust matter?", "Trust matters because people follow it.", True),
    ],
)
def test_shape_fit(question: str, answer: str, fits: bool) -> None:
    (candidate,) = [c for c in _candidates(answer)]
    assert shape_fit(read_question(question, _idf).kind, candidate) is fits


def test_named_terms_are_found_by_acronym_and_near_spelling() -> None:
    vocabulary = Vocabulary.of(
        "A survey in the Harvard Business Review. The International Coaching Federation "
        "defines coaching. Peter Drucker wrote about managers."
    )
    q = read_question("What do HBR, ICF and Peter Druker say, and what does Herzberg add?", _idf)
    assert missing_named(q, [vocabulary]) == ["Herzberg"]

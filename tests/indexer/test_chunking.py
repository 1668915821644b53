from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pytest

from leadgraph.indexer.chunking import chunk_corpus, chunk_document, split_sentences
from leadgraph.indexer.corpus import read_corpus
from leadgraph.indexer.models import Document, Passage
from tests.conftest import CORPUS
from tests.fakes import HashingEmbedder

count_tokens = HashingEmbedder().count_tokens


def words(text: str) -> int:
    return len(text.split())


@pytest.fixture(scope="module")
def bundled() -> dict[str, Document]:
    return {d.id: d for d in read_corpus([CORPUS])}


def sentences_of(text: str) -> list[str]:
    return [text[s.start : s.end] for s in split_sentences(text)]


def assert_covers(doc: Document, passages: list[Passage]) -> None:
    """Passages are exact, ordered, disjoint and hold every non-space character once."""
    covered = [0] * len(doc.text)
    for p in passages:
        assert doc.text[p.start : p.end] == p.text
        assert p.text == p.text.strip() and p.text
        for i in range(p.start, p.end):
            covered[i] += 1
    for i, char in enumerate(doc.text):
        assert covered[i] == 1 or (char.isspace() and covered[i] == 0), (i, char)
    assert all(a.end <= b.start for a, b in zip(passages, passages[1:], strict=False))


# --- sentences -----------------------------------------------------------------------------


def test_sentences_split_at_end_punctuation_and_newlines() -> None:
    text = "Leaders inspire. Do managers plan? Yes! 2020 was hard… “Quotes” start too\nNew line"
    assert sentences_of(text) == [
        "Leaders inspire.",
        "Do managers plan?",
        "Yes!",
        "2020 was hard…",
        "“Quotes” start too",
        "New line",
    ]


def test_abbreviations_and_decimals_do_not_end_sentences() -> None:
    text = (
        "Leaders (e.g. Mr. Smith and Dr. Jones) act, i.e. they lead. Growth was 3.5 percent "
        "vs. 2.1 before, etc. It reached U.S. levels. J. Smith agreed."
    )
    assert sentences_of(text) == [
        "Leaders (e.g. Mr. Smith and Dr. Jones) act, i.e. they lead.",
        "Growth was 3.5 percent vs. 2.1 before, etc. It reached U.S. levels.",
        "J. Smith agreed.",
    ]


def test_lower_case_after_period_does_not_split() -> None:
    assert sentences_of("See fig. a below. Then go.") == ["See fig. a below.", "Then go."]


def test_sentence_spans_are_absolute_and_cover_every_character_of_the_range() -> None:
    text = "xx  First one.  Second one!\n\n  Third  yy"
    spans = split_sentences(text, 2, len(text) - 2)
    assert [text[s.start : s.end] for s in spans] == ["First one.", "Second one!", "Third"]
    assert split_sentences("  \n \n") == []


def test_bridge_sentence_of_article_003_is_one_span(bundled: dict[str, Document]) -> None:
    doc = bundled["organizational-leadership-and-management"]
    sentence = (
        "In essence, managers provide the bridge between leaders and the rest of the workforce."
    )
    start = doc.text.index(sentence)

    spans = split_sentences(doc.text)

    assert any(s.start == start and s.end == start + len(sentence) for s in spans)
    (passage,) = [p for p in chunk_document(doc, count_tokens) if p.start <= start < p.end]
    assert any(s.start == start and s.end == start + len(sentence) for s in passage.sentences)


# --- passages ------------------------------------------------------------------------------


@pytest.mark.parametrize("max_tokens", [200, 60, 25])
def test_bundled_passages_are_exact_complete_and_within_the_limit(
    bundled: dict[str, Document], max_tokens: int
) -> None:
    for doc in bundled.values():
        passages = chunk_document(doc, count_tokens, max_tokens=max_tokens)

        assert_covers(doc, passages)
        for ordinal, p in enumerate(passages):
            assert p.id == f"{doc.id}:p{ordinal}" and p.ordinal == ordinal
            assert p.document_id == doc.id
            assert p.token_count == count_tokens(p.text) <= max_tokens
            assert p.text_hash == hashlib.sha256(p.text.encode("utf-8")).hexdigest()
            assert p.sentences and all(p.start <= s.start < s.end <= p.end for s in p.sentences)
            for s in p.sentences:
                assert doc.text[s.start : s.end] == doc.text[s.start : s.end].strip()


def test_chunking_is_deterministic(bundled: dict[str, Document]) -> None:
    docs = list(bundled.values())
    assert chunk_corpus(docs, count_tokens) == chunk_corpus(docs, count_tokens)


def test_a_batch_counter_counts_the_sentences_of_long_paragraphs(
    bundled: dict[str, Document],
) -> None:
    docs = list(bundled.values())
    batches: list[list[str]] = []

    def count_batch(texts: Sequence[str]) -> list[int]:
        batches.append(list(texts))
        return [count_tokens(text) for text in texts]

    assert chunk_corpus(docs, count_tokens, count_batch=count_batch) == chunk_corpus(
        docs, count_tokens
    )
    # the sentences of each paragraph too long to count whole, each text counted once
    assert any(len(batch) > 1 for batch in batches)
    counted = [text for batch in batches for text in batch]
    assert len(counted) == len(set(counted))


def test_a_batch_counter_must_count_every_text() -> None:
    doc = Document(
        id="b", title="t", text=" ".join(f"Sentence number {i} is here." for i in range(60))
    )
    with pytest.raises(ValueError, match="token counts for"):
        chunk_document(doc, count_tokens, max_tokens=50, count_batch=lambda texts: [1])


def test_passages_follow_paragraphs(bundled: dict[str, Document]) -> None:
    doc = bundled["organizational-leadership-and-management"]
    paragraphs = [p.strip() for p in doc.text.split("\n\n") if p.strip()]

    passages = chunk_document(doc, count_tokens)

    # title and date join the first paragraph; every other paragraph is its own passage
    assert [p.text for p in passages[1:]] == paragraphs[2:]
    assert passages[0].text.startswith("What Is the Connection")
    assert passages[0].text.endswith("an individual must be influential.")


def test_heading_is_merged_with_its_paragraph(bundled: dict[str, Document]) -> None:
    doc = bundled["synergy-of-success"]
    passages = chunk_document(doc, count_tokens)

    (passage,) = [p for p in passages if "Strategic Alignment: The Backbone" in p.text]

    assert passage.text.startswith("Strategic Alignment: The Backbone of Synergy\n\nA critical")
    assert not any(p.text == "Strategic Alignment: The Backbone of Synergy" for p in passages)


def test_trailing_heading_joins_the_previous_passage() -> None:
    doc = Document(id="d", title="t", text="A full paragraph of text that says things.\n\nEnd")
    (passage,) = chunk_document(doc, count_tokens)
    assert passage.text == doc.text


def test_bullet_line_of_transcript_stays_in_one_passage(bundled: dict[str, Document]) -> None:
    doc = bundled["leadership-vs-management-power-duo"]
    line = (
        "Leadership answers the “why,” providing vision and purpose; management answers the "
        "“how,” delivering clarity and execution."
    )
    start = doc.text.index(line)

    for max_tokens in (200, 40):
        passages = chunk_document(doc, count_tokens, max_tokens=max_tokens)
        assert any(p.start <= start and start + len(line) <= p.end for p in passages)


def test_small_bullets_merge_but_sections_stay_apart(bundled: dict[str, Document]) -> None:
    doc = bundled["leadership-vs-management-power-duo"]
    passages = chunk_document(doc, count_tokens)

    highlights = next(p for p in passages if p.text.startswith("Highlights"))
    assert 1 < highlights.text.count("\n") < 4  # a few bullets, not the whole list
    assert not any("Highlights" in p.text and "Key Insights" in p.text for p in passages)
    assert all(p.token_count >= 24 for p in passages)


def test_long_paragraph_is_split_at_sentence_boundaries() -> None:
    sentences = [f"Sentence number {i} talks about leaders and managers." for i in range(30)]
    text = "Heading\n" + " ".join(sentences)
    doc = Document(id="long", title="t", text=text)

    passages = chunk_document(doc, words, max_tokens=50)

    assert_covers(doc, passages)
    assert len(passages) == 5  # 8 words a sentence, 6 to a piece
    assert passages[0].text.startswith("Heading\nSentence number 0")
    for p in passages[1:]:
        assert p.text.startswith("Sentence number") and p.text.endswith("managers.")
        assert p.token_count == 48


def test_sentence_over_the_limit_is_split_at_word_boundaries() -> None:
    text = " ".join(f"word{i}" for i in range(45)) + "."
    doc = Document(id="run-on", title="t", text=text)

    passages = chunk_document(doc, words, max_tokens=20)

    assert_covers(doc, passages)
    assert [p.token_count for p in passages] == [15, 15, 15]


def test_huge_word_is_split_to_fit() -> None:
    doc = Document(id="w", title="t", text="x" * 500)
    passages = chunk_document(doc, len, max_tokens=64)
    assert_covers(doc, passages)
    assert "".join(p.text for p in passages) == doc.text
    assert all(p.token_count <= 64 for p in passages)


def test_non_additive_tokenizer_still_respects_the_limit() -> None:
    # joints between sentences cost tokens that no single sentence has
    def counter(text: str) -> int:
        return len(text.split()) + 2 * text.count(". ")

    sentences = " ".join(f"Short sentence {i} here." for i in range(40))
    doc = Document(id="n", title="t", text=sentences)

    passages = chunk_document(doc, counter, max_tokens=20)

    assert_covers(doc, passages)
    assert all(p.token_count == counter(p.text) <= 20 for p in passages)


def test_empty_text_has_no_passages() -> None:
    assert chunk_document(Document(id="e", title="t", text=" \n"), count_tokens) == []


def test_a_numbered_list_item_is_one_sentence() -> None:
    text = "The model has 3 parts:\n1. The Situation: where it was.\n  2. The Behavior: what.\n"
    assert sentences_of(text) == [
        "The model has 3 parts:",
        "1. The Situation: where it was.",
        "2. The Behavior: what.",
    ]
    # a number ending a sentence inside a line still ends it
    assert sentences_of("It was 5. Then he left.") == ["It was 5.", "Then he left."]

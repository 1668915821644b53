from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from leadgraph.indexer.lexical import LexicalIndex

TEXTS = [
    "Managers provide the bridge between leaders and the workforce.",
    "Leadership inspires a vision of success.",
    "Leaders articulate a vision; leaders embody values.",
    "Budgeting and scheduling are management tasks.",
]


def test_bm25_scores_match_a_hand_computation() -> None:
    index = LexicalIndex.build(TEXTS, k1=1.2, b=0.75)
    # "vision" occurs once in passages 1 and 2 (df=2 of N=4)
    idf = math.log(1 + (4 - 2 + 0.5) / (2 + 0.5))
    lengths = [5, 4, 6, 4]  # analysed terms per passage (stop words dropped)
    avg = sum(lengths) / 4
    expected = [
        0.0,
        idf * 2.2 / (1 + 1.2 * (0.25 + 0.75 * lengths[1] / avg)),
        idf * 2.2 / (1 + 1.2 * (0.25 + 0.75 * lengths[2] / avg)),
        0.0,
    ]
    assert index.scores("vision") == pytest.approx(expected, rel=1e-5)


def test_inflections_and_case_meet_on_stems() -> None:
    index = LexicalIndex.build(TEXTS)
    scores, rows = index.search("LEADER", 10)
    assert set(rows) == {0, 2}  # "leaders" stems to "leader"; "Leadership" does not
    assert rows[0] == 2  # two occurrences beat one


def test_search_ignores_stop_words_and_unknown_terms() -> None:
    index = LexicalIndex.build(TEXTS)
    assert len(index.search("the and of", 5)[1]) == 0
    assert len(index.search("zyxwv", 5)[1]) == 0


def test_search_restricted_to_allowed_rows() -> None:
    index = LexicalIndex.build(TEXTS)
    scores, rows = index.search("vision leaders", 5, allowed=np.array([1, 3], dtype=np.int64))
    assert list(rows) == [1]


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    index = LexicalIndex.build(TEXTS)
    index.save(tmp_path, "lexical")
    loaded = LexicalIndex.load(tmp_path, "lexical")
    assert np.allclose(loaded.scores("bridge workforce"), index.scores("bridge workforce"))


def test_idf_is_highest_for_a_term_no_passage_holds() -> None:
    index = LexicalIndex.build(["trust builds teams", "trust and vision", "budgets"])
    assert index.idf("trust") < index.idf("budget") < index.idf("unheard")
    assert index.idf("unheard") == pytest.approx(math.log1p((3 + 0.5) / 0.5))


@pytest.mark.parametrize(
    "query", ["vision leaders", "leaders leaders vision", "budgeting", "zyxwv", "the"]
)
def test_scores_of_some_rows_are_the_same_floats_as_of_all(query: str) -> None:
    """`scores_of` bisects postings instead of summing them all, in the same order: the values
    are equal to the bit, so hybrid fusion over ids ranks exactly as over rows."""
    index = LexicalIndex.build(TEXTS * 40)
    every = index.scores(query)
    rows = np.array([159, 3, 0, 77, 2, 2, 120], dtype=np.int64)
    assert index.scores_of(query, rows).tobytes() == every[rows].tobytes()
    assert index.scores_of(query, np.arange(len(index))).tobytes() == every.tobytes()
    assert len(index.scores_of(query, np.zeros(0, dtype=np.int64))) == 0

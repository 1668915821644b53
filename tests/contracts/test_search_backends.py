"""Contract tests of the search backends (`indexer.retrieval`): what any dense index, lexical
index and catalogue must answer, whatever engine is behind it.

Parametrised over the backends `indexer.backends` registers, so a new one is tested by
registering it (and, for one that needs a server, by giving its fixture here). The reference
answers are computed by brute force from the index's own files.
"""

from __future__ import annotations

import numpy as np
import pytest

from leadgraph.indexer.backends import DENSE, LEXICAL, Backends, open_backends
from leadgraph.indexer.build import build_index, passage_input
from leadgraph.indexer.retrieval import Filter, Hits
from leadgraph.indexer.store import Index, load_index
from leadgraph.indexer.text import analyze
from tests.conftest import CORPUS
from tests.fakes import HashingEmbedder

QUERIES = [
    "bridge between leaders and staff",
    "vision and purpose of the organization",
    "accountability and execution",
]
DATED = "organizational-leadership-and-management"  # the bundled article with a date
TRANSCRIPT = "leadership-vs-management-power-duo"  # the bundled video transcript


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Index:
    root = tmp_path_factory.mktemp("contract-index") / "index"
    build_index([CORPUS], root, embedder=HashingEmbedder(), semantic_threshold=0.35)
    return load_index(root)


@pytest.fixture(params=sorted(DENSE))
def dense_backends(request: pytest.FixtureRequest, index: Index) -> Backends:
    return open_backends(index, dense=request.param)


@pytest.fixture(params=sorted(LEXICAL))
def lexical_backends(request: pytest.FixtureRequest, index: Index) -> Backends:
    return open_backends(index, lexical=request.param)


def _vector(query: str) -> np.ndarray:
    vector: np.ndarray = HashingEmbedder().encode([query])[0]
    return vector


def _cosines(index: Index, query: str) -> dict[str, float]:
    matrix = np.asarray(index.passage_vectors.vectors)
    scores = matrix @ _vector(query)
    return {p.id: float(scores[i]) for i, p in enumerate(index.passages)}


def _kept(index: Index, where: Filter) -> set[str]:
    """The passage ids `where` keeps, by brute force over the records."""
    mentioned = (
        None
        if where.concept is None
        else {m.passage_id for m in index.mentions if m.concept_uri == where.concept}
    )
    return {
        p.id
        for p in index.passages
        if where.keeps(index.documents[p.document_id]) and (mentioned is None or p.id in mentioned)
    }


def _filters(index: Index) -> list[Filter]:
    concept = max(index.mentions_by_concept, key=lambda uri: len(index.mentions_by_concept[uri]))
    return [
        Filter(document=DATED),
        Filter(concept=concept),
        Filter(concept=concept, document=TRANSCRIPT),
        Filter(kind="video transcript"),
        Filter(since="2020-01-01"),
        Filter(until="2019-12-31"),
        Filter(since="2020-02", until="2020-02"),
    ]


def _assert_ranked(hits: Hits, k: int) -> None:
    assert len(hits.ids) == len(hits.scores) <= k
    assert len(set(hits.ids)) == len(hits.ids)
    assert all(np.diff(hits.scores) <= 1e-6), "best first"


# --- dense --------------------------------------------------------------------------------------


@pytest.mark.parametrize("query", QUERIES)
def test_dense_search_returns_the_top_k_by_cosine(
    dense_backends: Backends, index: Index, query: str
) -> None:
    hits = dense_backends.dense.search(_vector(query), 5)
    _assert_ranked(hits, 5)
    cosines = _cosines(index, query)
    best = sorted(cosines.values(), reverse=True)[:5]
    assert hits.scores.tolist() == pytest.approx(best, abs=1e-5)
    for passage_id, score in zip(hits.ids, hits.scores.tolist(), strict=True):
        assert score == pytest.approx(cosines[passage_id], abs=1e-5)


def test_dense_scores_are_exact_for_any_passage(dense_backends: Backends, index: Index) -> None:
    cosines = _cosines(index, QUERIES[0])
    ids = [p.id for p in index.passages][::-1]
    scores = dense_backends.dense.scores(_vector(QUERIES[0]), ids)
    assert scores.tolist() == pytest.approx([cosines[i] for i in ids], abs=1e-5)
    with pytest.raises(KeyError):
        dense_backends.dense.scores(_vector(QUERIES[0]), ["no-such-document:p0"])


def test_dense_search_keeps_only_what_the_filter_keeps(
    dense_backends: Backends, index: Index
) -> None:
    cosines = _cosines(index, QUERIES[1])
    for where in _filters(index):
        kept = _kept(index, where)
        hits = dense_backends.dense.search(_vector(QUERIES[1]), 1000, where)
        _assert_ranked(hits, 1000)
        assert set(hits.ids) == kept, where  # every kept passage, scored exactly
        for passage_id, score in zip(hits.ids, hits.scores.tolist(), strict=True):
            assert score == pytest.approx(cosines[passage_id], abs=1e-5)


def test_dense_search_under_a_filter_that_keeps_nothing_is_empty(
    dense_backends: Backends,
) -> None:
    hits = dense_backends.dense.search(_vector(QUERIES[0]), 5, Filter(kind="podcast"))
    assert hits.ids == () and len(hits.scores) == 0


# --- lexical ------------------------------------------------------------------------------------


def _bm25_of(texts: list[list[str]], ids: list[str], terms: list[str]) -> dict[str, float]:
    n = len(texts)
    average = sum(len(t) for t in texts) / n
    out = dict.fromkeys(ids, 0.0)
    for term in terms:
        df = sum(1 for t in texts if term in t)
        idf = float(np.log1p((n - df + 0.5) / (df + 0.5)))
        for passage_id, text in zip(ids, texts, strict=True):
            tf = text.count(term)
            if tf:
                norm = 1.2 * (1 - 0.75 + 0.75 * len(text) / average)
                out[passage_id] += idf * tf * 2.2 / (tf + norm)
    return out


@pytest.mark.parametrize("query", QUERIES)
def test_lexical_search_and_scores_agree(
    lexical_backends: Backends, index: Index, query: str
) -> None:
    lexical = lexical_backends.lexical
    hits = lexical.search(query, 5)
    _assert_ranked(hits, 5)
    assert len(hits) > 0
    assert all(s > 0 for s in hits.scores.tolist())
    assert lexical.scores(query, list(hits.ids)).tolist() == pytest.approx(hits.scores.tolist())
    every = [p.id for p in index.passages]
    scores = dict(zip(every, lexical.scores(query, every).tolist(), strict=True))
    assert sorted(scores.values(), reverse=True)[:5] == pytest.approx(hits.scores.tolist())


def test_lexical_scores_are_bm25(lexical_backends: Backends, index: Index) -> None:
    """The scores against a brute-force BM25 over the texts the build analysed (title and
    passage), to float32 precision."""
    texts = [analyze(passage_input(index.documents[p.document_id], p)) for p in index.passages]
    ids = [p.id for p in index.passages]
    for query in QUERIES:
        expected = _bm25_of(texts, ids, analyze(query))
        got = lexical_backends.lexical.scores(query, ids).tolist()
        assert got == pytest.approx([expected[i] for i in ids], rel=1e-4, abs=1e-5)


def test_lexical_search_keeps_only_what_the_filter_keeps(
    lexical_backends: Backends, index: Index
) -> None:
    lexical = lexical_backends.lexical
    query = "leadership management"
    every = [p.id for p in index.passages]
    scores = dict(zip(every, lexical.scores(query, every).tolist(), strict=True))
    for where in _filters(index):
        kept = {i for i in _kept(index, where) if scores[i] > 0}
        hits = lexical.search(query, 1000, where)
        assert set(hits.ids) == kept, where


def test_lexical_search_of_unknown_words_is_empty(lexical_backends: Backends) -> None:
    lexical = lexical_backends.lexical
    assert len(lexical.search("zzyzx qwxv", 5)) == 0
    assert lexical.scores("zzyzx qwxv", ["synergy-of-success:p0"]).tolist() == [0.0]


def test_lexical_idf_ranks_rare_terms_above_common_ones(lexical_backends: Backends) -> None:
    lexical = lexical_backends.lexical
    (common,) = analyze("leadership")
    (rare,) = analyze("stewardship")
    assert lexical.idf(rare) > lexical.idf(common) > 0
    assert lexical.idf("zzyzx") >= lexical.idf(rare)


# --- catalogue ----------------------------------------------------------------------------------


def test_catalogue_gives_records_by_id(dense_backends: Backends, index: Index) -> None:
    catalogue = dense_backends.catalogue
    for passage in index.passages:
        assert catalogue.passage(passage.id) == passage
        assert catalogue.document(passage.document_id) == index.documents[passage.document_id]
        assert list(catalogue.mentions(passage.id)) == index.mentions_by_passage.get(passage.id, [])
    assert catalogue.has_document(DATED) and not catalogue.has_document("nope")
    with pytest.raises(KeyError):
        catalogue.passage("nope:p0")
    with pytest.raises(KeyError):
        catalogue.document("nope")


def test_catalogue_orders_ids_as_the_corpus_without_repeats(
    dense_backends: Backends, index: Index
) -> None:
    ids = [p.id for p in index.passages]
    shuffled = list(np.random.default_rng(7).permutation(ids)) + ids[:3]
    assert dense_backends.catalogue.in_corpus_order(shuffled) == ids
    assert dense_backends.catalogue.in_corpus_order([]) == []

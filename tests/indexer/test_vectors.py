from __future__ import annotations

from pathlib import Path

import numpy as np

from leadgraph.indexer.vectors import VectorIndex, best_rows, top_k


def _unit(rows: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(rows, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_exact_search_returns_the_query_row_first_with_cosine_one() -> None:
    vectors = _unit(50)
    index = VectorIndex.build(vectors)
    scores, rows = index.search(vectors[7], 5)
    assert index.kind == "flat"
    assert rows[0] == 7 and abs(scores[0] - 1.0) < 1e-5
    assert list(scores) == sorted(scores, reverse=True)


def test_search_restricted_to_allowed_rows_scores_only_those() -> None:
    vectors = _unit(50)
    index = VectorIndex.build(vectors)
    allowed = np.array([3, 9, 21], dtype=np.int64)
    scores, rows = index.search(vectors[9], 10, allowed=allowed)
    assert set(rows) == {3, 9, 21} and rows[0] == 9
    assert np.allclose(scores, vectors[rows] @ vectors[9])


def test_empty_allowed_set_and_empty_index_return_nothing() -> None:
    index = VectorIndex.build(_unit(5))
    assert len(index.search(_unit(1)[0], 3, allowed=np.array([], dtype=np.int64))[1]) == 0
    empty = VectorIndex.build(np.zeros((0, 16), dtype=np.float32))
    assert len(empty.search(_unit(1)[0], 3)[1]) == 0


def test_hnsw_above_threshold_agrees_with_exact_search(tmp_path: Path) -> None:
    vectors = _unit(2000, dim=32, seed=1)
    hnsw = VectorIndex.build(vectors, hnsw_threshold=1000)
    exact = VectorIndex.build(vectors)
    assert hnsw.kind == "hnsw"
    queries = _unit(20, dim=32, seed=2)
    overlap = [len(set(hnsw.search(q, 10)[1]) & set(exact.search(q, 10)[1])) / 10 for q in queries]
    assert np.mean(overlap) >= 0.95
    hnsw.save(tmp_path, "v")
    loaded = VectorIndex.load(tmp_path, "v")
    assert loaded.kind == "hnsw" and len(loaded) == 2000


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    vectors = _unit(20)
    names = VectorIndex.build(vectors).save(tmp_path, "passages")
    assert names == ["passages.faiss", "passages.npy"]
    loaded = VectorIndex.load(tmp_path, "passages")
    assert np.array_equal(np.asarray(loaded.vectors), vectors)
    assert loaded.search(vectors[4], 1)[1][0] == 4
    # still mapped from the file, but not through np.memmap's slow indexing
    assert type(loaded.vectors) is np.ndarray and not loaded.vectors.flags.owndata


def test_best_rows_is_the_set_top_k_returns() -> None:
    rng = np.random.default_rng(5)
    scores = rng.integers(0, 20, size=300).astype(np.float32)  # many ties
    for k in (1, 7, 100, 299, 300, 400):
        assert set(best_rows(scores, k).tolist()) == set(top_k(scores, k).tolist())
    assert len(best_rows(scores, 0)) == 0


def test_flat_search_through_the_8bit_scan_returns_exact_rows_and_scores() -> None:
    vectors = _unit(5000, dim=64, seed=3)
    index = VectorIndex.build(vectors)
    assert index.kind == "flat" and index._scan is not None
    for query in _unit(30, dim=64, seed=4):
        truth = vectors @ query
        for k in (1, 10, 100):
            scores, rows = index.search(query, k)
            expected = np.argsort(-truth, kind="stable")[:k]
            assert set(rows.tolist()) == set(expected.tolist())
            assert np.allclose(scores, truth[rows], atol=1e-6)  # exact, not the 8-bit score
            assert list(scores) == sorted(scores, reverse=True)
    assert len(index.search(vectors[0], 6000)[1]) == 5000  # k past the size: every row

"""FAISS vector indexes over L2-normalised embeddings (inner product is cosine similarity).

Small collections use exact search (`IndexFlatIP`); above `hnsw_threshold` vectors an HNSW graph
keeps search fast at the cost of exactness. The raw vectors are kept beside the index: filtered
searches score the allowed rows exactly, and incremental rebuilds reuse them.

A flat index is searched through an 8-bit copy of its vectors made at load (a quarter of the
bytes to stream, one per dimension): that scan proposes `SCAN_OVERSAMPLING` times the rows asked
for, and they are scored exactly on the float vectors. Returned scores are exact; the rows are the
exact search's unless a true top-k row ranks below k x `SCAN_OVERSAMPLING` in the 8-bit scan
(bench/scale.py measures the agreement: 1.0 at 10k).

Loaded vectors stay memory-mapped, but as a plain ndarray view of the mapping: `np.memmap`'s
Python-level `__getitem__` made each gather of candidate rows about 4x slower.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from .embedder import Vectors

# A flat scan grows linearly with the collection: about 1.3 ms at SciFact's 11k passages once a
# query's encode has evicted the 8-bit copy from the caches, 14 ms at 100k in float. HNSW answers
# in under a millisecond at any size here, so it takes over at 10k, where Weaviate's dynamic
# index switches too. On SciFact (11k) that is 0.76 against 1.54 ms a dense search, with
# recall@100 0.97 against exact search; hybrid nDCG@10, Recall@100 and MRR@10 are unchanged to
# the fourth decimal, dense-only nDCG@10 goes from 0.6776 to 0.6749 (docs/BENCHMARKS.md).
HNSW_THRESHOLD = 10_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 96
SCAN_OVERSAMPLING = 2  # rows the 8-bit scan of a flat index proposes per row asked for

Scores = npt.NDArray[np.float32]
Rows = npt.NDArray[np.int64]


class VectorIndex:
    """Row-addressed vectors: row i of the index is item i of whatever list it was built from."""

    def __init__(self, index: Any, vectors: Vectors) -> None:
        self._index = index
        self.vectors = vectors
        self._scan = _quantized(vectors) if self.kind == "flat" and len(vectors) else None

    @classmethod
    def build(cls, vectors: Vectors, *, hnsw_threshold: int = HNSW_THRESHOLD) -> VectorIndex:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        dimension = int(vectors.shape[1])
        index: Any
        if len(vectors) >= hnsw_threshold:
            index = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            index.hnsw.efSearch = HNSW_EF_SEARCH
        else:
            index = faiss.IndexFlatIP(dimension)
        if len(vectors):
            index.add(vectors)
        return cls(index, vectors)

    @property
    def kind(self) -> str:
        return "hnsw" if isinstance(self._index, faiss.IndexHNSWFlat) else "flat"

    @property
    def dimension(self) -> int:
        return int(self._index.d)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def search(self, query: Vectors, k: int, *, allowed: Rows | None = None) -> tuple[Scores, Rows]:
        """Top-k rows for one query vector, best first, as (scores, rows).

        With `allowed`, only those rows are candidates and they are scored exactly.
        """
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        if allowed is not None:
            if len(allowed) == 0:
                return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
            scores = self.vectors[allowed] @ query[0]
            top = _top_k(scores, k)
            return scores[top].astype(np.float32), allowed[top].astype(np.int64)
        k = min(k, len(self))
        if k <= 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        if self._scan is not None:
            with _one_thread():
                _, proposed = self._scan.search(query, min(len(self), k * SCAN_OVERSAMPLING))
            candidates = proposed[0][proposed[0] >= 0].astype(np.int64)
            exact = np.asarray(self.vectors[candidates] @ query[0], dtype=np.float32)
            top = _top_k(exact, k)
            return exact[top], candidates[top]
        with _one_thread():
            scores, rows = self._index.search(query, k)
        keep = rows[0] >= 0
        return scores[0][keep].astype(np.float32), rows[0][keep].astype(np.int64)

    def save(self, folder: Path, name: str) -> list[str]:
        """Writes `<name>.faiss` and `<name>.npy`; returns the file names written."""
        faiss.write_index(self._index, str(folder / f"{name}.faiss"))
        np.save(folder / f"{name}.npy", self.vectors, allow_pickle=False)
        return [f"{name}.faiss", f"{name}.npy"]

    @classmethod
    def load(cls, folder: Path, name: str) -> VectorIndex:
        index = faiss.read_index(str(folder / f"{name}.faiss"))
        vectors = np.asarray(np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False))
        if isinstance(index, faiss.IndexHNSWFlat):
            index.hnsw.efSearch = HNSW_EF_SEARCH
        return cls(index, vectors)


def _quantized(vectors: Vectors) -> Any:
    """An 8-bit scalar-quantised copy of `vectors` (each dimension's range in 256 steps), for
    inner-product scans."""
    data = np.ascontiguousarray(vectors, dtype=np.float32)
    scan = faiss.IndexScalarQuantizer(
        data.shape[1], faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    with _one_thread():
        scan.train(data)
        scan.add(data)
    return scan


@contextmanager
def _one_thread() -> Iterator[None]:
    """FAISS on one OpenMP thread for the block, in the calling thread only (the setting is a
    per-thread OpenMP variable). One query gains nothing from a team: HNSW walks its graph in one
    thread anyway, and a flat scan below the HNSW threshold is a few milliseconds; on a busy
    2-core machine the team's hand-offs cost 5-10x that (bench/scale.py)."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def best_rows(scores: npt.NDArray[np.floating[Any]], k: int) -> Rows:
    """Indices of the k largest scores in no particular order (`top_k` without the sort)."""
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    if k >= len(scores):
        return np.arange(len(scores), dtype=np.int64)
    return np.argpartition(-scores, k - 1)[:k].astype(np.int64)


def _top_k(scores: npt.NDArray[np.floating[Any]], k: int) -> Rows:
    """Indices of the k largest scores, best first (ties broken by position)."""
    part = best_rows(scores, k)
    order = np.lexsort((part, -scores[part]))
    return part[order]


top_k = _top_k

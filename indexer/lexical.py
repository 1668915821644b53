"""BM25 over passages, as a sparse term × passage matrix of precomputed term weights.

Scoring a query is a sum of a few sparse rows, so search cost grows with the number of passages
that contain the query terms, not with the vocabulary. Terms come from `text.analyze` (stems
without stop words), the same normalisation concept linking uses.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
from scipy import sparse

from .text import analyze
from .vectors import Rows, Scores, top_k

K1 = 1.2
B = 0.75


class LexicalIndex:
    """BM25 (Lucene variant: idf = ln(1 + (N - df + 0.5) / (df + 0.5)))."""

    def __init__(self, weights: sparse.csr_matrix, vocabulary: dict[str, int]) -> None:
        self._weights = weights  # shape (terms, passages)
        self._weights.sort_indices()  # each term's passages ascending: `scores_of` bisects them
        self._vocabulary = vocabulary

    @classmethod
    def build(
        cls,
        texts: Iterable[str],
        *,
        k1: float = K1,
        b: float = B,
        analyzer: Callable[[str], list[str]] = analyze,
    ) -> LexicalIndex:
        vocabulary: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        counts: list[int] = []
        lengths: list[int] = []
        for col, text in enumerate(texts):
            terms = analyzer(text)
            lengths.append(len(terms))
            for term, count in Counter(terms).items():
                rows.append(vocabulary.setdefault(term, len(vocabulary)))
                cols.append(col)
                counts.append(count)
        n = len(lengths)
        tf = np.asarray(counts, dtype=np.float32)
        row_ids = np.asarray(rows, dtype=np.int64)
        col_ids = np.asarray(cols, dtype=np.int64)
        doc_len = np.asarray(lengths, dtype=np.float32)
        avg_len = float(doc_len.mean()) if n and doc_len.mean() > 0 else 1.0
        df = np.bincount(row_ids, minlength=len(vocabulary)).astype(np.float32)
        idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
        norm = k1 * (1.0 - b + b * doc_len[col_ids] / avg_len)
        data = idf[row_ids] * tf * (k1 + 1.0) / (tf + norm)
        weights = sparse.csr_matrix(
            (data.astype(np.float32), (row_ids, col_ids)), shape=(len(vocabulary), n)
        )
        return cls(weights, vocabulary)

    def __len__(self) -> int:
        return int(self._weights.shape[1])

    def idf(self, term: str) -> float:
        """BM25 idf of an analysed term (a stem of `text.analyze`); a term no passage holds gets
        the idf of a term found in none, the highest there is."""
        n = len(self)
        row = self._vocabulary.get(term)
        df = 0 if row is None else int(self._weights.indptr[row + 1] - self._weights.indptr[row])
        return float(np.log1p((n - df + 0.5) / (df + 0.5)))

    def scores(self, query: str) -> Scores:
        """BM25 score of every passage for `query` (zeros where no term matches)."""
        term_rows = [self._vocabulary[t] for t in analyze(query) if t in self._vocabulary]
        if not term_rows:
            return np.zeros(len(self), dtype=np.float32)
        # a term repeated in the query counts again, as in Lucene's BM25 query weighting; the
        # rows' slices of the CSR arrays summed by passage (2x faster than slicing the matrix)
        starts, ends = self._weights.indptr[term_rows], self._weights.indptr[np.add(term_rows, 1)]
        spans = [slice(int(a), int(b)) for a, b in zip(starts, ends, strict=True)]
        columns = np.concatenate([self._weights.indices[span] for span in spans])
        weights = np.concatenate([self._weights.data[span] for span in spans])
        return np.bincount(columns, weights=weights, minlength=len(self)).astype(np.float32)

    def scores_of(self, query: str, rows: Rows) -> Scores:
        """The BM25 scores of the passages `rows` only: the values `scores(query)[rows]` holds,
        summed in the same order, found by bisecting each query term's passages rather than by
        a pass over all of them."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.zeros(len(rows), dtype=np.float64)  # bincount sums in float64 too
        indptr, indices, data = self._weights.indptr, self._weights.indices, self._weights.data
        for term in analyze(query):
            row = self._vocabulary.get(term)
            if row is None:
                continue
            start, end = int(indptr[row]), int(indptr[row + 1])
            if start == end:
                continue
            columns = indices[start:end]
            at = np.minimum(np.searchsorted(columns, rows), end - start - 1)
            found = columns[at] == rows
            out[found] += data[start:end][at[found]]
        return out.astype(np.float32)

    def search(self, query: str, k: int, *, allowed: Rows | None = None) -> tuple[Scores, Rows]:
        """Top-k passages with a positive score, best first, as (scores, rows)."""
        scores = self.scores(query)
        if allowed is not None:
            sub = scores[allowed]
            top = top_k(sub, k)
            top = top[sub[top] > 0]
            return sub[top], allowed[top].astype(np.int64)
        top = top_k(scores, k)
        top = top[scores[top] > 0]
        return scores[top], top

    def save(self, folder: Path, name: str) -> list[str]:
        sparse.save_npz(folder / f"{name}.npz", self._weights, compressed=False)
        terms: Sequence[str] = sorted(self._vocabulary, key=self._vocabulary.__getitem__)
        (folder / f"{name}.vocab.json").write_text(json.dumps(terms), encoding="utf-8")
        return [f"{name}.npz", f"{name}.vocab.json"]

    @classmethod
    def load(cls, folder: Path, name: str) -> LexicalIndex:
        weights = sparse.load_npz(folder / f"{name}.npz").tocsr()
        terms = json.loads((folder / f"{name}.vocab.json").read_text(encoding="utf-8"))
        return cls(weights, {t: i for i, t in enumerate(terms)})

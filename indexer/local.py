"""Today's backends of `indexer.retrieval`, over the files of one loaded version in this process.

    MemoryCatalogue   the version's records; turns a Filter into the rows it keeps
    FaissDense        `vectors.VectorIndex` (FAISS flat or HNSW) addressed by passage id
    Bm25Lexical       `lexical.LexicalIndex` (the sparse BM25 matrix) addressed by passage id

The three share one row space, the order of `Index.passages`: row i of the vectors and column i
of the BM25 matrix are passage i. Ids are turned into rows and back only here, at the edge of
the arrays, so nothing above them depends on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from .embedder import Vectors
from .lexical import LexicalIndex
from .models import Document, Mention, Passage
from .retrieval import NO_FILTER, Filter, Hits, Scores
from .store import Index
from .vectors import Rows, VectorIndex

FILTERS_CACHED = 256  # the rows of the filters searched most recently (one per concept, ...)


class MemoryCatalogue:
    """The catalogue of a loaded `Index`."""

    def __init__(self, index: Index) -> None:
        self._index = index
        self.ids: list[str] = [p.id for p in index.passages]
        self._rows = index.passage_rows
        self._by_document: dict[str, list[int]] = {}
        for row, passage in enumerate(index.passages):
            self._by_document.setdefault(passage.document_id, []).append(row)
        self._candidate_evidence = {c.uri: frozenset(c.evidence) for c in index.candidates}
        self.rows = lru_cache(maxsize=FILTERS_CACHED)(self._rows_of)

    def __len__(self) -> int:
        return len(self.ids)

    def passage(self, passage_id: str) -> Passage:
        return self._index.passages[self._rows[passage_id]]

    def document(self, document_id: str) -> Document:
        return self._index.documents[document_id]

    def has_document(self, document_id: str) -> bool:
        return document_id in self._index.documents

    def mentions(self, passage_id: str) -> Sequence[Mention]:
        return self._index.mentions_by_passage.get(passage_id, ())

    def in_corpus_order(self, ids: Sequence[str]) -> list[str]:
        return sorted(dict.fromkeys(ids), key=self._rows.__getitem__)

    def row(self, passage_id: str) -> int:
        return self._rows[passage_id]

    def rows_of_ids(self, ids: Sequence[str]) -> Rows:
        return np.fromiter((self._rows[i] for i in ids), dtype=np.int64, count=len(ids))

    def _rows_of(self, where: Filter) -> Rows | None:
        """The rows `where` keeps, ascending (None: every row). Cached: call as `rows`."""
        if not where:
            return None
        if where.concept is not None:
            if where.concept in self._candidate_evidence:
                evidence = self._candidate_evidence[where.concept]
                rows = sorted(self._rows[p] for p in evidence if p in self._rows)
            else:
                rows = [int(r) for r in self._index.rows_for_concept(where.concept)]
        elif where.document is not None:
            rows = list(self._by_document.get(where.document, ()))
        else:
            rows = list(range(len(self.ids)))
        documents = self._index.documents
        passages = self._index.passages
        kept = [r for r in rows if where.keeps(documents[passages[r].document_id])]
        return np.asarray(kept, dtype=np.int64)


class FaissDense:
    """Dense search over the catalogue's passages (`DenseSearch`)."""

    def __init__(self, vectors: VectorIndex, catalogue: MemoryCatalogue) -> None:
        if len(vectors) != len(catalogue):
            raise ValueError(f"{len(vectors)} vectors for {len(catalogue)} passages")
        self.vectors = vectors
        self._catalogue = catalogue

    def __len__(self) -> int:
        return len(self.vectors)

    def search(self, vector: Vectors, k: int, where: Filter = NO_FILTER) -> Hits:
        scores, rows = self.vectors.search(vector, k, allowed=self._catalogue.rows(where))
        return _hits(self._catalogue.ids, scores, rows)

    def scores(self, vector: Vectors, ids: Sequence[str]) -> Scores:
        rows = self._catalogue.rows_of_ids(ids)
        # inner product of L2-normalised vectors is cosine similarity
        return np.asarray(self.vectors.vectors[rows] @ vector, dtype=np.float32)


class Bm25Lexical:
    """BM25 search over the catalogue's passages (`LexicalSearch`)."""

    def __init__(self, index: LexicalIndex, catalogue: MemoryCatalogue) -> None:
        if len(index) != len(catalogue):
            raise ValueError(f"{len(index)} BM25 columns for {len(catalogue)} passages")
        self.index = index
        self._catalogue = catalogue

    def __len__(self) -> int:
        return len(self.index)

    def search(self, query: str, k: int, where: Filter = NO_FILTER) -> Hits:
        scores, rows = self.index.search(query, k, allowed=self._catalogue.rows(where))
        return _hits(self._catalogue.ids, scores, rows)

    def scores(self, query: str, ids: Sequence[str]) -> Scores:
        return self.index.scores_of(query, self._catalogue.rows_of_ids(ids))

    def idf(self, term: str) -> float:
        return self.index.idf(term)


def _hits(ids: Sequence[str], scores: Scores, rows: Rows) -> Hits:
    return Hits(tuple(ids[r] for r in rows.tolist()), np.asarray(scores, dtype=np.float32))

"""The parts of an index that search runs on, as protocols: what a backend must answer.

    DenseSearch     passages by embedding: the best k for a query vector under a Filter, and the
                    exact cosine of given passages
    LexicalSearch   passages by BM25: the same for a query text, and a term's idf
    Catalogue       passages, documents and mentions by id; the corpus order of passages

Results are passage ids with scores (`Hits`), never rows of an array, and filters are `Filter`
objects, never row masks: a distributed vector engine or a search server answers in ids and
filters on stored fields, and the service above must not know which one it talks to. Fusion of
the two rankings and the concept boost live above these, in `app/services/ranking.py`.

Today's implementations, over the files of one loaded version, are in `indexer/local.py` (FAISS,
the sparse BM25 matrix, the in-memory catalogue); `indexer/backends.py` opens the ones the
settings name. A new backend implements a protocol, is registered there, and is tested by adding
one parameter to the contract tests in `tests/contracts/`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from .embedder import Vectors
from .models import Document, Mention, Passage

Scores = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Filter:
    """Which passages a search may return: every field that is set must hold (None: any).

    `concept` keeps the passages that mention a concept (for a candidate concept, the passages
    that support it); `since` and `until` compare ISO 8601 dates of documents, both ends
    included, and leave out documents without a date."""

    document: str | None = None
    concept: str | None = None  # a concept URI
    kind: str | None = None  # a DocumentKind: "article", "video transcript"
    since: str | None = None
    until: str | None = None

    def __bool__(self) -> bool:
        return any(
            value is not None
            for value in (self.document, self.concept, self.kind, self.since, self.until)
        )

    def keeps(self, document: Document) -> bool:
        """Whether the document-level fields keep `document` (`concept` is the caller's)."""
        if self.document is not None and document.id != self.document:
            return False
        if self.kind is not None and document.kind != self.kind:
            return False
        if self.since is not None or self.until is not None:
            if document.date is None:
                return False
            if self.since is not None and document.date[: len(self.since)] < self.since:
                return False
            if self.until is not None and document.date[: len(self.until)] > self.until:
                return False
        return True


NO_FILTER = Filter()


@dataclass(frozen=True, slots=True)
class Hits:
    """Passages with scores, best first (ties in corpus order)."""

    ids: tuple[str, ...]
    scores: Scores

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def empty(cls) -> Hits:
        return cls((), np.zeros(0, dtype=np.float32))


class DenseSearch(Protocol):
    """Passages by the cosine of their embedding (L2-normalised, so inner product) to a query."""

    def __len__(self) -> int: ...

    def search(self, vector: Vectors, k: int, where: Filter = NO_FILTER) -> Hits:
        """The best `k` passages `where` keeps; with a filter, scored exactly."""
        ...

    def scores(self, vector: Vectors, ids: Sequence[str]) -> Scores:
        """The exact cosine of each passage of `ids` (KeyError for an unknown one)."""
        ...


class LexicalSearch(Protocol):
    """Passages by BM25 over the analysed text (`indexer.text.analyze`)."""

    def __len__(self) -> int: ...

    def search(self, query: str, k: int, where: Filter = NO_FILTER) -> Hits:
        """The best `k` passages `where` keeps, with a positive score only."""
        ...

    def scores(self, query: str, ids: Sequence[str]) -> Scores:
        """The BM25 score of each passage of `ids` (0 where no term matches)."""
        ...

    def idf(self, term: str) -> float:
        """The idf of an analysed term; the highest there is for a term no passage holds."""
        ...


class Catalogue(Protocol):
    """The records of one index version by id."""

    def passage(self, passage_id: str) -> Passage:
        """KeyError for an unknown id."""
        ...

    def document(self, document_id: str) -> Document:
        """KeyError for an unknown id."""
        ...

    def has_document(self, document_id: str) -> bool: ...

    def mentions(self, passage_id: str) -> Sequence[Mention]:
        """The concept mentions found in a passage (empty for none)."""
        ...

    def in_corpus_order(self, ids: Sequence[str]) -> list[str]:
        """`ids` without repeats, in the order of the passages in the corpus: the tie-break of
        every ranking, so equal scores come back in the same order from any backend."""
        ...

"""Passage search: dense (FAISS cosine), lexical (BM25) and hybrid.

Hybrid is a convex combination of the two scores after dividing each by the query's best score,
negatives floored at 0: a variant of the "TM2C2" fusion of Bruch et al., *An Analysis of Fusion
Functions for Hybrid Retrieval* (TOIS 2023), which normalises by a fixed lower bound and the
observed maximum (0 is BM25's bound; for cosine we take 0 rather than -1, since negative cosines
all mean "unrelated"). They find convex combination beats reciprocal rank fusion in and out of
domain and needs a single weight, `DENSE_WEIGHT`, a parameter of `rank` so a benchmark (BEIR
SciFact) can sweep it. Each retriever proposes its top `FUSION_DEPTH` passages; every proposed
passage is then scored exactly by both, so none is penalised for missing one retriever's cut-off.

Concepts found in the query (`ConceptLinker.link_query`) then lift the passages that mention
them by at most `CONCEPT_BOOST`, and the result is rescaled into 0..1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache, partial

import numpy as np

from leadgraph.indexer.embedder import Embedder, Vectors
from leadgraph.indexer.linking import ConceptLinker
from leadgraph.indexer.models import LinkMethod
from leadgraph.indexer.namespaces import short_id
from leadgraph.indexer.store import Index
from leadgraph.indexer.vectors import Rows, best_rows, top_k

from ..config import Settings
from ..errors import NotFound, Unprocessable
from ..limits import is_blank
from ..schemas import ConceptRef, QueryConcept, SearchHit, SearchMode, SearchResponse
from .concepts import ConceptService, passage_concepts

FUSION_DEPTH = 100  # passages each retriever proposes to the fusion
DENSE_WEIGHT = 0.6  # weight of the dense score in hybrid; BM25 gets 1 - DENSE_WEIGHT
# Largest lift for a passage mentioning every concept of the query, on the 0..1 fused scale:
# enough to reorder near-ties, not to lift an off-topic passage over a relevant one.
CONCEPT_BOOST = 0.1
# Passages whose concept list a search service keeps made: building the ConceptRef models was a
# fifth of a hybrid query outside its encode, and a corpus's popular passages come back often.
HIT_CONCEPTS_CACHED = 50_000

QueryConcepts = list[tuple[str, float, LinkMethod]]  # (concept URI, link score, method)


@dataclass(frozen=True, slots=True)
class Ranked:
    row: int  # index into Index.passages
    score: float
    dense: float | None = None
    lexical: float | None = None


class SearchService:
    """Searches the passages of one loaded index. Build once per index."""

    def __init__(
        self,
        index: Index,
        embedder: Embedder,
        linker: ConceptLinker,
        concepts: ConceptService,
        settings: Settings,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.linker = linker
        self.concepts = concepts
        self.settings = settings
        self._passage_concepts = lru_cache(maxsize=HIT_CONCEPTS_CACHED)(
            partial(_concept_refs, index)
        )

    def check_text(self, text: str, field: str) -> str:
        """`text` stripped; Unprocessable naming `field` if blank or too long."""
        stripped = text.strip()
        if is_blank(stripped):
            raise Unprocessable(
                f"{field}: must not be empty (control and invisible characters do not count)"
            )
        limit = self.settings.max_text_chars
        if len(text) > limit:  # as sent, as the OpenAPI maxLength counts
            raise Unprocessable(
                f"{field}: at most {limit} characters (max_text_chars), got {len(text)}"
            )
        return stripped

    def check_k(self, k: int, field: str = "k") -> int:
        if not 1 <= k <= self.settings.max_k:
            raise Unprocessable(
                f"{field}: must be between 1 and {self.settings.max_k} (max_k), got {k}"
            )
        return k

    def allowed_rows(self, concept: str | None, document: str | None) -> Rows | None:
        """Passage rows the filters leave (None: no filter); NotFound for an unknown id."""
        allowed: Rows | None = None
        if concept is not None:
            entry = self.concepts.resolve(concept)
            allowed = np.asarray(self.concepts.passage_rows(entry), dtype=np.int64)
        if document is not None:
            if document not in self.index.documents:
                raise NotFound(
                    f"no document {document!r}; GET /documents lists them",
                    code="document_not_found",
                )
            rows = self.index.rows_for_document(document)
            allowed = rows if allowed is None else np.intersect1d(allowed, rows)
        return allowed

    def embed(self, text: str) -> Vectors:
        vector: Vectors = self.embedder.encode([text])[0]
        return vector

    def query_concepts(self, text: str, vector: Vectors | None) -> QueryConcepts:
        return self.linker.link_query(text, vector)

    def rank(
        self,
        query: str,
        k: int,
        mode: SearchMode = SearchMode.hybrid,
        *,
        allowed: Rows | None = None,
        vector: Vectors | None = None,
        query_concepts: QueryConcepts | None = None,
        dense_weight: float = DENSE_WEIGHT,
        concept_boost: float = CONCEPT_BOOST,
        depth: int = FUSION_DEPTH,
    ) -> list[Ranked]:
        """The best `k` passages for `query`, best first. `vector` is the query embedding
        (computed when needed and not given)."""
        if mode is SearchMode.lexical:
            scores, rows = self.index.lexical.search(query, k, allowed=allowed)
            return [
                Ranked(int(r), float(s), lexical=float(s))
                for s, r in zip(scores.tolist(), rows.tolist(), strict=True)
            ]
        if vector is None:
            vector = self.embed(query)
        if mode is SearchMode.dense:
            scores, rows = self.index.passage_vectors.search(vector, k, allowed=allowed)
            return [
                Ranked(int(r), float(s), dense=float(s))
                for s, r in zip(scores.tolist(), rows.tolist(), strict=True)
            ]
        pool = max(depth, k)
        _, dense_rows = self.index.passage_vectors.search(vector, pool, allowed=allowed)
        lexical_all = self.index.lexical.scores(query)
        if allowed is None:
            lexical_top = best_rows(lexical_all, pool)
        else:
            lexical_top = allowed[best_rows(lexical_all[allowed], pool)]
        # the union of both proposals, in row order
        proposed = np.zeros(len(lexical_all), dtype=bool)
        proposed[dense_rows] = True
        proposed[lexical_top[lexical_all[lexical_top] > 0]] = True
        rows = np.flatnonzero(proposed)
        if len(rows) == 0:
            return []
        # inner product of L2-normalised vectors is cosine similarity
        dense = np.asarray(self.index.passage_vectors.vectors[rows] @ vector, dtype=np.float32)
        lexical = lexical_all[rows]
        fused = dense_weight * _scale(dense) + (1.0 - dense_weight) * _scale(lexical)
        if query_concepts is None:
            query_concepts = self.query_concepts(query, vector)
        if query_concepts and concept_boost > 0:
            overlap = self._concept_overlap(rows, query_concepts)
            fused = (fused + concept_boost * overlap) / (1.0 + concept_boost)
        best = top_k(fused, k)
        return [
            Ranked(int(rows[i]), float(fused[i]), float(dense[i]), float(lexical[i])) for i in best
        ]

    def _concept_overlap(self, rows: Rows, query_concepts: QueryConcepts) -> Vectors:
        """Per row, the link-score-weighted share of query concepts the passage mentions
        (each weighted by its strongest mention there), in 0..1."""
        weights = {uri: score for uri, score, _ in query_concepts}
        total = sum(weights.values()) or 1.0
        out = np.zeros(len(rows), dtype=np.float32)
        for i, row in enumerate(rows.tolist()):
            passage = self.index.passages[row]
            strength: dict[str, float] = {}
            for m in self.index.mentions_by_passage.get(passage.id, ()):
                if m.concept_uri in weights:
                    strength[m.concept_uri] = max(strength.get(m.concept_uri, 0.0), m.score)
            out[i] = sum(weights[uri] * s for uri, s in strength.items()) / total
        return out

    def search(
        self,
        q: str,
        *,
        k: int,
        mode: SearchMode,
        concept: str | None = None,
        document: str | None = None,
    ) -> SearchResponse:
        query = self.check_text(q, "q")
        self.check_k(k)
        allowed = self.allowed_rows(concept, document)
        vector = None if mode is SearchMode.lexical else self.embed(query)
        linked = self.query_concepts(query, vector)
        ranked = self.rank(query, k, mode, allowed=allowed, vector=vector, query_concepts=linked)
        return SearchResponse(
            query=query,
            mode=mode,
            query_concepts=self.describe_concepts(linked),
            hits=[self.hit(r) for r in ranked],
        )

    def describe_concepts(self, linked: QueryConcepts) -> list[QueryConcept]:
        out = []
        for uri, score, method in linked:
            concept = self.index.concepts.get(uri)
            if concept is not None:
                out.append(
                    QueryConcept(
                        id=short_id(uri),
                        label=concept.pref_label,
                        score=round(score, 4),
                        method=method,
                    )
                )
        return out

    def hit(self, ranked: Ranked) -> SearchHit:
        passage = self.index.passages[ranked.row]
        document = self.index.documents[passage.document_id]
        return SearchHit(
            passage_id=passage.id,
            document_id=passage.document_id,
            document_title=document.title,
            source=document.source,
            text=passage.text,
            score=round(ranked.score, 6),
            start=passage.start,
            end=passage.end,
            concepts=list(self._passage_concepts(passage.id)),
            dense_score=None if ranked.dense is None else round(ranked.dense, 6),
            lexical_score=None if ranked.lexical is None else round(ranked.lexical, 6),
        )


def _concept_refs(index: Index, passage_id: str) -> tuple[ConceptRef, ...]:
    return tuple(passage_concepts(index, passage_id))


def _scale(scores: Sequence[float] | Vectors) -> Vectors:
    """Scores divided by the best one, negatives floored at 0 (all zeros stay zeros)."""
    values = np.maximum(np.asarray(scores, dtype=np.float32), 0.0)
    peak = float(values.max()) if len(values) else 0.0
    if peak <= 0.0:
        return np.zeros_like(values)
    scaled: Vectors = (values / np.float32(peak)).astype(np.float32)
    return scaled

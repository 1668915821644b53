"""Passage search as the API serves it: checked arguments, filters, rankings, hits.

The rankings themselves (dense, lexical, hybrid fusion and the concept boost) are in
`ranking.py`; the backends they run on are opened here, by `indexer.backends.open_backends`, from
the settings (`dense_backend`, `lexical_backend`).
"""

from __future__ import annotations

from functools import lru_cache, partial

from leadgraph.indexer.backends import open_backends
from leadgraph.indexer.embedder import Embedder, Vectors
from leadgraph.indexer.linking import ConceptLinker
from leadgraph.indexer.namespaces import short_id
from leadgraph.indexer.retrieval import NO_FILTER, Filter
from leadgraph.indexer.store import Index

from ..config import Settings
from ..errors import NotFound, Unprocessable
from ..limits import is_blank
from ..schemas import ConceptRef, QueryConcept, SearchHit, SearchMode, SearchResponse
from .concepts import ConceptService, passage_concepts
from .ranking import (
    CONCEPT_BOOST,
    DENSE_WEIGHT,
    FUSION_DEPTH,
    QueryConcepts,
    Ranked,
    dense_ranking,
    hybrid_ranking,
    lexical_ranking,
)

__all__ = ["CONCEPT_BOOST", "DENSE_WEIGHT", "FUSION_DEPTH", "QueryConcepts", "Ranked"]

# Passages whose concept list a search service keeps made: building the ConceptRef models was a
# fifth of a hybrid query outside its encode, and a corpus's popular passages come back often.
HIT_CONCEPTS_CACHED = 50_000


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
        backends = open_backends(
            index, dense=settings.dense_backend, lexical=settings.lexical_backend
        )
        self.catalogue = backends.catalogue
        self.dense = backends.dense
        self.lexical = backends.lexical
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

    def filter(self, concept: str | None, document: str | None) -> Filter:
        """The filter of a search's arguments; NotFound for an unknown concept or document."""
        if concept is None and document is None:
            return NO_FILTER
        uri = None if concept is None else self.concepts.resolve(concept).uri
        if document is not None and not self.catalogue.has_document(document):
            raise NotFound(
                f"no document {document!r}; GET /documents lists them",
                code="document_not_found",
            )
        return Filter(document=document, concept=uri)

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
        where: Filter = NO_FILTER,
        vector: Vectors | None = None,
        query_concepts: QueryConcepts | None = None,
        dense_weight: float = DENSE_WEIGHT,
        concept_boost: float = CONCEPT_BOOST,
        depth: int = FUSION_DEPTH,
    ) -> list[Ranked]:
        """The best `k` passages for `query`, best first. `vector` is the query embedding
        (computed when needed and not given)."""
        if mode is SearchMode.lexical:
            return lexical_ranking(self.lexical, query, k, where)
        if vector is None:
            vector = self.embed(query)
        if mode is SearchMode.dense:
            return dense_ranking(self.dense, vector, k, where)
        if query_concepts is None:
            query_concepts = self.query_concepts(query, vector)
        return hybrid_ranking(
            self.catalogue,
            self.dense,
            self.lexical,
            query,
            vector,
            k,
            where=where,
            query_concepts=query_concepts,
            dense_weight=dense_weight,
            concept_boost=concept_boost,
            depth=depth,
        )

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
        where = self.filter(concept, document)
        vector = None if mode is SearchMode.lexical else self.embed(query)
        linked = self.query_concepts(query, vector)
        ranked = self.rank(query, k, mode, where=where, vector=vector, query_concepts=linked)
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
        passage = self.catalogue.passage(ranked.passage_id)
        document = self.catalogue.document(passage.document_id)
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

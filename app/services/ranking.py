"""Where ranking lives: dense, lexical and hybrid passage rankings over the search backends.

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

Everything here works on passage ids and scores from the protocols of `indexer.retrieval`, so it
ranks the same over any backend; ties go to the passage first in the corpus.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from leadgraph.indexer.embedder import Vectors
from leadgraph.indexer.models import LinkMethod
from leadgraph.indexer.retrieval import (
    NO_FILTER,
    Catalogue,
    DenseSearch,
    Filter,
    Hits,
    LexicalSearch,
    Scores,
)
from leadgraph.indexer.vectors import top_k

FUSION_DEPTH = 100  # passages each retriever proposes to the fusion
DENSE_WEIGHT = 0.6  # weight of the dense score in hybrid; BM25 gets 1 - DENSE_WEIGHT
# Largest lift for a passage mentioning every concept of the query, on the 0..1 fused scale:
# enough to reorder near-ties, not to lift an off-topic passage over a relevant one.
CONCEPT_BOOST = 0.1

QueryConcepts = list[tuple[str, float, LinkMethod]]  # (concept URI, link score, method)


@dataclass(frozen=True, slots=True)
class Ranked:
    passage_id: str
    score: float
    dense: float | None = None
    lexical: float | None = None


def lexical_ranking(lexical: LexicalSearch, query: str, k: int, where: Filter) -> list[Ranked]:
    hits = lexical.search(query, k, where)
    return [Ranked(i, s, lexical=s) for i, s in zip(hits.ids, hits.scores.tolist(), strict=True)]


def dense_ranking(dense: DenseSearch, vector: Vectors, k: int, where: Filter) -> list[Ranked]:
    hits = dense.search(vector, k, where)
    return [Ranked(i, s, dense=s) for i, s in zip(hits.ids, hits.scores.tolist(), strict=True)]


def hybrid_ranking(
    catalogue: Catalogue,
    dense: DenseSearch,
    lexical: LexicalSearch,
    query: str,
    vector: Vectors,
    k: int,
    *,
    where: Filter = NO_FILTER,
    query_concepts: QueryConcepts,
    dense_weight: float = DENSE_WEIGHT,
    concept_boost: float = CONCEPT_BOOST,
    depth: int = FUSION_DEPTH,
) -> list[Ranked]:
    """The best `k` passages for `query` (embedded as `vector`), fused as the module says."""
    pool = max(depth, k)
    proposed: Hits = dense.search(vector, pool, where)
    found: Hits = lexical.search(query, pool, where)
    ids = catalogue.in_corpus_order([*proposed.ids, *found.ids])
    if not ids:
        return []
    dense_scores = dense.scores(vector, ids)
    lexical_scores = lexical.scores(query, ids)
    fused = dense_weight * _scale(dense_scores) + (1.0 - dense_weight) * _scale(lexical_scores)
    if query_concepts and concept_boost > 0:
        overlap = concept_overlap(catalogue, ids, query_concepts)
        fused = (fused + concept_boost * overlap) / (1.0 + concept_boost)
    best = top_k(fused, k)
    return [
        Ranked(ids[i], float(fused[i]), float(dense_scores[i]), float(lexical_scores[i]))
        for i in best
    ]


def concept_overlap(
    catalogue: Catalogue, ids: Sequence[str], query_concepts: QueryConcepts
) -> Scores:
    """Per passage, the link-score-weighted share of query concepts it mentions (each weighted
    by its strongest mention there), in 0..1."""
    weights = {uri: score for uri, score, _ in query_concepts}
    total = sum(weights.values()) or 1.0
    out = np.zeros(len(ids), dtype=np.float32)
    for i, passage_id in enumerate(ids):
        strength: dict[str, float] = {}
        for m in catalogue.mentions(passage_id):
            if m.concept_uri in weights:
                strength[m.concept_uri] = max(strength.get(m.concept_uri, 0.0), m.score)
        out[i] = sum(weights[uri] * s for uri, s in strength.items()) / total
    return out


def _scale(scores: Sequence[float] | Vectors) -> Vectors:
    """Scores divided by the best one, negatives floored at 0 (all zeros stay zeros)."""
    values = np.maximum(np.asarray(scores, dtype=np.float32), 0.0)
    peak = float(values.max()) if len(values) else 0.0
    if peak <= 0.0:
        return np.zeros_like(values)
    scaled: Vectors = (values / np.float32(peak)).astype(np.float32)
    return scaled

"""Retrieval evaluation on BEIR-format datasets: nDCG@10, Recall@100, MRR@10, latency.

Passages are ranked by the service's own `SearchService.rank`, then pooled into documents by
their best passage (MaxP), which is how a BEIR document with several passages is scored.
Metrics follow trec_eval / pytrec_eval as BEIR reports them: linear gains for nDCG, relevance
> 0 counts as relevant, queries without judgements in the split are skipped.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from leadgraph.indexer.errors import CorpusError

from .schemas import SearchMode
from .services.search import CONCEPT_BOOST, DENSE_WEIGHT, SearchService

Qrels = dict[str, dict[str, int]]  # query id -> document id -> relevance
Ranking = list[str]  # document ids, best first

DOC_DEPTH = 100  # documents ranked per query (enough for Recall@100)
PASSAGES_PER_DOC = 3  # passages retrieved per wanted document, so pooling still yields 100


def read_queries(path: Path) -> dict[str, str]:
    queries: dict[str, str] = {}
    with open(path, encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                queries[str(row["_id"])] = str(row["text"])
            except (ValueError, KeyError, TypeError) as exc:
                raise CorpusError(path, f"bad query line ({exc})", line_no) from exc
    return queries


def read_qrels(path: Path) -> Qrels:
    """BEIR qrels TSV: a header `query-id corpus-id score`, then one judgement a line."""
    qrels: Qrels = {}
    with open(path, encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, 1):
            fields = line.rstrip("\n").split("\t")
            if line_no == 1 and fields and fields[0] == "query-id":
                continue
            if not line.strip():
                continue
            if len(fields) != 3:
                raise CorpusError(path, "expected 3 tab-separated fields", line_no)
            try:
                qrels.setdefault(fields[0], {})[fields[1]] = int(fields[2])
            except ValueError as exc:
                raise CorpusError(path, f"score is not an integer: {fields[2]!r}", line_no) from exc
    return qrels


def ndcg_at(ranking: Ranking, relevant: Mapping[str, int], k: int) -> float:
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranking[:k]))
    ideal = sorted((g for g in relevant.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at(ranking: Ranking, relevant: Mapping[str, int], k: int) -> float:
    wanted = {d for d, g in relevant.items() if g > 0}
    return len(wanted.intersection(ranking[:k])) / len(wanted) if wanted else 0.0


def mrr_at(ranking: Ranking, relevant: Mapping[str, int], k: int) -> float:
    for i, d in enumerate(ranking[:k]):
        if relevant.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def score_run(runs: Mapping[str, Ranking], qrels: Qrels) -> dict[str, float]:
    """Mean nDCG@10, Recall@100 and MRR@10 over the judged queries (a query with no ranking
    scores 0)."""
    judged = [q for q, rel in qrels.items() if any(g > 0 for g in rel.values())]
    if not judged:
        return {"ndcg@10": 0.0, "recall@100": 0.0, "mrr@10": 0.0}
    total = {"ndcg@10": 0.0, "recall@100": 0.0, "mrr@10": 0.0}
    for q in judged:
        ranking = runs.get(q, [])
        total["ndcg@10"] += ndcg_at(ranking, qrels[q], 10)
        total["recall@100"] += recall_at(ranking, qrels[q], 100)
        total["mrr@10"] += mrr_at(ranking, qrels[q], 10)
    return {name: value / len(judged) for name, value in total.items()}


@dataclass
class ModeResult:
    mode: str
    metrics: dict[str, float]
    latencies_ms: list[float] = field(repr=False)

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else 0.0

    @property
    def p95(self) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] if ordered else 0.0


def pool_documents(search: SearchService, passage_ids: Sequence[str], depth: int) -> Ranking:
    """Document ids in the order of their best passage."""
    seen: dict[str, None] = {}
    for passage_id in passage_ids:
        seen.setdefault(search.catalogue.passage(passage_id).document_id, None)
        if len(seen) == depth:
            break
    return list(seen)


def run_mode(
    search: SearchService,
    queries: Mapping[str, str],
    qrels: Qrels,
    mode: SearchMode,
    *,
    dense_weight: float = DENSE_WEIGHT,
    concept_boost: float = CONCEPT_BOOST,
) -> ModeResult:
    """Ranks every judged query in `mode` and scores the run; latency is the time of one
    `rank` call (embedding the query included), in milliseconds."""
    k = DOC_DEPTH * PASSAGES_PER_DOC
    runs: dict[str, Ranking] = {}
    latencies: list[float] = []
    for qid in qrels:
        text = queries.get(qid)
        if text is None:
            continue
        started = time.perf_counter()
        ranked = search.rank(
            text, k, mode, depth=k, dense_weight=dense_weight, concept_boost=concept_boost
        )
        latencies.append((time.perf_counter() - started) * 1000.0)
        runs[qid] = pool_documents(search, [r.passage_id for r in ranked], DOC_DEPTH)
    return ModeResult(mode.value, score_run(runs, qrels), latencies)

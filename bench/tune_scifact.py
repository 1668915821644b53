"""Choose hybrid-search settings on the SciFact *train* split (never on test).

Sweeps BM25 k1/b (rebuilding only the in-memory BM25 matrix) and the fusion weight of the dense
score, with query vectors computed once, and prints nDCG@10 / Recall@100 per setting, best first.

    .venv/bin/python -m bench.tune_scifact --index /tmp/scifact-idx --beir ../shared/bench/scifact
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
from pathlib import Path

from leadgraph.app.config import Settings
from leadgraph.app.deps import Services
from leadgraph.app.evaluation import (
    DOC_DEPTH,
    PASSAGES_PER_DOC,
    pool_documents,
    read_qrels,
    read_queries,
    score_run,
)
from leadgraph.app.schemas import SearchMode
from leadgraph.app.state import load_resources
from leadgraph.indexer.build import passage_input
from leadgraph.indexer.embedder import SentenceTransformerEmbedder
from leadgraph.indexer.lexical import LexicalIndex
from leadgraph.indexer.local import Bm25Lexical


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--beir", type=Path, default=Path("../shared/bench/scifact"))
    parser.add_argument("--split", default="train")
    parser.add_argument("--k1", default="0.9,1.2,1.5")
    parser.add_argument("--b", default="0.4,0.75,0.9")
    parser.add_argument("--weights", default="0.3,0.4,0.5,0.6,0.7")
    parser.add_argument("--boosts", default="0.0,0.1")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    embedder = SentenceTransformerEmbedder()
    resources = load_resources(Settings(index=args.index), embedder)
    search = Services.build(resources).search
    index = resources.index
    queries = read_queries(args.beir / "queries.jsonl")
    qrels = read_qrels(args.beir / "qrels" / f"{args.split}.tsv")
    judged = [q for q in qrels if q in queries]
    started = time.perf_counter()
    vectors = dict(zip(judged, embedder.encode([queries[q] for q in judged]), strict=True))
    print(f"{len(judged)} {args.split} queries embedded in {time.perf_counter() - started:.1f} s")
    inputs = [passage_input(index.documents[p.document_id], p) for p in index.passages]
    k = DOC_DEPTH * PASSAGES_PER_DOC

    def run(mode: SearchMode, weight: float, boost: float) -> dict[str, float]:
        runs = {}
        for q in judged:
            ranked = search.rank(
                queries[q],
                k,
                mode,
                vector=vectors[q],
                depth=k,
                dense_weight=weight,
                concept_boost=boost,
            )
            runs[q] = pool_documents(search, [r.passage_id for r in ranked], DOC_DEPTH)
        return score_run(runs, qrels)

    dense = run(SearchMode.dense, 1.0, 0.0)
    print(
        f"dense                           nDCG@10 {dense['ndcg@10']:.4f} "
        f"R@100 {dense['recall@100']:.4f}"
    )
    results = []
    for k1, b in itertools.product(
        [float(x) for x in args.k1.split(",")], [float(x) for x in args.b.split(",")]
    ):
        search.lexical = Bm25Lexical(LexicalIndex.build(inputs, k1=k1, b=b), search.catalogue)
        lexical = run(SearchMode.lexical, 0.0, 0.0)
        print(
            f"lexical k1={k1} b={b}            nDCG@10 {lexical['ndcg@10']:.4f} "
            f"R@100 {lexical['recall@100']:.4f}"
        )
        for weight, boost in itertools.product(
            [float(x) for x in args.weights.split(",")], [float(x) for x in args.boosts.split(",")]
        ):
            m = run(SearchMode.hybrid, weight, boost)
            results.append((m["ndcg@10"], m["recall@100"], k1, b, weight, boost))
            print(
                f"hybrid k1={k1} b={b} w={weight} boost={boost}  nDCG@10 {m['ndcg@10']:.4f} "
                f"R@100 {m['recall@100']:.4f}",
                flush=True,
            )
    print("\nbest on", args.split)
    for ndcg, recall, k1, b, weight, boost in sorted(results, reverse=True)[:5]:
        print(
            f"  k1={k1} b={b} dense_weight={weight} boost={boost}: "
            f"nDCG@10 {ndcg:.4f} R@100 {recall:.4f}"
        )


if __name__ == "__main__":
    main()

"""Retrieval metrics against hand-computed cases and ir-measures, and an evaluation run on a
tiny BEIR-format dataset (the same code path `leadgraph eval` takes on SciFact)."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import ir_measures
import pytest
from ir_measures import RR, R, nDCG

from leadgraph.app.config import Settings
from leadgraph.app.deps import Services
from leadgraph.app.evaluation import (
    mrr_at,
    ndcg_at,
    read_qrels,
    read_queries,
    recall_at,
    run_mode,
    score_run,
)
from leadgraph.app.schemas import SearchMode
from leadgraph.app.state import load_resources
from leadgraph.indexer.build import build_index
from leadgraph.indexer.errors import CorpusError
from tests.fakes import HashingEmbedder


def test_ndcg_by_hand() -> None:
    relevant = {"d1": 1, "d3": 2}
    ranking = ["d2", "d3", "d1"]
    dcg = 2 / math.log2(3) + 1 / math.log2(4)
    idcg = 2 / math.log2(2) + 1 / math.log2(3)
    assert ndcg_at(ranking, relevant, 10) == pytest.approx(dcg / idcg)
    assert ndcg_at(["d3", "d1"], relevant, 10) == pytest.approx(1.0)
    assert ndcg_at(["x"], relevant, 10) == 0.0
    assert ndcg_at(ranking, relevant, 1) == 0.0


def test_recall_and_mrr_by_hand() -> None:
    relevant = {"a": 1, "b": 1, "c": 0}
    assert recall_at(["c", "a", "x"], relevant, 100) == 0.5
    assert recall_at(["x"] * 3 + ["b"], relevant, 3) == 0.0
    assert mrr_at(["c", "x", "b"], relevant, 10) == pytest.approx(1 / 3)
    assert mrr_at(["c"], relevant, 10) == 0.0


def test_score_run_agrees_with_ir_measures_on_a_random_run() -> None:
    rng = random.Random(7)
    docs = [f"d{i}" for i in range(300)]
    qrels = {
        f"q{q}": {d: rng.choice([1, 1, 2]) for d in rng.sample(docs, rng.randint(1, 6))}
        for q in range(40)
    }
    runs = {q: rng.sample(docs, 150) for q in qrels}
    ours = score_run(runs, qrels)
    theirs = ir_measures.calc_aggregate(
        [nDCG @ 10, R @ 100, RR @ 10],
        [ir_measures.Qrel(q, d, g) for q, rel in qrels.items() for d, g in rel.items()],
        [
            ir_measures.ScoredDoc(q, d, float(len(ranking) - i))
            for q, ranking in runs.items()
            for i, d in enumerate(ranking)
        ],
    )
    assert ours["ndcg@10"] == pytest.approx(theirs[nDCG @ 10], abs=1e-9)
    assert ours["recall@100"] == pytest.approx(theirs[R @ 100], abs=1e-9)
    assert ours["mrr@10"] == pytest.approx(theirs[RR @ 10], abs=1e-9)


@pytest.fixture
def beir(tmp_path: Path) -> Path:
    folder = tmp_path / "mini"
    (folder / "qrels").mkdir(parents=True)
    corpus = [
        ("d1", "Bridges", "Managers provide the bridge between leaders and the workforce."),
        ("d2", "Vision", "Leaders articulate a compelling vision of the future."),
        ("d3", "Budgets", "Budgeting and scheduling turn plans into results."),
        ("d4", "Safety", "Psychological safety lets people speak up without fear."),
    ]
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as handle:
        for _id, title, text in corpus:
            handle.write(json.dumps({"_id": _id, "title": title, "text": text}) + "\n")
    queries = {"q1": "who bridges leaders and workforce", "q2": "speaking up without fear"}
    with open(folder / "queries.jsonl", "w", encoding="utf-8") as handle:
        for _id, text in queries.items():
            handle.write(json.dumps({"_id": _id, "text": text}) + "\n")
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td4\t1\n", encoding="utf-8"
    )
    return folder


def test_evaluation_run_on_a_tiny_beir_set_finds_the_relevant_documents(
    beir: Path, tmp_path: Path
) -> None:
    embedder = HashingEmbedder()
    root = tmp_path / "index"
    build_index([beir / "corpus.jsonl"], root, embedder=embedder)
    search = Services.build(load_resources(Settings(index=root), embedder)).search
    queries = read_queries(beir / "queries.jsonl")
    qrels = read_qrels(beir / "qrels" / "test.tsv")
    for mode in SearchMode:
        result = run_mode(search, queries, qrels, mode)
        assert result.metrics["recall@100"] == 1.0, mode
        assert result.metrics["mrr@10"] == 1.0, mode
        assert len(result.latencies_ms) == 2 and result.p95 >= result.p50 > 0


def test_bad_qrels_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "test.tsv"
    path.write_text("query-id\tcorpus-id\tscore\nq1\td1\n", encoding="utf-8")
    with pytest.raises(CorpusError) as err:
        read_qrels(path)
    assert err.value.line == 2 and "3 tab-separated fields" in str(err.value)

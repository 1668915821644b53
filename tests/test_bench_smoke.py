"""The speed scripts run, so they cannot rot: each on a tiny sample, its figures checked for
shape and sense (never for speed). txtai is optional: compare_txtai runs it only if installed."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from bench import build_stages, compare_txtai, graph_load, onnx_encode, scale, sparql_stores
from leadgraph.indexer.build import build_index
from tests.conftest import CORPUS
from tests.fakes import HashingEmbedder

QUERIES = [
    "how do leaders inspire a shared vision",
    "what does management control",
    "aligning strategy and operations",
]


@pytest.fixture(scope="module")
def beir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A BEIR-style corpus.jsonl of paragraphs of the bundled articles, and queries.jsonl."""
    folder = tmp_path_factory.mktemp("beir")
    paragraphs = []
    for article in sorted(CORPUS.glob("*.md")):
        body = article.read_text(encoding="utf-8").split("---", 2)[2]
        paragraphs += [p.strip() for p in body.split("\n\n") if len(p.strip()) > 200]
    with (folder / "corpus.jsonl").open("w", encoding="utf-8") as out:
        for n, text in enumerate(paragraphs[:8]):
            out.write(json.dumps({"_id": f"p{n}", "title": "", "text": text}) + "\n")
    with (folder / "queries.jsonl").open("w", encoding="utf-8") as out:
        for n, text in enumerate(QUERIES):
            out.write(json.dumps({"_id": f"q{n}", "text": text}) + "\n")
    return folder


@pytest.mark.model
def test_compare_txtai_runs_both_systems_on_a_sample(
    beir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    txtai = importlib.util.find_spec("txtai") is not None
    out = tmp_path / "compare.json"
    args = ["--corpus", str(beir / "corpus.jsonl"), "--queries", str(beir / "queries.jsonl")]
    kept = tmp_path / "kept"
    results = compare_txtai.main([*args, "--limit", "6", "--json", str(out), "--keep", str(kept)])
    assert results == json.loads(out.read_text())
    assert (kept / "leadgraph" / "current" / "manifest.json").exists()  # for queries-only runs
    assert (kept / "txtai").exists() is txtai
    assert results["documents"] == 6 and results["queries"] == len(QUERIES)
    assert results["passages"] >= 6
    assert results["bare_encode_s"] > 0 and results["leadgraph_build_s"] > 0
    # every text the build encoded was encoded bare beside it: its passages and the concepts
    assert results["encoded_texts"] > results["passages"] and results["encode_slices"] >= 2
    assert results["build_over_embed_stage"] >= 1.0  # the build contains its embed stage
    assert {"read", "chunk", "embed", "link", "write"} <= set(results["leadgraph_stages_s"])
    assert 0 < results["leadgraph_p50_ms"] <= results["leadgraph_p95_ms"]
    assert results["txtai"] is txtai
    printed = capsys.readouterr().out
    assert "build / bare encode" in printed
    if txtai:
        assert 0 < results["txtai_p50_ms"] <= results["txtai_p95_ms"]
        assert results["query_p50_ratio"] == pytest.approx(
            results["leadgraph_p50_ms"] / results["txtai_p50_ms"], abs=1e-3
        )
        assert "query p50 leadgraph / txtai" in printed


@pytest.mark.model
def test_compare_txtai_times_queries_only_over_built_indexes(
    beir: Path,
    tmp_path: Path,
    real_embedder,
    capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
) -> None:
    txtai = importlib.util.find_spec("txtai") is not None
    build_index([beir / "corpus.jsonl"], tmp_path / "index", embedder=real_embedder)
    args = ["--corpus", str(beir / "corpus.jsonl"), "--queries", str(beir / "queries.jsonl")]
    args += ["--index", str(tmp_path / "index"), "--txtai-index", str(tmp_path / "txtai")]
    for _ in range(2):  # txtai's index is built and saved, then loaded
        results = compare_txtai.main(args)
        assert "leadgraph_build_s" not in results and "bare_encode_s" not in results
        assert 0 < results["leadgraph_p50_ms"] <= results["leadgraph_p95_ms"]
        assert results["queries"] == len(QUERIES)
        if txtai:
            assert "txtai_build_s" not in results
            assert 0 < results["txtai_p50_ms"] and results["query_p50_ratio"] > 0
    assert (tmp_path / "txtai").exists() is txtai
    assert "build / bare encode" not in capsys.readouterr().out


def test_scale_measures_each_size_and_draws_the_plots(tmp_path: Path) -> None:
    out = tmp_path / "scale.json"
    results = scale.main(
        ["--sizes", "300,1200", "--queries", "20", "--json", str(out), "--plots", str(tmp_path)]
    )
    assert (
        [r["size"] for r in results]
        == [300, 1200]
        == [r["size"] for r in json.loads(out.read_text())]
    )
    for r in results:
        assert r["index"] == "flat" and r["recall_at_10"] == 1.0  # exact search is exact
        assert 0.5 <= r["hnsw_recall_at_10"] <= 1.0
        assert r["structure_bytes"]["raw_vectors"] == r["size"] * scale.DIMENSION * 4
        assert r["build_s"] >= r["lexical_build_s"] > 0
        assert r["lexical_p50_ms"] > 0 and r["vector_p50_ms"] <= r["vector_p95_ms"]
    for name in ("scale-build.png", "scale-latency.png", "scale-memory.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_scale_texts_follow_zipf_with_stop_words_on_top() -> None:
    import numpy as np

    texts = scale._texts(2000, np.random.default_rng(0))
    words = " ".join(texts).split()
    assert len(texts) == 2000
    assert all(scale.WORDS[0] <= len(t.split()) <= scale.WORDS[1] for t in texts)
    counts: dict[str, int] = {}
    for word in words:
        counts[word] = counts.get(word, 0) + 1
    ranked = sorted(counts, key=counts.__getitem__, reverse=True)
    assert ranked[0] == "the"  # rank 1 of a Zipf law is about twice rank 2
    assert 1.5 < counts["the"] / counts[ranked[1]] < 2.6


def test_sparql_stores_agree_on_every_query(tmp_path: Path) -> None:
    build_index([CORPUS], tmp_path / "index", embedder=HashingEmbedder())
    graph = tmp_path / "index" / "current" / "graph.ttl"
    out = tmp_path / "sparql.json"
    results = sparql_stores.main(
        ["--graph", str(graph), "--repeat", "3", "--budget", "1", "--json", str(out)]
    )
    assert set(results["engines"]) == set(sparql_stores.ENGINES)
    assert results == json.loads(out.read_text())
    for query in sparql_stores.QUERIES:
        rows = {e: r["queries"][query]["rows"] for e, r in results["engines"].items()}
        assert len(set(rows.values())) == 1, (query, rows)
    engine = results["engines"]["pyoxigraph"]
    for query in ("concept by label", "passages mentioning a concept", "count aggregate"):
        assert engine["queries"][query]["rows"] > 0, query
    assert all(r["load_s"] > 0 for r in results["engines"].values())


@pytest.mark.model
def test_onnx_encode_times_both_runtimes(tmp_path: Path, beir: Path) -> None:
    out = tmp_path / "encode.json"
    rows = onnx_encode.main(
        [
            "--queries", str(beir / "queries.jsonl"),
            "--corpus", str(beir / "corpus.jsonl"),
            "--sizes", "1,2",
            "--batches", "2",
            "--json", str(out),
        ]
    )  # fmt: skip
    assert rows == json.loads(out.read_text())
    assert [(r["texts"], r["batch"]) for r in rows] == [
        ("queries", 1),
        ("queries", 2),
        ("passages", 1),
        ("passages", 2),
    ]
    for row in rows:
        assert all(row[f"{name}_ms"] > 0 for name in ("torch", "onnx-1t", "onnx-2t"))


def test_graph_load_times_both_ways_of_loading(tmp_path: Path) -> None:
    build_index([CORPUS], tmp_path / "index", embedder=HashingEmbedder())
    graph = tmp_path / "index" / "current" / "graph.ttl"
    rounds = graph_load.main(["--graph", str(graph), "--rounds", "1"])
    assert len(rounds) == 1 and rounds[0]["parse_twice_s"] > 0 and rounds[0]["read_once_s"] > 0


def test_compare_txtai_keeps_indexes_only_in_a_new_or_empty_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "earlier.txt").write_text("kept from before\n")
    for args in (["--keep", str(tmp_path)], ["--keep", str(tmp_path / "earlier.txt")]):
        with pytest.raises(SystemExit) as refused:
            compare_txtai.main(args)
        assert refused.value.code == 2
        assert "must be a new or empty folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        compare_txtai.main(["--keep", str(tmp_path / "new"), "--index", str(tmp_path)])
    assert "--keep goes with a full run" in capsys.readouterr().err
    assert (tmp_path / "earlier.txt").read_text() == "kept from before\n"


def test_build_stages_times_a_rebuild_that_reuses_every_vector(tmp_path: Path) -> None:
    index = tmp_path / "index"
    build_index([CORPUS], index, embedder=HashingEmbedder())
    before = sorted(p.name for p in index.iterdir())
    results = build_stages.run(index, CORPUS, HashingEmbedder(), repeat=2)
    assert len(results["runs"]) == 2 and results["passages"] > 0
    assert {"chunk", "embed", "link", "graph", "write", "total"} <= set(results["median_s"])
    assert all(r["total"] >= r["link"] > 0 for r in results["runs"])
    assert sorted(p.name for p in index.iterdir()) == before  # a copy was rebuilt, not the index

    class Other(HashingEmbedder):
        name = "another-model"

    with pytest.raises(ValueError, match="passages were embedded"):
        build_stages.run(index, CORPUS, Other(), repeat=1)


def test_build_stages_refuses_a_folder_without_an_index(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_stages.main(["--index", str(tmp_path), "--corpus", str(CORPUS)])
    assert exit_info.value.code == 2


def test_interleaved_encoder_returns_the_build_its_own_vectors_and_times_a_bare_encode_beside(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    embedder = HashingEmbedder()
    monkeypatch.setattr(compare_txtai._Interleaved, "SLICE", 3)
    interleaved = compare_txtai._Interleaved(embedder)
    texts = ["a b", "trust builds safety", "vision", "purpose and vision", "x", "leaders lead", "y"]

    vectors = interleaved.encode(texts)

    assert (vectors == embedder.encode(texts)).all()  # in the build's order, whatever the slices
    assert interleaved.slices == 3 and interleaved.texts == len(texts)
    # each slice encoded twice, bare and for the build: 3 + 3 + 1 texts twice, then the check
    assert embedder.calls == [3, 3, 3, 3, 1, 1, len(texts)]
    assert interleaved.bare_s > 0 and interleaved.own_s > 0


@pytest.mark.model
@pytest.mark.server
def test_sparql_starvation_measures_search_and_health_beside_heavy_sparql(
    real_index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench import sparql_starvation

    code = sparql_starvation.main(
        [
            "--index",
            str(real_index),
            "--heavy",
            "4",
            "--samples",
            "10",
            "--settle",
            "0.5",
            "--max-per-client",
            "20",
            "--max-seconds",
            "60",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "/search" in out and "/health" in out and "SPARQL (4 clients" in out

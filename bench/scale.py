"""How build time, memory and search latency grow with the collection: synthetic passages at
10k, 100k and 1M, without the model (its cost is linear and measured by compare_txtai).

Per size, in a fresh child process (so memory figures do not mix):
- vectors: 384-d unit vectors. `--vectors clustered` (the default) draws them from a Gaussian
  mixture on a 48-d subspace plus isotropic noise, which, like sentence embeddings, has a low
  intrinsic dimension; `--vectors uniform` draws them uniformly on the sphere, the worst case
  for any graph index (neighbours are barely nearer than anything else).
- texts: 60-140 words drawn from a Zipf (s = 1) vocabulary of 50,000 words whose most frequent
  ranks are English stop words, as in running text; analysed by leadgraph's own analyser.
- build: `LexicalIndex.build` and `VectorIndex.build` (flat or HNSW by the size threshold in
  indexer/vectors.py), timed apart.
- memory: RSS growth from before the data to after the build (texts dropped), per passage,
  beside the exact bytes of the structures (raw vectors, FAISS index, a flat index's 8-bit scan
  copy, BM25 matrix), and the child's peak RSS.
- search: `VectorIndex.search(q, 10)` one query at a time, p50/p95, and recall@10 against exact
  search (`faiss.knn`), for the index chosen by size and for the other type too (flat or HNSW,
  built after the memory was read), for comparison; `LexicalIndex.search` p50/p95 on 2-5 word
  queries.

    .venv/bin/python -m bench.scale [--sizes 10000,100000,1000000] [--vectors clustered]
        [--json docs/img/scale.json] [--plots docs/img] [--merge earlier.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.children import rss, run_child

DIMENSION = 384
LATENT = 48  # intrinsic dimension of the clustered vectors
CLUSTERS = 1000
NOISE = 0.25  # share of each clustered vector's norm that is isotropic noise
VOCABULARY = 50_000
WORDS = (60, 140)  # words per passage, uniform
K = 10
SEED = 20261123
IMG = Path(__file__).resolve().parents[1] / "docs" / "img"


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--vectors", choices=["clustered", "uniform"], default="clustered")
    parser.add_argument("--queries", type=int, default=200, help="queries timed per size")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--plots", type=Path, default=None, help="write scale-*.png here")
    parser.add_argument(
        "--merge",
        type=Path,
        default=None,
        help="a JSON of earlier results: its sizes not measured in this run join the output",
    )
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.one is not None:  # the child: one size, the result as JSON on stdout
        print(json.dumps(measure(args.one, args.vectors, args.queries)))
        return []
    results = []
    print(f"{args.vectors} vectors, {args.queries} queries per size")
    _header()
    for size in (int(s) for s in args.sizes.split(",")):
        child = ["--one", str(size), "--vectors", args.vectors, "--queries", str(args.queries)]
        result = run_child("bench.scale", child, f"size {size}")
        results.append(result)
        _row(result)
    if args.merge is not None:
        measured = {r["size"] for r in results}
        earlier = json.loads(args.merge.read_text(encoding="utf-8"))
        for result in earlier if isinstance(earlier, list) else [earlier]:
            if result["size"] not in measured:
                print("merged from", args.merge)
                _row(result)
                results.append(result)
        results.sort(key=lambda r: int(r["size"]))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    if args.plots is not None:
        plot(results, args.plots)
    return results


def measure(size: int, kind: str, queries: int) -> dict[str, Any]:
    """Builds and searches one synthetic collection of `size` passages."""
    import faiss

    from leadgraph.indexer.lexical import LexicalIndex
    from leadgraph.indexer.vectors import (
        HNSW_EF_CONSTRUCTION,
        HNSW_EF_SEARCH,
        HNSW_M,
        HNSW_THRESHOLD,
        VectorIndex,
    )

    rng = np.random.default_rng(SEED)
    gc.collect()
    rss_before = rss()

    texts = _texts(size, rng)
    lexical_queries = _lexical_queries(queries, rng)
    started = time.perf_counter()
    lexical = LexicalIndex.build(texts)
    lexical_build = time.perf_counter() - started
    del texts
    gc.collect()

    vectors, query_vectors = _vectors(size, queries, kind, rng)
    started = time.perf_counter()
    index = VectorIndex.build(vectors)
    vector_build = time.perf_counter() - started
    gc.collect()
    rss_after = rss()

    structures = {
        "raw_vectors": int(vectors.nbytes),
        "faiss": int(faiss.serialize_index(index._index).nbytes),
        "bm25": int(_sparse_bytes(lexical._weights)),
    }
    if index._scan is not None:  # a flat index's 8-bit scan copy, made at load
        structures["scan"] = int(faiss.serialize_index(index._scan).nbytes)
    _, exact = faiss.knn(query_vectors, vectors, K, metric=faiss.METRIC_INNER_PRODUCT)
    searches = {index.kind: _vector_search(index, query_vectors, exact)}
    # the other index type at this size, for comparison (after the memory was read)
    other_build = None
    if index.kind == "flat":
        started = time.perf_counter()
        other = VectorIndex.build(vectors, hnsw_threshold=1)
        other_build = time.perf_counter() - started
    else:
        other = VectorIndex.build(vectors, hnsw_threshold=size + 1)
    searches[other.kind] = _vector_search(other, query_vectors, exact)
    del other
    lexical_ms = []
    for query in lexical_queries:
        started = time.perf_counter()
        lexical.search(query, K)
        lexical_ms.append((time.perf_counter() - started) * 1000.0)
    chosen_ms, recall = searches[index.kind]
    result = {
        "size": size,
        "vectors": kind,
        "index": index.kind,
        "hnsw_threshold": HNSW_THRESHOLD,
        "hnsw": {"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION, "efSearch": HNSW_EF_SEARCH},
        "lexical_build_s": round(lexical_build, 2),
        "vector_build_s": round(vector_build, 2),
        "build_s": round(lexical_build + vector_build, 2),
        "rss_delta_bytes": rss_after - rss_before,
        "bytes_per_passage": round((rss_after - rss_before) / size),
        "structure_bytes": structures,
        "structure_bytes_per_passage": round(sum(structures.values()) / size),
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "vector_p50_ms": round(_percentile(chosen_ms, 50), 3),
        "vector_p95_ms": round(_percentile(chosen_ms, 95), 3),
        "recall_at_10": round(recall, 4),
        "lexical_p50_ms": round(_percentile(lexical_ms, 50), 3),
        "lexical_p95_ms": round(_percentile(lexical_ms, 95), 3),
        "hnsw_build_s": round(vector_build if other_build is None else other_build, 2),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    for name, (times, kind_recall) in searches.items():
        result[f"{name}_p50_ms"] = round(_percentile(times, 50), 3)
        result[f"{name}_p95_ms"] = round(_percentile(times, 95), 3)
        result[f"{name}_recall_at_10"] = round(kind_recall, 4)
    return result


def _vector_search(
    index: Any, queries: npt.NDArray[np.float32], exact: npt.NDArray[np.int64]
) -> tuple[list[float], float]:
    """Milliseconds per single-query search, and mean recall@K against `exact` rows."""
    for query in queries[:5]:
        index.search(query, K)
    times, hits = [], 0
    for query, truth in zip(queries, exact, strict=True):
        started = time.perf_counter()
        _, rows = index.search(query, K)
        times.append((time.perf_counter() - started) * 1000.0)
        hits += len(set(rows.tolist()) & set(truth.tolist()))
    return times, hits / (K * len(queries))


def _vectors(
    size: int, queries: int, kind: str, rng: np.random.Generator
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """`size` passage vectors and `queries` query vectors (new draws, not copies), unit length."""
    out = np.empty((size + queries, DIMENSION), dtype=np.float32)
    if kind == "uniform":
        for start in range(0, len(out), 100_000):
            block = out[start : start + 100_000]
            block[:] = rng.standard_normal(block.shape, dtype=np.float32)
    else:
        basis, _ = np.linalg.qr(rng.standard_normal((DIMENSION, LATENT)))
        basis = basis.T.astype(np.float32)  # LATENT orthonormal rows in the full space
        centres = rng.standard_normal((CLUSTERS, LATENT), dtype=np.float32)
        for start in range(0, len(out), 100_000):
            block = out[start : start + 100_000]
            latent = centres[rng.integers(0, CLUSTERS, len(block))]
            latent += 0.5 * rng.standard_normal(latent.shape, dtype=np.float32)
            block[:] = latent @ basis
            block /= np.linalg.norm(block, axis=1, keepdims=True)
            noise = rng.standard_normal(block.shape, dtype=np.float32)
            block += NOISE * noise / np.linalg.norm(noise, axis=1, keepdims=True)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out[:size], np.ascontiguousarray(out[size:])


def _vocabulary() -> list[str]:
    """Stop words first (the most frequent ranks), then made-up words of 2-4 syllables."""
    from leadgraph.indexer.text import STOP_WORDS

    common = ["the", "of", "and", "in", "to", "a", "with", "for", "was", "is", "that", "by"]
    words = common + sorted(STOP_WORDS - set(common))
    onsets = ["b", "c", "d", "f", "g", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "st"]
    vowels = ["a", "e", "i", "o", "u", "ai", "ou", "ea"]
    syllables = [o + v for o in onsets for v in vowels]  # 128 syllables
    seen = set(words)
    n = 0
    while len(words) < VOCABULARY:
        parts, rest = [], n + len(syllables)  # at least two syllables
        while rest:
            rest, r = divmod(rest, len(syllables))
            parts.append(syllables[r])
        word = "".join(parts)
        if word not in seen:
            seen.add(word)
            words.append(word)
        n += 1
    return words


def _zipf_ranks(count: int, rng: np.random.Generator) -> npt.NDArray[np.int64]:
    weights = 1.0 / np.arange(1, VOCABULARY + 1)
    cdf = np.cumsum(weights / weights.sum())
    ranks: npt.NDArray[np.int64] = np.searchsorted(cdf, rng.random(count)).astype(np.int64)
    return np.minimum(ranks, VOCABULARY - 1)


def _texts(size: int, rng: np.random.Generator) -> list[str]:
    vocabulary = np.asarray(_vocabulary(), dtype=object)
    lengths = rng.integers(WORDS[0], WORDS[1] + 1, size)
    ends = np.cumsum(lengths)
    texts: list[str] = []
    for start in range(0, size, 100_000):
        stop = min(size, start + 100_000)
        first = int(ends[start - 1]) if start else 0
        words = vocabulary[_zipf_ranks(int(ends[stop - 1]) - first, rng)].tolist()
        stops = (ends[start:stop] - first).tolist()
        starts = (ends[start:stop] - lengths[start:stop] - first).tolist()
        texts += [" ".join(words[a:b]) for a, b in zip(starts, stops, strict=True)]
    return texts


def _lexical_queries(count: int, rng: np.random.Generator) -> list[str]:
    """2-5 words each, drawn from the same Zipf law past the stop words, as users type."""
    vocabulary = _vocabulary()
    out = []
    for _ in range(count):
        ranks = _zipf_ranks(int(rng.integers(2, 6)) * 3, rng)
        words = [vocabulary[r] for r in ranks if r >= 200][:5]
        out.append(" ".join(words or [vocabulary[1000]]))
    return out


def _sparse_bytes(matrix: Any) -> int:
    return int(matrix.data.nbytes + matrix.indices.nbytes + matrix.indptr.nbytes)


def _percentile(values: Sequence[float], q: float) -> float:
    if q == 50:
        return statistics.median(values)
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def _header() -> None:
    print(
        f"{'passages':>9} {'index':>5} {'build s':>8} {'bm25':>6} {'vec':>6} {'MiB':>6} "
        f"{'B/pass':>7} {'vec p50':>8} {'p95':>6} {'R@10':>6} {'flat p50':>9} {'hnsw p50':>9} "
        f"{'R@10':>6} {'hnsw bld':>9} {'bm25 p50':>9} {'p95':>6}"
    )


def _row(r: dict[str, Any]) -> None:
    print(
        f"{r['size']:>9} {r['index']:>5} {r['build_s']:>8.1f} {r['lexical_build_s']:>6.1f} "
        f"{r['vector_build_s']:>6.1f} {r['rss_delta_bytes'] / 2**20:>6.0f} "
        f"{r['bytes_per_passage']:>7} {r['vector_p50_ms']:>8.2f} {r['vector_p95_ms']:>6.2f} "
        f"{r['recall_at_10']:>6.3f} {r['flat_p50_ms']:>9.2f} {r['hnsw_p50_ms']:>9.2f} "
        f"{r['hnsw_recall_at_10']:>6.3f} {r['hnsw_build_s']:>9.1f} {r['lexical_p50_ms']:>9.2f} "
        f"{r['lexical_p95_ms']:>6.2f}",
        flush=True,
    )


def plot(results: list[dict[str, Any]], folder: Path) -> list[Path]:
    """scale-build.png, scale-latency.png and scale-memory.png in `folder` (log-log axes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    sizes = [r["size"] for r in results]
    kinds = {r["vectors"] for r in results}
    note = f"synthetic passages, {'/'.join(sorted(kinds))} vectors, 2 CPU cores"
    figures = {
        "scale-build.png": (
            "Build time",
            "seconds",
            [
                ("BM25", [r["lexical_build_s"] for r in results]),
                ("vectors (FAISS)", [r["vector_build_s"] for r in results]),
                ("total", [r["build_s"] for r in results]),
            ],
        ),
        "scale-latency.png": (
            "Search latency, one query, k = 10 (p50)",
            "milliseconds",
            [
                ("vector, index chosen by size", [r["vector_p50_ms"] for r in results]),
                ("vector, exact (flat)", [r["flat_p50_ms"] for r in results]),
                ("vector, HNSW", [r["hnsw_p50_ms"] for r in results]),
                ("BM25", [r["lexical_p50_ms"] for r in results]),
            ],
        ),
        "scale-memory.png": (
            "Memory per passage",
            "bytes",
            [
                ("RSS growth", [r["bytes_per_passage"] for r in results]),
                ("structures", [r["structure_bytes_per_passage"] for r in results]),
            ],
        ),
    }
    written = []
    for name, (title, unit, series) in figures.items():
        fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
        for label, values in series:
            ax.plot(sizes, values, marker="o", label=label)
        if name == "scale-latency.png":
            ax.axhline(5.0, color="grey", linestyle="--", linewidth=0.8, label="5 ms target")
            for r in results:
                ax.annotate(
                    f"{r['index']}, R@10 {r['recall_at_10']:.3f}",
                    (r["size"], r["vector_p50_ms"]),
                    textcoords="offset points",
                    xytext=(4, -12),
                    fontsize=7,
                )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("passages")
        ax.set_ylabel(unit)
        ax.set_title(f"{title}\n{note}", fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = folder / name
        handle, scratch = tempfile.mkstemp(prefix=f".{name}.", dir=folder)
        os.close(handle)
        fig.savefig(scratch, format="png")
        plt.close(fig)
        os.chmod(scratch, 0o644)
        os.replace(scratch, path)
        written.append(path)
    return written


if __name__ == "__main__":
    main()

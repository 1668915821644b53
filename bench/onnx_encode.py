"""Encoding time of torch beside onnxruntime on the same weights, by batch size.

Texts are BEIR queries (short) and corpus records (abstracts, long): for each batch size the same
batches go through torch (sentence-transformers, its own thread count) and through the cached
ONNX export with 1 and with 2 intra-op threads, alternating. Prints milliseconds per batch (p50)
and texts per second. This is what `SMALL_BATCH` and `MAX_QUERY_THREADS` in
indexer/onnx_embedder.py are chosen from.

    .venv/bin/python -m bench.onnx_encode [--queries Q.jsonl] [--corpus C.jsonl] \\
        [--sizes 1,8,32] [--batches 10]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "bench" / "scifact"


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--queries", type=Path, default=SCIFACT / "queries.jsonl")
    parser.add_argument("--corpus", type=Path, default=SCIFACT / "corpus.jsonl")
    parser.add_argument("--sizes", default="1,2,4,8,16,32,64")
    parser.add_argument("--batches", type=int, default=10, help="batches timed per size")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

    import onnxruntime

    from leadgraph.indexer.embedder import SentenceTransformerEmbedder
    from leadgraph.indexer.onnx_embedder import (
        MODEL_FILE,
        OnnxEmbedder,
        default_cache_dir,
        fingerprint,
        with_onnx,
    )

    torch_embedder = SentenceTransformerEmbedder()
    onnx = with_onnx(torch_embedder)
    if not isinstance(onnx, OnnxEmbedder):
        raise SystemExit("no usable ONNX export (see the log line above)")
    sizes = [int(s) for s in args.sizes.split(",")]
    needed = max(sizes) * args.batches
    texts = {
        "queries": _texts(args.queries, needed, "text"),
        "passages": _texts(args.corpus, needed, "text"),
    }
    path = default_cache_dir() / fingerprint(torch_embedder) / MODEL_FILE
    runners: dict[str, Callable[[list[str]], object]] = {"torch": torch_embedder.encode}
    for threads in (1, 2):
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.log_severity_level = 3
        session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
        runners[f"onnx-{threads}t"] = OnnxEmbedder(torch_embedder, session).encode_onnx

    rows: list[dict[str, Any]] = []
    print(f"{'texts':<9}{'batch':>6}" + "".join(f"{name:>22}" for name in runners))
    for kind, pool in texts.items():
        for size in sizes:
            batches = [pool[i * size : (i + 1) * size] for i in range(args.batches)]
            for run in runners.values():
                run(batches[0])  # warm-up at this shape
            times: dict[str, list[float]] = {name: [] for name in runners}
            for batch in batches:
                for name, run in runners.items():
                    started = time.perf_counter()
                    run(batch)
                    times[name].append((time.perf_counter() - started) * 1000.0)
            row: dict[str, Any] = {"texts": kind, "batch": size}
            cells = []
            for name in runners:
                p50 = statistics.median(times[name])
                row[f"{name}_ms"] = round(p50, 2)
                cells.append(f"{p50:>9.1f} ms {size / p50 * 1000:>6.0f}/s")
            rows.append(row)
            print(f"{kind:<9}{size:>6}" + "".join(f"{c:>22}" for c in cells), flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return rows


def _texts(path: Path, count: int, field: str) -> list[str]:
    """The first `count` values of `field` in a JSON-lines file, repeated if it is shorter."""
    out: list[str] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                out.append(str(json.loads(line)[field]))
            if len(out) == count:
                break
    if not out:
        raise SystemExit(f"{path}: no records")
    while len(out) < count:
        out += out[: count - len(out)]
    return out


if __name__ == "__main__":
    main()

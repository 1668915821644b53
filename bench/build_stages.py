"""The build around its encoder: a corpus rebuilt into a copy of an index of it, so that every
passage vector is reused and what is timed is all the build does besides the model (read,
chunk, link, search indexes, graph, write; the embed stage only encodes the concepts).

    .venv/bin/python -m bench.build_stages --index /tmp/keep/leadgraph \\
        [--corpus ../shared/bench/scifact/corpus.jsonl] [--repeat 3] [--json F]

`--index` is an index of that corpus built with the default model (`leadgraph index`, or
`bench.compare_txtai --keep DIR`, which leaves one in DIR/leadgraph); it is copied, never
changed. To set an older commit beside this one, run the file with that commit's tree first on
the path, alternating (the script needs only `indexer`):

    git worktree add /tmp/old <commit>
    PYTHONPATH=/tmp/old .venv/bin/python bench/build_stages.py --index /tmp/keep/leadgraph
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "bench" / "scifact"


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--index", type=Path, required=True, help="an index of the corpus")
    parser.add_argument("--corpus", type=Path, default=SCIFACT / "corpus.jsonl")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if not (args.index / "current" / "manifest.json").is_file():
        parser.error(f"--index {args.index}: no published leadgraph index there")
    if not args.corpus.exists():
        parser.error(f"--corpus {args.corpus}: no such file or folder")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from leadgraph.indexer.embedder import DEFAULT_MODEL, SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder(DEFAULT_MODEL)
    model = json.loads((args.index / "current" / "manifest.json").read_text())["model"]
    if model != embedder.name:
        parser.error(f"--index {args.index} was built with {model}, not {embedder.name}")
    results = run(args.index, args.corpus, embedder, repeat=args.repeat)
    _print(results)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return results


def run(index: Path, corpus: Path, embedder: Any, *, repeat: int) -> dict[str, Any]:
    """Per repeat, the seconds of each stage and in all of rebuilding `corpus` into a fresh
    copy of `index`; then the median of each. ValueError when a passage had to be embedded
    (the index is not of this corpus and model, so the model would be timed too)."""
    from leadgraph.indexer.build import build_index

    embedder.encode(["warm up"])  # the first call pays one-off set-up
    runs: list[dict[str, float]] = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="leadgraph-stages-") as scratch:
            copy = Path(scratch) / "index"
            shutil.copytree(index, copy, symlinks=True)
            started = time.perf_counter()
            report = build_index([corpus], copy, embedder=embedder)
            total = time.perf_counter() - started
        if report.embedded:
            raise ValueError(
                f"{report.embedded} passages were embedded: {index} is not an index of "
                f"{corpus} with {embedder.name}"
            )
        runs.append(dict(report.stages) | {"total": round(total, 3)})
        print("  " + ", ".join(f"{k} {v:.1f}" for k, v in runs[-1].items()), flush=True)
    median = {key: round(statistics.median(r[key] for r in runs), 3) for key in runs[0]}
    return {
        "implementation": str(Path(sys.modules["leadgraph.indexer"].__file__ or "").parent),
        "passages": report.manifest.counts["passages"],
        "runs": runs,
        "median_s": median,
    }


def _print(results: dict[str, Any]) -> None:
    print(f"\nindexer of {results['implementation']}, {results['passages']} passages")
    print(f"median of {len(results['runs'])} runs (s):")
    for stage, seconds in results["median_s"].items():
        print(f"  {stage:<16} {seconds:8.2f}")


if __name__ == "__main__":
    try:
        main()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)

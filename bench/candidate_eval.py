"""Precision of the candidate concepts an index proposes (`candidates.json`), against phrases
judged by hand: useful (a term of the field a curator would plausibly add as a concept or an
alternative label) or not.

    .venv/bin/python -m bench.candidate_eval --index /tmp/devidx \\
        [--gold tests/data/leadership_dev_candidates.json] [--show]

`--index` is an index root (its published `current` version is read) or a version folder.
precision@k is the share of useful phrases among the first k proposals (among all of them when
there are fewer than k, as `proposed` says; none, printed n/a, when nothing is proposed: the
miner stops where the evidence does, so a corpus the ontology covers may get an empty list). A
proposal nobody judged counts as not useful and is
counted in `unjudged@50`: judge it (`--show` lists every proposal with its verdict) and add it to
the gold file. Phrases are matched on their stems (`indexer.text.label_key`), so case, plural
and apostrophe variants of a judged phrase share its judgement.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from leadgraph.indexer.text import label_key

GOLD = Path(__file__).resolve().parents[1] / "tests" / "data" / "leadership_dev_candidates.json"
CUTOFFS = (20, 50)


class EvalError(Exception):
    """An input of the evaluation is missing or malformed; the message names it."""


def evaluate(index_dir: Path, gold: Path = GOLD) -> dict[str, float | int | None]:
    """precision@20 and @50 of the proposals of `index_dir` (None when there are none), with
    the counts behind them: `proposed`, `useful@k`, and `unjudged@50` (proposals among the
    first 50 missing from `gold`, counted as not useful)."""
    verdicts = load_gold(gold)
    labels = proposals(index_dir)
    out: dict[str, float | int | None] = {"proposed": len(labels)}
    for k in CUTOFFS:
        top = labels[:k]
        useful = sum(verdicts.get(label_key(label), False) for label in top)
        out[f"precision@{k}"] = round(useful / len(top), 4) if top else None
        out[f"useful@{k}"] = useful
    out["unjudged@50"] = sum(label_key(label) not in verdicts for label in labels[:50])
    return out


def load_gold(path: Path) -> dict[tuple[str, ...], bool]:
    """The judgements of `path` (a JSON list of {"phrase", "useful", "why"}), by phrase key."""
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EvalError(f"{path}: cannot read the judgements: {exc}") from exc
    if not isinstance(rows, list):
        raise EvalError(f"{path}: expected a JSON list of judgements")
    verdicts: dict[tuple[str, ...], bool] = {}
    for n, row in enumerate(rows):
        if not (
            isinstance(row, dict)
            and isinstance(row.get("phrase"), str)
            and isinstance(row.get("useful"), bool)
            and isinstance(row.get("why"), str)
        ):
            raise EvalError(f"{path}: entry {n}: needs a phrase, useful (true/false) and why")
        key = label_key(row["phrase"])
        if not key:
            raise EvalError(f"{path}: entry {n}: the phrase {row['phrase']!r} has no words")
        if verdicts.get(key, row["useful"]) != row["useful"]:
            raise EvalError(f"{path}: entry {n}: {row['phrase']!r} is judged both ways")
        verdicts[key] = row["useful"]
    return verdicts


def proposals(index_dir: Path) -> list[str]:
    """The labels of the candidate concepts of the index at `index_dir`, best first."""
    folder = index_dir / "current" if (index_dir / "current").exists() else index_dir
    path = folder / "candidates.json"
    try:
        rows: Any = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EvalError(f"{path}: no candidates there; index the corpus first ({exc})") from exc
    except ValueError as exc:
        raise EvalError(f"{path}: not JSON: {exc}") from exc
    if not isinstance(rows, list) or not all(
        isinstance(r, dict) and isinstance(r.get("label"), str) for r in rows
    ):
        raise EvalError(f"{path}: expected a list of candidates with labels")
    return [r["label"] for r in rows]


def main(argv: Sequence[str] | None = None) -> dict[str, float | int | None]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--index", type=Path, required=True, help="index root or version folder")
    parser.add_argument("--gold", type=Path, default=GOLD, help="the judgements (JSON)")
    parser.add_argument("--show", action="store_true", help="list every proposal and verdict")
    args = parser.parse_args(argv)
    try:
        results = evaluate(args.index, args.gold)
        if args.show:
            verdicts = load_gold(args.gold)
            for rank, label in enumerate(proposals(args.index), 1):
                verdict = verdicts.get(label_key(label))
                mark = "unjudged" if verdict is None else "useful" if verdict else "-"
                print(f"{rank:3d}  {mark:8s}  {label}")
    except EvalError as exc:
        parser.exit(2, f"candidate_eval: {exc}\n")
    for name, value in results.items():
        print(f"{name:14s} {'n/a' if value is None else value}")
    return results


if __name__ == "__main__":
    main(sys.argv[1:])

"""Concept lookup on labelled queries: is the first item the expected concept, and for a query
that names no concept, is the list empty?

    python -m bench.lookup_eval --index DIR [--queries FILE] [--sweep]

FILE is a JSON list; its items with a `query` and an `expected` concept id (the part of the URI
after the last "/") or "none" are scored, others (the questions of the development set) are
skipped. The default is the development set's questions.json. A query is right when

- its first item is the expected concept or a narrower one, at any depth: as the ontology grows,
  "delegation" becomes a concept narrower than Empowerment, which is still the right answer;
- or, for `none`, when the list is empty (GET /concepts answers "no such concept").

The development set was written against a 49-concept ontology, so some of its `none` queries
name what the ontology now models. OVERRIDES gives, for those items, the concept now expected;
an override is applied only when one of its concepts exists in the loaded index, and both
figures are printed: raw (the set as written) and with the overrides.

`--sweep` prints the accuracy for each semantic threshold (cosine, 0.30..0.80) over the same
queries, computed from one ranking per query with the weak matches kept: how
`app.services.lookup.SEMANTIC_MIN_COSINE` was chosen on tests/data/lookup_queries.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leadgraph.app.services.concepts import ConceptService
from leadgraph.app.services.lookup import SEMANTIC_MIN_COSINE, WEAK_FLOOR_COSINE, Match
from leadgraph.indexer.embedder import Embedder, SentenceTransformerEmbedder
from leadgraph.indexer.errors import CorpusError
from leadgraph.indexer.store import Index, load_index

DEFAULT_QUERIES = (
    Path(__file__).resolve().parents[2] / "shared" / "bench" / "leadership-dev" / "questions.json"
)
NONE = "none"
# development-set items whose `none` the grown ontology now answers: item id -> (the query as
# the set writes it, concept ids that now answer it, the first one present in the index wins)
OVERRIDES: dict[str, tuple[str, tuple[str, ...]]] = {
    "c03": ("EQ", ("EmotionalIntelligence",)),
    "c04": ("DEI", ("DiversityEquityInclusion", "DiversityAndInclusion", "Inclusion")),
    "c27": ("burnout", ("Burnout", "Wellbeing", "EmployeeWellbeing")),
    "c28": ("succession planning", ("SuccessionPlanning",)),
    "c29": ("change management", ("ChangeManagement",)),
    "c30": ("conflict resolution", ("ConflictResolution", "ConflictManagement", "Conflict")),
}


@dataclass(frozen=True)
class Verdict:
    id: str
    query: str
    expected: str  # as written
    wanted: str  # after an override
    top: Match | None
    right: bool  # against `expected`
    right_overridden: bool  # against `wanted`
    category: str


def read_queries(path: Path) -> list[dict[str, Any]]:
    """The scored items of a JSON list (those with `query` and `expected`)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CorpusError(path, f"cannot read queries ({exc})") from exc
    if not isinstance(data, list):
        raise CorpusError(path, "expected a JSON list of {query, expected} items")
    items = [x for x in data if isinstance(x, dict) and "query" in x and "expected" in x]
    for n, item in enumerate(items, 1):
        if not isinstance(item["query"], str) or not isinstance(item["expected"], str):
            raise CorpusError(path, f"item {n}: query and expected must be strings")
    return items


def narrower_closure(index: Index, concept_id: str) -> set[str]:
    """Ids of `concept_id` and every concept narrower than it, at any depth."""
    by_id = {c.id: c for c in index.concepts.values() if not c.candidate}
    children: dict[str, set[str]] = {uri: set() for uri in index.concepts}
    for c in by_id.values():
        for b in c.broader:
            children.setdefault(b, set()).add(c.uri)
        for n in c.narrower:
            children[c.uri].add(n)
    if concept_id not in by_id:
        return {concept_id}
    seen = {by_id[concept_id].uri}
    frontier = [by_id[concept_id].uri]
    while frontier:
        uri = frontier.pop()
        for child in children.get(uri, ()):
            if child not in seen:
                seen.add(child)
                frontier.append(child)
    return {index.concepts[uri].id for uri in seen if uri in index.concepts}


def _wanted(index: Index, item: dict[str, Any]) -> str:
    override = OVERRIDES.get(str(item.get("id", "")))
    if override is None or override[0] != item["query"]:
        return str(item["expected"])
    present = {c.id for c in index.concepts.values() if not c.candidate}
    return next((cid for cid in override[1] if cid in present), str(item["expected"]))


def _judge(index: Index, top: Match | None, expected: str) -> bool:
    if expected == NONE:
        return top is None
    return top is not None and top.entry.id in narrower_closure(index, expected)


def judge(service: ConceptService, queries: Sequence[dict[str, Any]]) -> list[Verdict]:
    """Each query's first match, as GET /concepts returns it, and its verdicts."""
    index = service.index
    out = []
    for n, item in enumerate(queries, 1):
        matches = service.match(item["query"])
        top = matches[0] if matches else None
        wanted = _wanted(index, item)
        out.append(
            Verdict(
                id=str(item.get("id", n)),
                query=item["query"],
                expected=item["expected"],
                wanted=wanted,
                top=top,
                right=_judge(index, top, item["expected"]),
                right_overridden=_judge(index, top, wanted),
                category=str(item.get("category", "")),
            )
        )
    return out


def totals(verdicts: Sequence[Verdict]) -> dict[str, float | int]:
    n = len(verdicts)
    right = sum(v.right for v in verdicts)
    right_over = sum(v.right_overridden for v in verdicts)
    nones = [v for v in verdicts if v.expected == NONE]
    return {
        "queries": n,
        "right": right,
        "wrong": n - right,
        "accuracy": round(right / n, 4) if n else 0.0,
        "expected_none": len(nones),
        "none_right": sum(v.right for v in nones),
        "overrides_applied": sum(v.wanted != v.expected for v in verdicts),
        "right_with_overrides": right_over,
        "accuracy_with_overrides": round(right_over / n, 4) if n else 0.0,
        "semantic_min_cosine": SEMANTIC_MIN_COSINE,
    }


def _service(index_dir: Path, embedder: Embedder | None) -> ConceptService:
    index = load_index(index_dir)
    return ConceptService(index, embedder or SentenceTransformerEmbedder(index.manifest.model))


def evaluate(
    index_dir: Path, queries: list[dict[str, Any]], *, embedder: Embedder | None = None
) -> dict[str, float | int]:
    """Totals of the lookup of `queries` over the index at `index_dir`, with the index's own
    model unless `embedder` is given: right, wrong, accuracy, and the same with OVERRIDES."""
    return totals(judge(_service(index_dir, embedder), queries))


def sweep(
    service: ConceptService, queries: Sequence[dict[str, Any]], thresholds: Sequence[float]
) -> list[tuple[float, int]]:
    """(threshold, queries right against `expected`) for each semantic threshold: the first
    match of a query at threshold t is its first lexical match or semantic one of cosine >= t."""
    index = service.index
    ranked = [service.matcher.rank(item["query"])[0] for item in queries]
    out = []
    for t in thresholds:
        right = 0
        for item, matches in zip(queries, ranked, strict=True):
            kept = [m for m in matches if m.kind != "semantic" or (m.cosine or 0.0) >= t]
            right += _judge(index, kept[0] if kept else None, item["expected"])
        out.append((t, right))
    return out


def best_threshold(results: Sequence[tuple[float, int]]) -> float:
    """The middle of the longest run of consecutive thresholds of best accuracy."""
    best = max(r for _, r in results)
    runs: list[list[float]] = [[]]
    for t, r in results:
        if r == best:
            runs[-1].append(t)
        elif runs[-1]:
            runs.append([])
    longest = max(runs, key=len)
    return round(longest[len(longest) // 2], 2)


def _describe(m: Match | None) -> str:
    if m is None:
        return "(empty)"
    cosine = f" cos {m.cosine:.2f}" if m.cosine is not None else ""
    return f"{m.entry.id} [{m.kind} {m.score:.3f}{cosine}]"


def main(argv: Sequence[str] | None = None) -> dict[str, float | int]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, required=True, help="index root folder")
    parser.add_argument("--queries", type=Path, default=DEFAULT_QUERIES)
    parser.add_argument("--sweep", action="store_true", help="accuracy per semantic threshold")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        queries = read_queries(args.queries)
        service = _service(args.index, None)
    except (CorpusError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    verdicts = judge(service, queries)
    for v in verdicts:
        verdict = "right" if v.right else "WRONG"
        note = ""
        if v.wanted != v.expected:
            verdict_o = "right" if v.right_overridden else "WRONG"
            note = f"  (override: {v.wanted} -> {verdict_o})"
        print(
            f"{v.id:>5}  {v.query[:32]:32}  {v.expected:24}  {_describe(v.top):48}  {verdict}{note}"
        )
    results = totals(verdicts)
    kinds = Counter(v.top.kind if v.top else "empty" for v in verdicts)
    print("first items by kind: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    categories = sorted({v.category for v in verdicts if v.category})
    for category in categories:
        group = [v for v in verdicts if v.category == category]
        print(f"  {category:14} {sum(v.right for v in group)}/{len(group)}")
    print(
        f"lookups right: {results['right']}/{results['queries']} ({results['accuracy']:.3f}) raw; "
        f"{results['right_with_overrides']}/{results['queries']} "
        f"({results['accuracy_with_overrides']:.3f}) with {results['overrides_applied']} "
        f"override(s); expected none: {results['none_right']}/{results['expected_none']} empty; "
        f"semantic threshold {SEMANTIC_MIN_COSINE}"
    )
    if args.sweep:
        steps = round((0.80 - WEAK_FLOOR_COSINE) / 0.01)
        thresholds = [round(WEAK_FLOOR_COSINE + 0.01 * i, 2) for i in range(steps + 1)]
        table = sweep(service, queries, thresholds)
        print("threshold  right  accuracy")
        for t, right in table:
            print(f"   {t:.2f}    {right:4d}   {right / len(queries):.3f}")
        print(f"best: {best_threshold(table):.2f} (middle of the longest run of best accuracy)")
    return results


if __name__ == "__main__":
    main()

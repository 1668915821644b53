"""Concept-linking precision and recall against hand labels on the development set.

    python -m bench.mention_eval --index DIR           # an index of the development set
    python -m bench.mention_eval --index DIR --sweep   # semantic precision per threshold, margin

The labels (`tests/data/leadership_dev_mentions.jsonl`, written by hand, offsets and ids only) are
of two kinds:

- `"kind": "mention"`: one mention a linker produced, judged by reading its passage: does the
  passage really speak of the concept, in the sense its definition gives? Lexical mentions are
  keyed by document, concept and span; semantic ones by document, concept and passage span
  (`passage_start`, `passage_end`), so that the labels survive a change of passage ids. A
  produced semantic mention takes the label of the labelled passage of its document and concept
  that overlaps it most, by at least half the shorter of the two.
- `"kind": "sentence"`: a sentence (document, offsets) and every concept of the ontology it
  clearly speaks of, labelled exhaustively, for recall. A pair is found lexically when a lexical
  mention of the concept starts inside the sentence, semantically when the passage holding the
  sentence has a semantic mention of it (a semantic mention is made on a whole passage).

Precision is over the produced mentions that have a label; how many have none is printed beside
it. Lexical precision is also given apart for weak labels (`WEAK_LABEL_SCORE`), and semantic
precision for the two halves of the documents (split by a hash of the id), since the semantic
threshold and margin were chosen on all the labels.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from leadgraph.indexer.errors import LeadgraphError
from leadgraph.indexer.linking import WEAK_LABEL_SCORE, ConceptLinker
from leadgraph.indexer.models import Mention, Passage
from leadgraph.indexer.namespaces import short_id
from leadgraph.indexer.store import Index, load_index

DEFAULT_LABELS = (
    Path(__file__).resolve().parents[1] / "tests" / "data" / "leadership_dev_mentions.jsonl"
)
THRESHOLDS = tuple(round(0.44 + 0.01 * i, 2) for i in range(25))  # 0.44 .. 0.68
MARGINS = (0.0, 0.04, 0.08, 0.10, 0.12, 0.15, 0.20)


@dataclass(frozen=True)
class Labels:
    lexical: dict[tuple[str, str, int, int], bool]  # (document, concept id, start, end) -> right
    semantic: dict[tuple[str, str], list[tuple[int, int, bool]]]  # (document, concept id) -> spans
    sentences: list[tuple[str, int, int, frozenset[str]]]  # document, start, end, concept ids


def read_labels(path: Path = DEFAULT_LABELS) -> Labels:
    """The labels in `path`; ValueError naming the line of a malformed record."""
    lexical: dict[tuple[str, str, int, int], bool] = {}
    semantic: dict[tuple[str, str], list[tuple[int, int, bool]]] = {}
    sentences: list[tuple[str, int, int, frozenset[str]]] = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if row["kind"] == "sentence":
                    sentences.append(
                        (
                            row["document_id"],
                            int(row["start"]),
                            int(row["end"]),
                            frozenset(row["concepts"]),
                        )
                    )
                elif row["method"] == "lexical":
                    key = (row["document_id"], row["concept"], int(row["start"]), int(row["end"]))
                    lexical[key] = bool(row["right"])
                else:
                    span = (int(row["passage_start"]), int(row["passage_end"]), bool(row["right"]))
                    semantic.setdefault((row["document_id"], row["concept"]), []).append(span)
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: not a label record ({exc})") from exc
    return Labels(lexical, semantic, sentences)


def _half(document_id: str) -> str:
    return "a" if int(hashlib.sha256(document_id.encode()).hexdigest(), 16) % 2 == 0 else "b"


def _semantic_label(labels: Labels, document: str, concept: str, passage: Passage) -> bool | None:
    best: tuple[int, bool] | None = None
    for start, end, right in labels.semantic.get((document, concept), ()):
        overlap = min(end, passage.end) - max(start, passage.start)
        if overlap * 2 >= min(end - start, passage.end - passage.start) and (
            best is None or overlap > best[0]
        ):
            best = (overlap, right)
    return None if best is None else best[1]


def _ratio(right: int, total: int) -> float:
    return round(right / total, 4) if total else 0.0


def score_mentions(
    mentions: Iterable[Mention], passages: Sequence[Passage], labels: Labels
) -> dict[str, float | int]:
    """Precision of `mentions` against `labels` and recall over the labelled sentences."""
    by_id = {p.id: p for p in passages}
    counts: dict[str, int] = {}

    def add(name: str, right: bool | None) -> None:
        counts[f"{name}_mentions"] = counts.get(f"{name}_mentions", 0) + 1
        if right is not None:
            counts[f"{name}_labelled"] = counts.get(f"{name}_labelled", 0) + 1
            counts[f"{name}_right"] = counts.get(f"{name}_right", 0) + int(right)

    lexical_spans: dict[tuple[str, str], list[int]] = {}
    semantic_passages: dict[tuple[str, str], list[Passage]] = {}
    for m in mentions:
        passage = by_id[m.passage_id]
        document, concept = passage.document_id, short_id(m.concept_uri)
        if m.method == "lexical":
            assert m.start is not None and m.end is not None
            right = labels.lexical.get((document, concept, m.start, m.end))
            add("lexical", right)
            add("lexical_weak" if m.score == WEAK_LABEL_SCORE else "lexical_strong", right)
            lexical_spans.setdefault((document, concept), []).append(m.start)
        else:
            right = _semantic_label(labels, document, concept, passage)
            add("semantic", right)
            add(f"semantic_docs_{_half(document)}", right)
            semantic_passages.setdefault((document, concept), []).append(passage)
    out: dict[str, float | int] = {}
    for name in (
        "lexical",
        "lexical_strong",
        "lexical_weak",
        "semantic",
        "semantic_docs_a",
        "semantic_docs_b",
    ):
        total, labelled = counts.get(f"{name}_mentions", 0), counts.get(f"{name}_labelled", 0)
        out[f"{name}_mentions"] = total
        out[f"{name}_unlabelled"] = total - labelled
        out[f"{name}_precision"] = _ratio(counts.get(f"{name}_right", 0), labelled)
    pairs = found_lexical = found_semantic = found = 0
    for document, start, end, concepts in labels.sentences:
        for concept in concepts:
            pairs += 1
            lexical = any(start <= s < end for s in lexical_spans.get((document, concept), ()))
            semantic = any(
                p.start < end and start < p.end
                for p in semantic_passages.get((document, concept), ())
            )
            found_lexical += lexical
            found_semantic += semantic
            found += lexical or semantic
    out["recall_sentences"] = len(labels.sentences)
    out["recall_pairs"] = pairs
    out["recall"] = _ratio(found, pairs)
    out["recall_lexical"] = _ratio(found_lexical, pairs)
    out["recall_semantic"] = _ratio(found_semantic, pairs)
    return out


def evaluate(index_dir: Path, labels_path: Path = DEFAULT_LABELS) -> dict[str, float | int]:
    """Lexical and semantic precision of the mentions of the index at `index_dir` over the
    labelled ones (with the counts of unlabelled ones), and recall over the labelled sentences,
    overall and by method."""
    index = load_index(index_dir, verify=False)
    return score_mentions(index.mentions, index.passages, read_labels(labels_path))


def sweep(index: Index, labels: Labels) -> list[tuple[str, float, float, dict[str, float | int]]]:
    """Semantic precision and recall for each threshold and margin, linking the index's own
    passages again from its stored vectors, with sentence vectors (when the index has them) and
    with passage vectors: rows of (level, threshold, margin, scores)."""
    curated = [c for c in index.concepts.values() if not c.candidate]
    rows_of = [index.concept_order.index(c.uri) for c in curated]
    concept_vectors = index.concept_vectors.vectors[rows_of]
    sentences_file = index.path / "sentences.npy"
    levels: list[tuple[str, Any]] = [("passage", None)]
    if sentences_file.is_file():
        levels.insert(0, ("sentence", np.load(sentences_file, allow_pickle=False)))
    out = []
    for level, sentence_vectors in levels:
        for threshold in THRESHOLDS:
            for margin in MARGINS:
                linker = ConceptLinker(
                    curated,
                    None,
                    concept_vectors=concept_vectors,
                    semantic_threshold=threshold,
                    semantic_margin=margin,
                )
                mentions = linker.link(
                    index.passages,
                    index.passage_vectors.vectors,
                    sentence_vectors=sentence_vectors,
                )
                out.append(
                    (level, threshold, margin, score_mentions(mentions, index.passages, labels))
                )
    return out


def _print_scores(scores: dict[str, float | int]) -> None:
    for name in (
        "lexical",
        "lexical_strong",
        "lexical_weak",
        "semantic",
        "semantic_docs_a",
        "semantic_docs_b",
    ):
        total, unlabelled = int(scores[f"{name}_mentions"]), int(scores[f"{name}_unlabelled"])
        value = f"{scores[f'{name}_precision']:.3f}" if total > unlabelled else "  n/a"
        print(
            f"{name + ' precision':28s} {value}  over {total - unlabelled} labelled of {total} "
            f"mentions ({unlabelled} unlabelled)"
        )
    print(
        f"{'recall':28s} {scores['recall']:.3f}  over {scores['recall_pairs']} sentence/concept "
        f"pairs in {scores['recall_sentences']} sentences (lexical {scores['recall_lexical']:.3f}, "
        f"semantic {scores['recall_semantic']:.3f})"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.mention_eval",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--index", type=Path, required=True, help="index folder (of the dev set)")
    parser.add_argument("--labels", type=Path, default=DEFAULT_LABELS, help="label file (JSONL)")
    parser.add_argument(
        "--sweep", action="store_true", help="semantic precision/recall per threshold and margin"
    )
    args = parser.parse_args(argv)
    try:
        labels = read_labels(args.labels)
        index = load_index(args.index, verify=False)
    except (OSError, ValueError, LeadgraphError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _print_scores(score_mentions(index.mentions, index.passages, labels))
    if args.sweep:
        print(
            "\nlevel     threshold margin  semantic: right/labelled precision (unlabelled)  recall"
        )
        for level, threshold, margin, s in sweep(index, labels):
            labelled = int(s["semantic_mentions"]) - int(s["semantic_unlabelled"])
            right = round(float(s["semantic_precision"]) * labelled)
            print(
                f"{level:9s} {threshold:.2f}      {margin:.2f}    {right:3d}/{labelled:<3d} "
                f"{s['semantic_precision']:.3f} ({s['semantic_unlabelled']})"
                f"{'':17s}{s['recall']:.3f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

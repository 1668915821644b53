"""Question answering on a labelled set: answers right / wrong / abstained, unanswerable questions
abstained, and how well the confidence is calibrated (ECE) and separates right from wrong (AUROC).

    .venv/bin/python -m bench.qa_eval                       # the dev set, indexed into a temp dir
    .venv/bin/python -m bench.qa_eval --index /tmp/devidx   # an index of it built before
    .venv/bin/python -m bench.qa_eval --cv                  # cross-validated figures of a refit
    .venv/bin/python -m bench.qa_eval --fit                 # ... and write answer_model.json
    .venv/bin/python -m bench.qa_eval --set tests/data/bundled_direct_questions.json --corpus corpus

Over the dev set alone (the default) it prints the shipped model's answers (in sample: the model
was fitted on these questions, among others; `--cv` gives the honest figures), then the rest of
the dev set's figures: concept lookups (`bench.lookup_eval`), linking precision and recall
(`bench.mention_eval`) and candidate concepts (`bench.candidate_eval`).

The set is a JSON list in the schema of `../shared/bench/leadership-dev/README.md`: answerable
items `{"id", "question", "document", "answer"}` (`answer` verbatim in the document) and
unanswerable ones `{"id", "question", "answerable": false}`; other items are skipped.

An answer is **right** when it comes from the gold document and overlaps the gold span enough:
it covers at least `MIN_RECALL` of the gold characters and at least `MIN_PRECISION` of its own
characters are gold (one sentence of a two-sentence gold span is right; a gold sentence inside
three sentences is not).

`--fit` fits both logistic models of the answer model (`app.services.answer_model`): the ranker
on the candidates of the answerable questions (a candidate is positive when it would be a right
answer), the confidence model on every question (positive when the ranker's best candidate is
right). Reported figures are **cross-validated**: the documents are split into `FOLDS` groups,
each question is scored by models fitted without its document's group (unanswerable questions
are spread over the groups in turn), so no question is scored by a model that saw it. The
shipped model is then fitted on everything.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DEV = Path(__file__).resolve().parents[2] / "shared" / "bench" / "leadership-dev"
DEV_EXTRA = Path(__file__).resolve().parent / "data" / "leadership_dev_extra.json"
BUNDLED = Path(__file__).resolve().parents[1] / "corpus"
TEST_DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
# what --fit learns from: the dev set's questions, ours about its articles, and two sets of ours
# about corpus/ (one paraphrased away from the text, one asked as a reader of it would)
FIT_SETS = [
    DEV / "questions.json",
    DEV_EXTRA,
    TEST_DATA / "bundled_questions.json",
    TEST_DATA / "bundled_direct_questions.json",
]
MODEL_PATH = Path(__file__).resolve().parents[1] / "app" / "services" / "answer_model.json"
MIN_RECALL = 0.5
MIN_PRECISION = 0.34
# The ranker is taught the tighter spans: a candidate is a positive example when at least this
# share of it is gold (when no candidate is, the right ones by MIN_PRECISION are).
TRAIN_PRECISION = 0.5
FOLDS = 10
K = 5  # passages retrieved, as /ask's default
L2 = 1.0  # ridge penalty of both logistic fits, on standardised features
ECE_BINS = 10


@dataclass
class Item:
    id: str
    question: str
    document: str | None  # None: unanswerable
    start: int = 0
    end: int = 0


def read_set(path: Path, documents: dict[str, str]) -> list[Item]:
    """The questions of `path`: an answerable item gives its answer verbatim (`answer`) or by
    offsets into the document text (`start`, `end`), so a set about text we may not copy
    needs none of it."""
    items = []
    for raw in json.loads(path.read_text(encoding="utf-8")):
        if "question" not in raw:
            continue
        if raw.get("answerable", True) is False:
            items.append(Item(raw["id"], raw["question"], None))
            continue
        if raw["document"] not in documents:
            raise SystemExit(f"{path}: {raw['id']}: no document {raw['document']!r} in the index")
        text = documents[raw["document"]]
        if "answer" in raw:
            start = text.find(raw["answer"])
            if start < 0:
                raise SystemExit(f"{path}: {raw['id']}: answer not found in {raw['document']}")
            end = start + len(raw["answer"])
        else:
            start, end = int(raw["start"]), int(raw["end"])
            if not 0 <= start < end <= len(text):
                raise SystemExit(f"{path}: {raw['id']}: offsets {start}:{end} out of range")
        items.append(Item(raw["id"], raw["question"], raw["document"], start, end))
    return items


def is_right(
    item: Item, document: str, start: int, end: int, *, precision: float = MIN_PRECISION
) -> bool:
    if item.document is None or document != item.document:
        return False
    overlap = max(0, min(end, item.end) - max(start, item.start))
    return overlap >= MIN_RECALL * (item.end - item.start) and overlap >= precision * (end - start)


# --- logistic regression (Newton's method with a ridge penalty) ------------------------------


def fit_logistic(
    x: np.ndarray, y: np.ndarray, l2: float = L2, weights: np.ndarray | None = None
) -> dict[str, Any]:
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = np.hstack([np.ones((len(x), 1)), (x - mean) / scale])
    w = np.ones(len(x)) if weights is None else weights
    beta = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], l2)
    penalty[0] = 0.0  # the intercept is not shrunk
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ beta, -40, 40)))
        gradient = z.T @ (w * (p - y)) + penalty * beta
        hessian = (z * (w * p * (1 - p))[:, None]).T @ z + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return {
        "mean": mean.tolist(),
        "scale": scale.tolist(),
        "coef": beta[1:].tolist(),
        "intercept": float(beta[0]),
    }


def fit_conditional_logit(
    groups: Sequence[tuple[np.ndarray, np.ndarray]], l2: float | None = None
) -> dict[str, Any]:
    """Scores w . (x - mean) / scale whose softmax over each group's rows puts as much mass as
    possible on its positive rows: maximises sum over groups of ln(sum of positive shares),
    with a ridge penalty. Groups without a positive row are left out."""
    from scipy.optimize import minimize

    l2 = L2 if l2 is None else l2

    kept = [(x, y) for x, y in groups if y.sum() > 0]
    stacked = np.vstack([x for x, _ in kept])
    mean = stacked.mean(axis=0)
    scale = stacked.std(axis=0)
    scale[scale < 1e-9] = 1.0
    standard = [((x - mean) / scale, y.astype(bool)) for x, y in kept]

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total = 0.5 * l2 * float(w @ w)
        gradient = l2 * w
        for z, positive in standard:
            s = z @ w
            s = s - s.max()
            e = np.exp(s)
            p = e / e.sum()
            mass = p[positive].sum()
            total -= math.log(max(mass, 1e-300))
            # d/dw of -ln(sum_pos p) = E_p[z] - E_{p | positive}[z]
            q = np.where(positive, p, 0.0) / max(mass, 1e-300)
            gradient = gradient + (p - q) @ z
        return total, gradient

    result = minimize(loss, np.zeros(stacked.shape[1]), jac=True, method="L-BFGS-B")
    return {
        "mean": mean.tolist(),
        "scale": scale.tolist(),
        "coef": result.x.tolist(),
        "intercept": 0.0,
    }


def ece(p: np.ndarray, y: np.ndarray, bins: int = ECE_BINS) -> float:
    """Expected calibration error over equal-width bins of confidence."""
    total = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = (p >= lo) & ((p < hi) if b < bins - 1 else (p <= hi))
        if inside.any():
            total += inside.sum() / len(p) * abs(p[inside].mean() - y[inside].mean())
    return float(total)


def auroc(p: np.ndarray, y: np.ndarray) -> float:
    """Probability that a right answer gets a higher confidence than a wrong one (ties half)."""
    pos, neg = p[y == 1], p[y == 0]
    if not len(pos) or not len(neg):
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


# --- running the service ---------------------------------------------------------------------


def _services(index: Path, threshold: float | None, *, fitting: bool = False) -> Any:
    """The service's objects over `index`; when `fitting`, with an answer model that scores
    nothing (the features do not depend on it, and the shipped one may not fit the code)."""

    from leadgraph.app.config import Settings
    from leadgraph.app.deps import Services
    from leadgraph.app.services.answer_model import CONFIDENCE_FEATURES, AnswerModel
    from leadgraph.app.services.answers import FEATURES
    from leadgraph.app.state import load_resources, query_embedder
    from leadgraph.indexer.embedder import SentenceTransformerEmbedder

    settings = (
        Settings(index=index)
        if threshold is None
        else Settings(index=index, answer_threshold=threshold)
    )
    embedder = SentenceTransformerEmbedder(settings.model)
    resources = load_resources(settings, query_embedder(embedder, settings))
    if not fitting:
        return Services.build(resources)

    def flat(names: tuple[str, ...]) -> dict[str, Any]:
        n = len(names)
        return {
            "features": list(names),
            "mean": [0.0] * n,
            "scale": [1.0] * n,
            "coef": [0.0] * n,
            "intercept": 0.0,
        }

    neutral = AnswerModel.load({"ranker": flat(FEATURES), "confidence": flat(CONFIDENCE_FEATURES)})
    services = Services.build(resources, model=neutral)
    return services


def _index(corpora: Sequence[Path], scratch: Path) -> Path:
    from leadgraph.indexer.build import build_index
    from leadgraph.indexer.embedder import SentenceTransformerEmbedder

    root = scratch / "index"
    build_index(list(corpora), root, embedder=SentenceTransformerEmbedder(), progress=False)
    return root


@dataclass
class Case:
    item: Item
    spans: list[tuple[int, int, int]]  # (passage row, start, end) per candidate
    documents: list[str]
    features: np.ndarray
    labels: np.ndarray  # per candidate: would it be a right answer
    named_missing_all: float
    cos_passage_best: float
    targets: np.ndarray  # per candidate: is it what the ranker is taught to choose
    kind: str  # of the question


def analyse(services: Any, items: Sequence[Item], k: int) -> list[Case]:
    cases = []
    for item in items:
        a = services.qa.analyze(item.question, k=k)
        labels = np.asarray(
            [is_right(item, c.document_id, c.start, c.end) for c in a.candidates], dtype=np.float64
        )
        tight = np.asarray(
            [
                is_right(item, c.document_id, c.start, c.end, precision=TRAIN_PRECISION)
                for c in a.candidates
            ],
            dtype=np.float64,
        )
        cases.append(
            Case(
                item,
                [(c.passage_row, c.start, c.end) for c in a.candidates],
                [c.document_id for c in a.candidates],
                a.features,
                labels,
                a.named_missing_all,
                a.cos_passage_best,
                tight if tight.any() else labels,
                a.question.kind,
            )
        )
    return cases


def _fit(cases: Sequence[Case]) -> dict[str, Any]:
    from leadgraph.app.services.answer_model import CONFIDENCE_FEATURES, Logistic, summarize
    from leadgraph.app.services.answers import FEATURES

    ranked = [c for c in cases if c.item.document is not None and len(c.features)]
    ranker = fit_conditional_logit([(c.features, c.targets) for c in ranked])
    model = Logistic.from_json({"features": list(FEATURES), **ranker}, FEATURES)
    rows, labels = [], []
    for c in cases:
        if not len(c.features):
            continue
        best, row = summarize(
            c.spans,
            c.features,
            model.logit(c.features),
            named_missing_all=c.named_missing_all,
            cos_passage_best=c.cos_passage_best,
            kind=c.kind,
        )
        rows.append(row)
        labels.append(float(c.labels[best]) if c.item.document is not None else 0.0)
    confidence = fit_logistic(np.vstack(rows), np.asarray(labels))
    return {
        "ranker": {"features": list(FEATURES), **ranker},
        "confidence": {"features": list(CONFIDENCE_FEATURES), **confidence},
    }


def _predict(model_data: dict[str, Any], case: Case) -> tuple[int, float]:
    """(best candidate, confidence) of one case under a fitted model; (-1, 0) without candidates."""
    from leadgraph.app.services.answer_model import AnswerModel, summarize

    if not len(case.features):
        return -1, 0.0
    model = AnswerModel.load(model_data)
    logits = model.ranker.logit(case.features)
    best, row = summarize(
        case.spans,
        case.features,
        logits,
        named_missing_all=case.named_missing_all,
        cos_passage_best=case.cos_passage_best,
        kind=case.kind,
    )
    return best, float(model.confidence.probability(row[None, :])[0])


def cross_validate(cases: Sequence[Case]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Out-of-fold (confidence, right, answerable) per case."""
    documents = sorted({c.item.document for c in cases if c.item.document is not None})
    fold_of = {d: i % FOLDS for i, d in enumerate(documents)}
    folds = []
    spread = 0
    for c in cases:
        if c.item.document is None:
            folds.append(spread % FOLDS)
            spread += 1
        else:
            folds.append(fold_of[c.item.document])
    confidence = np.zeros(len(cases))
    right = np.zeros(len(cases))
    for fold in range(FOLDS):
        train = [c for c, f in zip(cases, folds, strict=True) if f != fold]
        model = _fit(train)
        for i, (c, f) in enumerate(zip(cases, folds, strict=True)):
            if f == fold:
                best, p = _predict(model, c)
                confidence[i] = p
                right[i] = float(best >= 0 and c.labels[best] == 1.0)
    answerable = np.asarray([c.item.document is not None for c in cases])
    return confidence, right, answerable


def report(
    confidence: np.ndarray, right: np.ndarray, answerable: np.ndarray, threshold: float, label: str
) -> None:
    a = answerable
    answered = confidence >= threshold
    n_ans, n_un = int(a.sum()), int((~a).sum())
    r = int((answered & a & (right == 1)).sum())
    w = int((answered & a & (right == 0)).sum())
    ab = int((~answered & a).sum())
    ua = int((~answered & ~a).sum())

    def share(n: int, of: int) -> str:
        return f"{n} ({n / max(of, 1):.0%})"

    print(f"{label} (threshold {threshold:.2f}):")
    print(f"  best span right, before abstaining: {int((a & (right == 1)).sum())} of {n_ans}")
    print(f"  answerable {n_ans}: right {share(r, n_ans)}, wrong {share(w, n_ans)}, abstained {ab}")
    print(f"  unanswerable {n_un}: abstained {share(ua, n_un)}")
    print(
        f"  calibration over all {len(right)} questions: ECE {ece(confidence, right):.3f}, "
        f"AUROC {auroc(confidence, right):.3f}"
    )
    if a.any():
        print(
            f"  over answerable ones: ECE {ece(confidence[a], right[a]):.3f}, "
            f"AUROC {auroc(confidence[a], right[a]):.3f}"
        )


def sweep(confidence: np.ndarray, right: np.ndarray, answerable: np.ndarray) -> None:
    print("  threshold  right  wrong  abstained  unanswerable abstained")
    for t in np.arange(0.1, 0.95, 0.05):
        answered = confidence >= t
        r = int((answered & answerable & (right == 1)).sum())
        w = int((answered & answerable & (right == 0)).sum())
        ab = int((~answered & answerable).sum())
        ua = int((~answered & ~answerable).sum())
        print(f"  {t:9.2f}  {r:5d}  {w:5d}  {ab:9d}  {ua:5d} / {int((~answerable).sum())}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--set",
        type=Path,
        action="append",
        help="labelled questions (repeatable; default: the dev set's questions.json, and for "
        "--cv and --fit also bench/data/leadership_dev_extra.json and "
        "tests/data/bundled_*questions.json)",
    )
    parser.add_argument(
        "--corpus",
        type=Path,
        action="append",
        help="corpus the sets are about (repeatable; default: the dev set's, and for --cv and "
        "--fit also the bundled corpus/)",
    )
    parser.add_argument("--index", type=Path, help="an index of the corpus (default: built here)")
    parser.add_argument(
        "--cv", action="store_true", help="cross-validated figures of a refit, nothing written"
    )
    parser.add_argument(
        "--fit", action="store_true", help=f"--cv, then refit and write {MODEL_PATH.name}"
    )
    parser.add_argument(
        "--threshold", type=float, help="abstention threshold (default: the service's)"
    )
    parser.add_argument("--k", type=int, default=K)
    parser.add_argument("--verbose", "-v", action="store_true", help="one line per question")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    refit = args.cv or args.fit
    with tempfile.TemporaryDirectory(prefix="leadgraph-qa-") as scratch:
        corpora = args.corpus or ([DEV / "corpus", BUNDLED] if refit else [DEV / "corpus"])
        index = args.index or _index(corpora, Path(scratch))
        services = _services(index, args.threshold, fitting=refit)
        documents = {d.id: d.text for d in services.resources.index.documents.values()}
        sets = args.set or (FIT_SETS if refit else [DEV / "questions.json"])
        items = [item for path in sets for item in read_set(path, documents)]
        if refit:
            _refit(services, sets, items, args.k, write=args.fit)
            return
        print(f"question answering, shipped model ({MODEL_PATH.name}), over {index}:")
        _evaluate(services, items, args.k, args.verbose)
        if args.set is None and args.corpus is None:
            _dev_report(index)


def _refit(
    services: Any, sets: Sequence[Path], items: Sequence[Item], k: int, *, write: bool
) -> None:
    documents = {d.id: d.text for d in services.resources.index.documents.values()}
    threshold = services.qa.threshold
    cases = analyse(services, items, k)
    confidence, right, answerable = cross_validate(cases)
    report(confidence, right, answerable, threshold, f"cross-validated over {FOLDS} document folds")
    sweep(confidence, right, answerable)
    if len(sets) > 1:
        for path in sets:
            ids = {item.id for item in read_set(path, documents)}
            mask = np.asarray([c.item.id in ids for c in cases])
            report(
                confidence[mask],
                right[mask],
                answerable[mask],
                threshold,
                f"  of which {path.name}",
            )
    if not write:
        return
    model = _fit(cases)
    names = ", ".join(path.name for path in sets)
    model["fitted_on"] = f"{names} ({len(items)} questions), k={k}, L2={L2}"
    model["command"] = "python -m bench.qa_eval --fit"
    MODEL_PATH.write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {MODEL_PATH}")


def _dev_report(index: Path) -> None:
    """The rest of the dev set's figures over the same index: concept lookups, linking
    precision against the hand labels, candidate concepts against the hand judgements."""
    from bench import candidate_eval, lookup_eval, mention_eval

    lookups = lookup_eval.evaluate(index, lookup_eval.read_queries(DEV / "questions.json"))
    print("concept lookups (bench.lookup_eval):")
    print("  " + ", ".join(f"{key} {value}" for key, value in lookups.items()))
    mentions = mention_eval.evaluate(index)
    print("concept mentions against the hand labels (bench.mention_eval):")
    print("  " + ", ".join(f"{key} {_short(value)}" for key, value in mentions.items()))
    candidates = candidate_eval.evaluate(index)
    print("candidate concepts against the hand judgements (bench.candidate_eval):")
    print("  " + ", ".join(f"{key} {_short(value)}" for key, value in candidates.items()))


def _short(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _evaluate(services: Any, items: Sequence[Item], k: int, verbose: bool) -> None:
    confidence, right, answerable = [], [], []
    for item in items:
        answer = services.qa.ask(item.question, k=k, min_confidence=0.0)
        first = answer.citations[0] if answer.citations else None
        ok = first is not None and is_right(item, first.document_id, first.start, first.end)
        confidence.append(answer.confidence)
        right.append(float(ok))
        answerable.append(item.document is not None)
        if verbose:
            given = answer.confidence >= services.qa.threshold
            verdict = ("right" if ok else "wrong") if given else "abstain"
            if item.document is None:
                verdict = "answered!" if given else "abstain"
            quote = (first.quote if first else "").replace("\n", " ")[:90]
            question = item.question[:60]
            print(f"{item.id:5} {verdict:9} {answer.confidence:5.2f}  {question:60}  | {quote}")
    report(
        np.asarray(confidence),
        np.asarray(right),
        np.asarray(answerable),
        services.qa.threshold,
        "shipped model",
    )
    sweep(np.asarray(confidence), np.asarray(right), np.asarray(answerable))


if __name__ == "__main__":
    main(sys.argv[1:])

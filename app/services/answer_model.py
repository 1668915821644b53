"""The answer model: two logistic regressions over `answers.FEATURES`, fitted offline.

- The **ranker** scores every candidate span of a question; the best one is the answer. It is a
  conditional logit: the probability of a candidate is the softmax of the scores over the
  question's candidates, fitted so that the right spans take the most of it.
- The **confidence** model turns what is known of that best span and of its rivals into the
  probability that it answers the question. It is fitted on held-out folds of a development
  set, so its output is calibrated: of answers given confidence 0.8, about 8 in 10 are right.
  `/ask` abstains below `Settings.answer_threshold`.

Both are fitted by `python -m bench.qa_eval --fit` and stored in `answer_model.json` beside this
module with the data and command that produced them; nothing is learned while serving.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from .answers import FEATURES

# What the confidence model sees of a question's best candidate, its rivals and the evidence.
CONFIDENCE_FEATURES: tuple[str, ...] = (
    "score",  # the ranker's score of the best candidate
    "share",  # its softmax probability among the question's candidates
    "margin",  # its lead in score over the best candidate of another passage
    "cos_span",
    "cov_span",
    "cov_doc",
    "named_span",
    "named_missing",  # of the best candidate's document
    "named_missing_all",  # share of named terms no retrieved document holds
    "cos_passage_best",  # the best cosine of the question with a retrieved passage
    "shape_fit",
    "agreement",  # share of the plain signals (cosine, MaxSim, coverage) whose best agrees
    "entropy",  # of the candidates' softmax, over its largest possible value
    *(
        f"kind_{kind}"
        for kind in ("quantity", "person", "list", "definition", "reason", "manner", "yes-no")
    ),
)

MODEL_FILE = "answer_model.json"
MAX_MARGIN = 10.0  # the margin of a best candidate without rivals


@dataclass(frozen=True)
class Logistic:
    """p = sigmoid(intercept + coef . (x - mean) / scale)."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def logit(self, x: np.ndarray) -> np.ndarray:
        z: np.ndarray = ((x - self.mean) / self.scale) @ self.coef + self.intercept
        return z

    def probability(self, x: np.ndarray) -> np.ndarray:
        p: np.ndarray = 1.0 / (1.0 + np.exp(-np.clip(self.logit(x), -40.0, 40.0)))
        return p

    def to_json(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], expected: tuple[str, ...]) -> Logistic:
        features = tuple(data["features"])
        if features != expected:
            raise ValueError(
                f"{MODEL_FILE}: fitted on features {features}, the code computes {expected}; "
                "refit with `python -m bench.qa_eval --fit`"
            )
        return cls(
            features,
            np.asarray(data["mean"], dtype=np.float64),
            np.asarray(data["scale"], dtype=np.float64),
            np.asarray(data["coef"], dtype=np.float64),
            float(data["intercept"]),
        )


@dataclass(frozen=True)
class AnswerModel:
    ranker: Logistic
    confidence: Logistic

    @classmethod
    def load(cls, data: dict[str, Any] | None = None) -> AnswerModel:
        """The shipped model, or the one in `data` (the JSON layout of MODEL_FILE)."""
        if data is None:
            package = __name__.rpartition(".")[0]
            text = resources.files(package).joinpath(MODEL_FILE).read_text(encoding="utf-8")
            data = json.loads(text)
        return cls(
            Logistic.from_json(data["ranker"], FEATURES),
            Logistic.from_json(data["confidence"], CONFIDENCE_FEATURES),
        )


def shares(scores: np.ndarray) -> np.ndarray:
    """Softmax of a question's candidate scores."""
    e = np.exp(scores - scores.max())
    out: np.ndarray = e / e.sum()
    return out


def summarize(
    spans: list[tuple[int, int, int]],
    features: np.ndarray,
    scores: np.ndarray,
    *,
    named_missing_all: float,
    cos_passage_best: float,
    kind: str,
) -> tuple[int, np.ndarray]:
    """The best candidate (by ranker score) and its CONFIDENCE_FEATURES row. `spans` are the
    candidates' (passage row, start, end)."""
    best = int(np.argmax(scores))
    row, start, end = spans[best]
    rivals = [
        float(scores[i])
        for i, (r, s, e) in enumerate(spans)
        if r != row and (e <= start or s >= end)
    ]
    margin = min(MAX_MARGIN, float(scores[best]) - max(rivals)) if rivals else MAX_MARGIN
    f = dict(zip(FEATURES, features[best].tolist(), strict=True))
    agree = 0
    for signal in ("cos_span", "maxsim", "cov_span"):
        _, s, e = spans[int(np.argmax(features[:, FEATURES.index(signal)]))]
        agree += s < end and start < e
    p = shares(scores)
    entropy = (
        float(-(p * np.log(np.maximum(p, 1e-12))).sum() / np.log(len(p))) if len(p) > 1 else 0.0
    )
    values = {
        **f,
        "score": float(scores[best]),
        "share": float(p[best]),
        "margin": margin,
        "named_missing_all": named_missing_all,
        "cos_passage_best": cos_passage_best,
        "agreement": agree / 3,
        "entropy": entropy,
        **{
            name: float(name == f"kind_{kind}")
            for name in CONFIDENCE_FEATURES
            if name.startswith("kind_")
        },
    }
    return best, np.asarray([values[name] for name in CONFIDENCE_FEATURES], dtype=np.float64)

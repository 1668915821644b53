"""bench/qa_eval.py: its judging rule, its measures and its fit, so its figures can be trusted."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench import qa_eval
from bench.qa_eval import Item, auroc, ece, fit_conditional_logit, is_right, read_set
from tests.conftest import ROOT


def test_an_answer_is_right_when_it_covers_enough_gold_and_is_mostly_gold() -> None:
    item = Item("q", "?", "doc", 100, 200)  # a gold span of 100 characters
    assert is_right(item, "doc", 100, 200)
    assert is_right(item, "doc", 100, 150)  # half the gold, all of it gold
    assert not is_right(item, "doc", 100, 149)  # less than half the gold
    assert is_right(item, "doc", 50, 250)  # the gold and as much again around it
    assert not is_right(item, "doc", 0, 300)  # the gold inside three times its length
    assert not is_right(item, "other", 100, 200)  # another document
    assert not is_right(Item("u", "?", None), "doc", 100, 200)  # unanswerable


def test_calibration_and_separation_measures() -> None:
    y = np.array([1.0, 1.0, 0.0, 0.0])
    assert auroc(np.array([0.9, 0.8, 0.2, 0.1]), y) == 1.0
    assert auroc(np.array([0.1, 0.2, 0.8, 0.9]), y) == 0.0
    assert auroc(np.full(4, 0.5), y) == 0.5  # ties count half
    assert ece(np.array([1.0, 1.0, 0.0, 0.0]), y) == 0.0
    assert ece(np.full(4, 0.5), y) == 0.0  # 0.5 for a coin toss is calibrated
    assert ece(np.full(4, 1.0), y) == pytest.approx(0.5)


def test_the_conditional_logit_learns_which_feature_marks_the_right_span() -> None:
    rng = np.random.default_rng(0)
    groups = []
    for _ in range(40):
        x = rng.normal(size=(6, 2))
        y = np.zeros(6)
        right = int(np.argmax(x[:, 0]))  # the right span is the one with the most of feature 0
        y[right] = 1.0
        groups.append((x, y))
    fitted = fit_conditional_logit(groups, l2=0.1)
    coef = np.asarray(fitted["coef"])
    assert coef[0] > 1.0 and abs(coef[1]) < coef[0] / 3


def test_a_set_gives_answers_verbatim_or_by_offsets(tmp_path: Path) -> None:
    documents = {"doc": "Trust grows slowly. Budgets are yearly."}
    path = tmp_path / "set.json"
    path.write_text(
        json.dumps(
            [
                {
                    "id": "a",
                    "question": "How does trust grow?",
                    "document": "doc",
                    "answer": "Trust grows slowly.",
                },
                {
                    "id": "b",
                    "question": "When are budgets set?",
                    "document": "doc",
                    "start": 20,
                    "end": 39,
                },
                {"id": "u", "question": "Who is Herzberg?", "answerable": False},
                {"id": "c", "query": "trust", "expected": "Trust"},  # a lookup: skipped
            ]
        )
    )
    items = read_set(path, documents)
    assert [(i.id, i.document, i.start, i.end) for i in items] == [
        ("a", "doc", 0, 19),
        ("b", "doc", 20, 39),
        ("u", None, 0, 0),
    ]
    path.write_text(
        json.dumps([{"id": "x", "question": "?", "document": "doc", "start": 5, "end": 99}])
    )
    with pytest.raises(SystemExit, match="x: offsets 5:99 out of range"):
        read_set(path, documents)


@pytest.mark.model
def test_the_script_reports_a_set_over_an_index(
    real_index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    questions = ROOT / "tests" / "data" / "bundled_direct_questions.json"
    qa_eval.main(["--index", str(real_index), "--set", str(questions), "--corpus", "corpus"])
    out = capsys.readouterr().out
    assert "best span right, before abstaining:" in out
    assert "answerable 30: right" in out and "AUROC" in out

"""The scored gate: the dev corpus scores must stay at or above the floors pinned in
tests/eval_baseline.json.

Raise a floor after an improvement with
`newsfacts eval ../shared/corpus/dev --update-baseline tests/eval_baseline.json` and commit
the diff; lowering one needs `--allow-lower "REASON"` (see README, "Measuring accuracy").
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pipeline.config import Settings
from pipeline.evaluate import GATE_TOLERANCE, METRICS, check_floors, dump_baseline, evaluate_corpus

ROOT = Path(__file__).resolve().parent.parent
BASELINE = Path(__file__).resolve().parent / "eval_baseline.json"
CORPUS_ENV = "NEWSFACTS_DEV_CORPUS"


def dev_corpus() -> Path:
    """$NEWSFACTS_DEV_CORPUS, else ../shared/corpus/dev beside the repository root."""
    return Path(os.environ.get(CORPUS_ENV) or ROOT.parent / "shared" / "corpus" / "dev")


def floors() -> dict[str, float]:
    return dict(json.loads(BASELINE.read_text(encoding="utf-8"))["floors"])


@pytest.fixture(scope="module")
def scores() -> dict[str, float]:
    corpus = dev_corpus()
    if not corpus.is_dir():
        pytest.skip(
            f"dev corpus not found at {corpus}: put a copy of shared/ beside the repository "
            f"(../shared/corpus/dev) or set {CORPUS_ENV}; the accuracy gate did not run"
        )
    return evaluate_corpus(corpus, Settings()).scores()


def test_the_baseline_pins_every_metric_with_sorted_keys() -> None:
    text = BASELINE.read_text(encoding="utf-8")
    assert sorted(floors()) == sorted(METRICS)
    assert text == dump_baseline(json.loads(text)), (
        "write tests/eval_baseline.json with `newsfacts eval … --update-baseline` (sorted keys)"
    )


@pytest.mark.slow
@pytest.mark.parametrize("metric", sorted(METRICS))
def test_score_holds_its_floor(metric: str, scores: dict[str, float]) -> None:
    floor = floors()[metric]
    score = scores.get(metric)
    assert score is not None, f"{metric}: no score measured on {dev_corpus()}"
    assert not check_floors({metric: score}, {metric: floor}), (
        f"{metric} F1 dropped to {score:.4f}, below its floor {floor:.3f} (tolerance "
        f"{GATE_TOLERANCE}) in tests/eval_baseline.json; run `newsfacts eval "
        f"../shared/corpus/dev --show-errors` to see what changed"
    )

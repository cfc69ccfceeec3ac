"""One golden test per sample input: the pipeline's JSON equals the reviewed expected file.

Regenerate with `make golden` (`newsfacts golden --update`) and review `git diff samples/`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.config import Settings
from pipeline.golden import expected_path, run_samples, sample_inputs

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = sample_inputs(ROOT / "samples")


@pytest.fixture(scope="module")
def actual() -> dict[Path, str]:
    settings = Settings(database_url="sqlite://")  # replaced by a temporary file
    return dict(run_samples(SAMPLES, settings, ROOT))


def test_there_are_samples() -> None:
    assert SAMPLES, "no sample inputs under samples/"


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.relative_to(ROOT).as_posix() for s in SAMPLES])
def test_golden(sample: Path, actual: dict[Path, str]) -> None:
    expected = expected_path(sample)
    assert expected.exists(), f"{expected} is missing: run `make golden` and review it"
    assert json.loads(actual[sample]) == json.loads(expected.read_text(encoding="utf-8")), (
        f"{sample} no longer gives {expected.name}; if the change is right, run "
        "`make golden` and review `git diff samples/`"
    )

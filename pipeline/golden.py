"""Golden files: each sample input under samples/ with its expected JSON next to it.

`newsfacts golden` checks them; `newsfacts golden --update` rewrites them so a
change in the facts is reviewed as a JSON diff in git.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipeline.config import Settings
from pipeline.output import result_json
from pipeline.runner import Result, run

INPUT_SUFFIXES = (".html", ".htm", ".txt")
EXPECTED_SUFFIX = ".expected.json"
# Keys that depend on the database a run used, not on the extraction.
VOLATILE_KEYS = ("article_id",)


def sample_inputs(samples_dir: Path) -> list[Path]:
    return sorted(
        p
        for p in samples_dir.rglob("*")
        if p.is_file() and p.suffix in INPUT_SUFFIXES and not p.name.endswith(EXPECTED_SUFFIX)
    )


def expected_path(sample: Path) -> Path:
    return sample.with_name(sample.name + EXPECTED_SUFFIX)


def golden_json(result: Result, root: Path) -> dict[str, Any]:
    obj = result_json(result)
    for key in VOLATILE_KEYS:
        obj.pop(key, None)
    path = Path(result.source)
    if path.is_absolute() and path.is_relative_to(root):
        obj["input"] = path.relative_to(root).as_posix()
    return obj


def dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def run_samples(samples: list[Path], settings: Settings, root: Path) -> Iterator[tuple[Path, str]]:
    """(sample, actual JSON text) for each sample, run into a throw-away SQLite file."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = settings.replace(database_url=f"sqlite:///{tmp}/golden.db")
        report = run([str(s.resolve()) for s in samples], settings)
        for sample, result in zip(samples, report.results, strict=True):
            yield sample, dumps(golden_json(result, root))

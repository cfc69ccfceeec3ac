"""`newsfacts bench` runs end to end (figures are printed, not asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.bench import corpus_pages, variant
from pipeline.cli import main

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def test_copies_are_distinct_articles() -> None:
    pages = corpus_pages([SAMPLES])
    assert pages
    first, copy = variant(pages, 0), variant(pages, len(pages))
    assert first == pages[0]
    assert copy != first
    assert copy.count(b"Copy 1. ") == copy.count(b"<p>") + copy.count(b"<p ")


@pytest.mark.slow
def test_bench_prints_both_sides(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", str(SAMPLES), "--articles", "3", "--workers", "1", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["articles"] == 3
    run = out["newsfacts"]["1"]
    assert run["ok"] == 3
    assert run["failed"] == 0
    assert {"fetch", "clean", "extract", "store"} <= set(run["stages"])
    assert out["hand_written"]["words"] > 0
    assert out["ratio_newsfacts_to_hand"]["1"] > 0


def test_a_copy_cleans_to_a_different_article() -> None:
    from pipeline.clean import clean
    from pipeline.config import Settings
    from pipeline.documents import RawDocument

    pages = corpus_pages([SAMPLES])
    settings = Settings()

    def body_hash(html: bytes) -> str:
        return clean(RawDocument("page", None, html, "html"), settings).content_hash

    assert body_hash(variant(pages, 0)) != body_hash(variant(pages, len(pages)))
    assert body_hash(variant(pages, len(pages))) != body_hash(variant(pages, 2 * len(pages)))

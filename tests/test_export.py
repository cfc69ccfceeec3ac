"""`newsfacts export`: stored articles and facts as JSON lines and CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from extractors.facts import Facts
from pipeline.export import CSV_COLUMNS, export
from pipeline.store import Store

from .test_review import TEXT, cli, facts_of, make_doc

OTHER = "Meta said IBM would spend $80 billion, according to Arvind Krishna."


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with Store(db_url) as opened:
        yield opened


@pytest.fixture
def two_runs(store: Store) -> tuple[int, int]:
    """Run 1 stores two articles; run 2 re-reads only the first, with another title."""
    first = store.begin_run("v1", "model", "1", "cfg")
    store.save(first, make_doc(TEXT), facts_of(TEXT))
    store.save(first, make_doc(OTHER, url="https://example.com/other"), facts_of(OTHER))
    second = store.begin_run("v2", "model", "1", "cfg")
    store.save(second, make_doc(TEXT), facts_of(TEXT, title="CEO"))
    return first, second


def test_jsonl_gives_each_article_with_its_newest_facts(
    store: Store, two_runs: tuple[int, int]
) -> None:
    first, second = two_runs
    out = io.StringIO()
    count = export(store, "jsonl", out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert (count.articles, len(lines)) == (2, 2)
    by_url = {line["url"]: line for line in lines}
    ibm = by_url["https://example.com/ibm"]
    assert ibm["run_id"] == second
    assert ibm["roles"][0]["role"] == "CEO"
    assert by_url["https://example.com/other"]["run_id"] == first
    # the run --json contract, plus the stored article's keys
    for key in ("input", "url", "title", "published", "text", "content_hash", "error"):
        assert key in ibm
    assert ibm["money"][0]["amount"] == "80000000000"
    assert ibm["organizations"][0]["spans"] == [[0, 3]]
    assert ibm["organizations"][0]["evidence"] == TEXT
    assert ibm["first_seen"].endswith("+00:00")


def test_jsonl_of_one_run_is_what_that_run_found(store: Store, two_runs: tuple[int, int]) -> None:
    first, _ = two_runs
    out = io.StringIO()
    export(store, "jsonl", out, run_id=first)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert {line["run_id"] for line in lines} == {first}
    assert {line["roles"][0]["role"] for line in lines} == {"chief executive"}


def test_csv_has_one_row_per_fact(store: Store, two_runs: tuple[int, int]) -> None:
    out = io.StringIO()
    count = export(store, "csv", out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert count.facts == len(rows) == 2 * 5  # per article: 2 orgs, 1 person, 1 role, 1 money
    money = [r for r in rows if r["fact"] == "money"]
    assert {r["amount"] for r in money} == {"80000000000"}
    assert {r["currency"] for r in money} == {"USD"}
    role = next(r for r in rows if r["fact"] == "role" and r["url"].endswith("/ibm"))
    assert (role["person"], role["role"], role["org"]) == ("Arvind Krishna", "CEO", "IBM")
    assert role["evidence"] == TEXT
    org = next(r for r in rows if r["fact"] == "organization" and r["name"] == "Meta")
    assert org["mentions"] == "1"
    assert org["start"]


def test_an_article_without_facts_is_exported_as_jsonl_too(store: Store) -> None:
    run_id = store.begin_run("v1", "model", "1", "cfg")
    store.save(run_id, make_doc("Nothing to see."), Facts())
    out = io.StringIO()
    assert export(store, "jsonl", out).articles == 1
    assert json.loads(out.getvalue())["organizations"] == []


def test_export_command_writes_a_file_that_diff_reads(
    store: Store, two_runs: tuple[int, int], db_url: str, tmp_path: Path
) -> None:
    first, second = two_runs
    path = tmp_path / "run1.jsonl"
    code, _, err = cli("export", "--run", str(first), "--db", db_url, "-o", str(path))
    assert code == 0
    assert "exported 2 articles, 10 facts" in err
    # an export of a run is the same facts as the run itself
    assert cli("diff", str(path), f"run:{first}", "--db", db_url)[0] == 0
    code, out, _ = cli("diff", str(path), f"run:{second}", "--db", db_url, "--json")
    assert code == 1
    summary = json.loads(out)["summary"]["articles"]
    assert (summary["compared"], summary["changed"], summary["only_old"]) == (1, 1, 1)

    code, out, _ = cli("export", "--format", "csv", "--db", db_url)
    assert code == 0
    assert out.startswith(",".join(CSV_COLUMNS))
    code, _, err = cli("export", "--run", "99", "--db", db_url)
    assert code == 2
    assert "no extraction run 99" in err

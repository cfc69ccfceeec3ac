"""The two sides of `newsfacts diff`: reading them, and accepting NEW as the golden files.

A side is given as

- a JSON-lines file written by `newsfacts run --json` (or `ingest --json`, `export`),
  or `-` for standard input;
- a folder of golden files (`samples/`: every `*.expected.json` under it), or one
  golden file;
- an extraction run in the database: `run:ID`, a bare number (when no file has that
  name), `run:latest` or `run:latest~N` (the Nth run before the newest).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from pipeline.review import ArticleRecord, DiffReport, ReviewError, Side, dedupe, input_key
from pipeline.review import record_from_json as from_json

if TYPE_CHECKING:  # the store (SQLAlchemy) is imported only when a side is a run
    from pipeline.store import Store, StoredExtraction

# as in pipeline.golden, which imports the whole pipeline (spaCy included) to run samples
EXPECTED_SUFFIX = ".expected.json"
RUN_SPEC = re.compile(r"^(?:run:)?(\d+)$|^run:latest(?:~(\d+))?$")
# Keys of `export` / stored results that are no part of a golden file.
NOT_GOLDEN_KEYS = ("article_id", "run_id", "first_seen", "last_seen")


class SideError(ValueError):
    """OLD or NEW cannot be read; the message says which and why."""


def load_side(
    spec: str,
    *,
    store: Store | None = None,
    stdin: IO[str] | None = None,
    root: Path | None = None,
) -> Side:
    """Read one side. `store` is needed for runs (opened by the caller from --db)."""
    path = Path(spec)
    if spec == "-":
        source = stdin if stdin is not None else sys.stdin
        side = Side(spec, "stdin", "standard input")
        side.records = list(read_jsonl(source, "<stdin>"))
    elif path.is_dir():
        files = golden_files(path)
        if not files:
            raise SideError(f"{spec}: no golden files (*{EXPECTED_SUFFIX}) under this folder")
        side = Side(spec, "golden", f"golden files under {spec}", {"files": str(len(files))})
        side.records = [read_golden(f) for f in files]
    elif path.is_file():
        if path.name.endswith(EXPECTED_SUFFIX):
            side = Side(spec, "golden", f"golden file {spec}")
            side.records = [read_golden(path)]
        else:
            side = Side(spec, "jsonl", spec)
            with path.open(encoding="utf-8") as lines:
                side.records = list(read_jsonl(lines, spec))
    elif RUN_SPEC.match(spec):
        side = load_run(spec, store)
    else:
        raise SideError(
            f"{spec}: no such file or folder, and not a run (run:ID, run:latest, run:latest~N)"
        )
    side.records, side.repeated = dedupe(side.records, root)
    return side


def read_jsonl(lines: Iterable[str], name: str) -> Iterator[ArticleRecord]:
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        origin = f"{name}:{number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SideError(
                f"{origin}: not JSON ({exc.msg}); expected one object per line"
            ) from None
        if isinstance(obj, dict) and "summary" in obj and "articles" in obj:
            raise SideError(f"{origin}: this is `newsfacts diff --json` output, not results")
        try:
            yield from_json(obj, origin)
        except ReviewError as exc:
            raise SideError(str(exc)) from None


def golden_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob(f"*{EXPECTED_SUFFIX}") if p.is_file())


def read_golden(path: Path) -> ArticleRecord:
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SideError(f"{path}: cannot read this golden file: {exc}") from None
    try:
        return from_json(obj, str(path))
    except ReviewError as exc:
        raise SideError(str(exc)) from None


def load_run(spec: str, store: Store | None) -> Side:
    match = RUN_SPEC.match(spec)
    assert match is not None
    if store is None:
        raise SideError(f"{spec}: a run needs a database (--db URL or NEWSFACTS_DATABASE_URL)")
    where = store.engine.url.render_as_string(hide_password=True)
    if match.group(1) is not None:
        run_id: int | None = int(match.group(1))
    else:
        run_id = store.latest_run_id(int(match.group(2) or 0))
        if run_id is None:
            raise SideError(f"{spec}: {where} has no such run; `newsfacts runs` lists them")
    assert run_id is not None
    run = store.get_run(run_id)
    if run is None:
        raise SideError(
            f"{spec}: {where} has no extraction run {run_id}; `newsfacts runs` lists them"
        )
    details = {
        "run_id": str(run_id),
        "database": where,
        "kind": run.kind,
        "started_at": run.started_at.isoformat(timespec="seconds"),
        "status": run.status,
        "code_version": run.code_version,
        "model": f"{run.model_name} {run.model_version}",
        "config_hash": run.config_hash,
    }
    side = Side(spec, "run", f"run {run_id} ({run.kind}, {run.code_version})", details)
    side.records = [stored_record(e, where) for e in store.extractions(run_id)]
    stored = {(r.url, r.input) for r in side.records}
    for failure in store.failures(run_id=run_id):
        if (failure.url, failure.source) in stored:
            continue
        side.records.append(
            ArticleRecord(
                input=failure.source,
                url=failure.url,
                error=f"{failure.stage}: {failure.reason}",
                origin=f"run {run_id} failure {failure.id}",
                run_id=run_id,
            )
        )
    return side


def stored_record(extraction: StoredExtraction, database: str) -> ArticleRecord:
    article = extraction.article
    return ArticleRecord(
        input=article.source,
        url=article.canonical_url,
        content_hash=extraction.content_hash,
        title=article.title,
        text=extraction.text,
        published=article.published.isoformat() if article.published else None,
        site=article.site,
        facts=extraction.facts,
        origin=f"run {extraction.run_id} article {article.id}",
        identity=f"{database}#article:{article.id}",
        article_id=article.id,
        run_id=extraction.run_id,
    )


# --- accepting NEW as the golden files ----------------------------------------------


@dataclass(slots=True)
class Accepted:
    written: list[Path] = field(default_factory=list)
    created: list[Path] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (article, why)


def accept(report: DiffReport, root: Path | None = None) -> Accepted:
    """Rewrite the golden files of OLD from NEW, for every article that differs.

    A changed article rewrites its golden file; an article only in NEW whose input is a
    file under OLD's folder gets a new golden file beside it. Articles only in OLD are
    left alone (their golden file stays until someone deletes it), and so are failed
    inputs: a failure is never accepted as expected output.
    """
    if report.old.kind != "golden":
        raise SideError("--accept rewrites golden files: OLD must be a golden folder or file")
    if report.new.kind not in ("jsonl", "stdin", "golden"):
        raise SideError(
            "--accept needs NEW as JSON lines (`newsfacts run SAMPLE... --json`): a stored "
            "run does not keep everything a golden file holds"
        )
    from pipeline.golden import dumps, expected_path

    base = root if root is not None else Path.cwd()
    folder = Path(report.old.spec)
    done = Accepted()
    for article in report.articles:
        new = article.new
        if article.status in ("unchanged", "only_old") or new is None:
            continue
        if new.error:
            done.refused.append((new.label, f"failed in NEW ({new.error})"))
            continue
        if new.raw is None:  # pragma: no cover - jsonl/golden records always have it
            done.refused.append((new.label, "no JSON object to write"))
            continue
        obj = {k: v for k, v in new.raw.items() if k not in NOT_GOLDEN_KEYS}
        if article.old is not None:
            target = Path(article.old.origin)
            if article.old.input is not None:
                obj["input"] = article.old.input
            done.written.append(target)
        else:
            key = input_key(new.input, base)
            sample = (base / key) if key and "://" not in key else None
            if sample is None or not sample.is_file() or not _inside(sample, folder, base):
                done.refused.append(
                    (new.label, f"only in NEW, and its input is no file under {folder}")
                )
                continue
            obj["input"] = key
            target = expected_path(sample)
            done.created.append(target)
        target.write_text(dumps(obj), encoding="utf-8")
    return done


def _inside(path: Path, folder: Path, base: Path) -> bool:
    folder = folder if folder.is_absolute() else base / folder
    if folder.is_file():
        folder = folder.parent
    return path.resolve().is_relative_to(folder.resolve())

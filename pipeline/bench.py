"""`newsfacts bench`: how fast newsfacts turns pages into stored facts, against the loop
a user would otherwise write by hand (trafilatura.extract + the stock spaCy model, no
storage), measured side by side in one run.

Each side runs in its own child process, so each has its own model load and peak
memory. newsfacts fetches every page from a local HTTP server (127.0.0.1), cleans,
extracts and stores it in a fresh SQLite file; the hand-written loop reads the same
pages from memory. Pages are the corpus pages (samples/ and, when present, the dev
corpus) repeated to the requested number, each copy made distinct (all its
paragraphs numbered) so that every copy is a new article for the store.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPORA = (ROOT / "samples", ROOT.parent / "shared" / "corpus" / "dev")


def corpus_pages(dirs: list[Path]) -> list[bytes]:
    pages = []
    for d in dirs:
        if d.is_dir():
            found = sorted(p for p in d.rglob("*") if p.suffix in (".html", ".htm"))
            pages += [p.read_bytes() for p in found if p.is_file()]
    return pages


def variant(pages: list[bytes], i: int) -> bytes:
    """Copy i of the corpus: page i mod n with every paragraph numbered, so that the
    article body (whichever paragraphs it is made of) differs from every other copy."""
    page = pages[i % len(pages)]
    if i < len(pages):
        return page
    return re.sub(rb"<p([ >])", b"<p\\1Copy %d. " % (i // len(pages)), page)


class _Server:
    def __init__(self, pages: list[bytes]) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                try:
                    i = int(self.path.rsplit("/", 1)[-1])
                except ValueError:
                    self.send_error(404)
                    return
                body = variant(pages, i)
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + children) / 1024  # ru_maxrss is in KiB on Linux


def _side_hand(pages: list[bytes], n: int, model: str) -> dict[str, Any]:
    """The loop a user writes by hand."""
    start = time.perf_counter()
    import spacy
    import trafilatura

    try:
        nlp = spacy.load(model)
    except OSError:
        nlp = __import__(model).load()
    loaded = time.perf_counter()
    words = 0
    for i in range(n):
        text = trafilatura.extract(variant(pages, i).decode("utf-8", "replace")) or ""
        doc = nlp(text)
        words += len(text.split())
        del doc
    end = time.perf_counter()
    return {"total": end - start, "load": loaded - start, "work": end - loaded, "words": words}


def _side_newsfacts(base_url: str, n: int, workers: int, model: str) -> dict[str, Any]:
    start = time.perf_counter()
    from pipeline.config import Settings
    from pipeline.runner import run
    from pipeline.timing import StageTimer

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=f"sqlite:///{tmp}/bench.db",
            model=model,
            allow_private_addresses=True,
            fetch_retries=0,
        )
        timer = StageTimer()
        sources = (f"{base_url}/a/{i}" for i in range(n))
        report = run(sources, settings, workers=workers, keep_results=False, timer=timer)
    end = time.perf_counter()
    return {
        "total": end - start,
        "stages": timer.seconds,
        "ok": report.ok,
        "failed": report.failed,
        "words": report.words,
    }


def _child(args: list[str]) -> None:
    """Entry point of a measuring child process: prints one JSON object."""
    side, n, workers, model, dirs = args[0], int(args[1]), int(args[2]), args[3], args[4:]
    pages = corpus_pages([Path(d) for d in dirs])
    if side == "hand":
        out = _side_hand(pages, n, model)
    else:
        with _Server(pages) as base_url:
            out = _side_newsfacts(base_url, n, workers, model)
    out["peak_rss_mb"] = _peak_rss_mb()
    print(json.dumps(out))


@dataclass
class BenchResult:
    articles: int
    pages: int
    hand: dict[str, Any] | None
    runs: dict[int, dict[str, Any]]  # worker count -> newsfacts figures

    def ratio(self, workers: int) -> float | None:
        if self.hand is None:
            return None
        return float(self.runs[workers]["total"]) / float(self.hand["total"])

    def speedup(self, workers: int) -> float | None:
        base = self.runs.get(1)
        if base is None:
            return None
        return float(base["total"]) / float(self.runs[workers]["total"])

    def to_json(self) -> dict[str, Any]:
        return {
            "articles": self.articles,
            "distinct_pages": self.pages,
            "hand_written": self.hand,
            "newsfacts": {str(w): r for w, r in self.runs.items()},
            "ratio_newsfacts_to_hand": {str(w): self.ratio(w) for w in self.runs},
            "speedup_over_one_worker": {str(w): self.speedup(w) for w in self.runs},
        }


def _measure(side: str, n: int, workers: int, model: str, dirs: list[Path]) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "pipeline.bench", side, str(n), str(workers), model]
    cmd += [str(d) for d in dirs]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"bench {side} failed:\n{proc.stderr[-2000:]}")
    data: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return data


def bench(
    dirs: list[Path], articles: int, workers: list[int], model: str, baseline: bool = True
) -> Iterator[tuple[str, BenchResult | None]]:
    """Yields progress messages, then ("done", result). Sides run one after another."""
    pages = corpus_pages(dirs)
    if not pages:
        raise FileNotFoundError("no .html pages in " + ", ".join(map(str, dirs)))
    hand = None
    if baseline:
        yield f"hand-written loop on {articles} pages…", None
        hand = _measure("hand", articles, 1, model, dirs)
    runs = {}
    for n in workers:
        yield f"newsfacts on {articles} pages with {n} worker(s)…", None
        runs[n] = _measure("newsfacts", articles, n, model, dirs)
    yield "done", BenchResult(articles, len(pages), hand, runs)


if __name__ == "__main__":
    _child(sys.argv[1:])

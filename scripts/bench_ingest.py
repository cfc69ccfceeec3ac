"""Throughput and memory of `newsfacts ingest` on a local feed of N article pages.

    .venv/bin/python scripts/bench_ingest.py            # 200 articles
    .venv/bin/python scripts/bench_ingest.py --articles 1000 --small

Serves an RSS feed of N pages on 127.0.0.1 (tests/feedsite.py): by default copies of
samples/ai_alliance/article.html (a full news page, 13 KB, 33 organisations), each made
distinct by a numbered paragraph and its own rel=canonical; with --small, the short
generated pages of the tests. Then runs `newsfacts ingest URL --stats` twice in a fresh
SQLite database (host_delay 0: one local host) and prints what each run printed: the
first stores N articles, the second polls an unchanged feed and stores 0.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.feedsite import FeedSite  # noqa: E402

SAMPLE = ROOT / "samples" / "ai_alliance" / "article.html"


def sample_page(i: int, url: str) -> bytes:
    html = SAMPLE.read_text(encoding="utf-8")
    html = html.replace(
        '<link rel="canonical" href="https://www.techledgerdaily.example/ai/ibm-meta-launch-ai-alliance-open-source">',
        f'<link rel="canonical" href="{url}">',
    )
    note = f"<p>Editor's note {i}: this is copy number {i} of the story, for the benchmark.</p>"
    return html.replace("</article>", note + "\n</article>", 1).encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=200)
    parser.add_argument("--small", action="store_true", help="short generated pages")
    args = parser.parse_args()
    newsfacts = str(Path(sys.executable).with_name("newsfacts"))
    with FeedSite() as site, tempfile.TemporaryDirectory() as tmp:
        if args.small:
            paths = site.add_articles(args.articles)
        else:
            paths = [f"/news/copy-{i}" for i in range(args.articles)]
            for i, path in enumerate(paths):
                site.pages[path] = sample_page(i, site.url(path))
        site.route("/rss.xml", site.feed_route(lambda: site.rss(paths)))
        env = dict(
            os.environ,
            NEWSFACTS_ALLOW_PRIVATE_ADDRESSES="1",
            NEWSFACTS_HOST_DELAY="0",
            NEWSFACTS_HOST_CONCURRENCY="8",
        )
        env.pop("PREFECT_API_URL", None)
        db = f"sqlite:///{tmp}/bench.db"
        for poll in (1, 2):
            command = [newsfacts, "ingest", site.url("/rss.xml"), "--db", db, "--stats"]
            feed = f"<local feed of {args.articles}>"
            print(f"$ newsfacts ingest {feed} --db {db} --stats  # poll {poll}")
            done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=tmp)
            print(done.stdout + done.stderr, end="")
            if done.returncode != 0:
                return done.returncode
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

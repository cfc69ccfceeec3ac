"""The HTML review report: escaping, self-containment, and a real headless Chromium.

The browser tests start Debian's `chromium` themselves (headless, no sandbox, a
throw-away profile, no network services) and skip, saying why, when it is not
installed (`apt-get install chromium`; `.ci/run` installs it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pipeline.cli import main
from pipeline.report import render_html, safe_href
from pipeline.review import Side, compare, record_from_json

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None and os.environ.get("NEWSFACTS_REQUIRE_CHROMIUM"):  # set by .ci/run
    raise RuntimeError("NEWSFACTS_REQUIRE_CHROMIUM is set but chromium is not installed")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="needs Debian's chromium for the headless browser test: apt-get install chromium",
)

ATTACK = "document.title='PWNED';document.documentElement.setAttribute('data-pwned','1')"
TEXT = (
    "IBM chief executive Arvind Krishna said the company would spend $80 billion. "
    "Meta joined the AI Alliance.\n\n"
    f'<script>{ATTACK}</script> <img src=x onerror="{ATTACK}"> '
    "<b onmouseover=alert(1)>hover</b> Acme Corp agreed."
)
ORG_COLOR = (0x7A, 0xEC, 0xEC)  # displaCy's ORG
PERSON_COLOR = (0xAA, 0x9C, 0xFC)  # displaCy's PERSON


def span(name: str) -> list[int]:
    start = TEXT.index(name)
    return [start, start + len(name)]


def result(**changes: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "input": "story.html",
        "url": "javascript:document.title='PWNED'",
        "title": f"Spending <script>{ATTACK}</script> news",
        "text": TEXT,
        "content_hash": "h1",
        "organizations": [
            {"name": "IBM", "mentions": 1, "aliases": [], "spans": [span("IBM")]},
            {"name": "Meta", "mentions": 1, "aliases": [], "spans": [span("Meta")]},
        ],
        "people": [{"name": "Arvind Krishna", "mentions": 1, "spans": [span("Arvind Krishna")]}],
        "roles": [
            {
                "person": "Arvind Krishna",
                "role": "chief executive",
                "org": "IBM",
                "evidence": TEXT.split(". ")[0],
                "start": 0,
                "end": 34,
                "pattern": "org_title_person",
            }
        ],
        "money": [
            {
                "text": "$80 billion",
                "amount": "80000000000",
                "currency": "USD",
                "context": "would spend $80 billion",
                "start": span("$80 billion")[0],
                "end": span("$80 billion")[1],
            }
        ],
        "error": None,
    }
    obj.update(changes)
    return obj


def new_result() -> dict[str, Any]:
    """NEW: Meta gone, a hostile organisation name added, the role's title changed."""
    obj = result()
    obj["organizations"] = [
        obj["organizations"][0],
        {
            "name": f'<img src=x onerror="{ATTACK}">Acme Corp',
            "mentions": 1,
            "aliases": ['"><script>alert(1)</script>'],
            "spans": [span("Acme Corp")],
        },
    ]
    obj["roles"] = [{**obj["roles"][0], "role": "CEO <script>alert(1)</script>"}]
    return obj


def report_html(tmp_path: Path, old: dict[str, Any], new: dict[str, Any], *, csp: bool) -> Path:
    sides = []
    for name, obj in (("old.jsonl", old), ("new.jsonl", new)):
        sides.append(Side(name, "jsonl", name, records=[record_from_json(obj, f"{name}:1")]))
    page = tmp_path / f"report-{'csp' if csp else 'nocsp'}-{len(list(tmp_path.iterdir()))}.html"
    page.write_text(render_html(compare(*sides), csp=csp), encoding="utf-8")
    return page


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Elements()
    parser.feed(html)
    return parser.tags


# --- the page as text ----------------------------------------------------------------


def test_article_content_is_escaped_everywhere(tmp_path: Path) -> None:
    html = report_html(tmp_path, result(), new_result(), csp=False).read_text(encoding="utf-8")
    tags = elements(html)
    assert not [t for t, _ in tags if t in ("script", "img", "b", "iframe", "object")]
    handlers = [(t, a) for t, attrs in tags for a in attrs if a.startswith("on")]
    assert handlers == []
    hrefs = [attrs.get("href") or "" for t, attrs in tags if t == "a"]
    assert all(h.startswith("#") or h.startswith("http") for h in hrefs), hrefs
    assert not any("javascript" in h.lower() for h in hrefs)
    assert "&lt;script&gt;" in html  # shown as text
    assert ATTACK.replace("'", "&#39;") in html or ATTACK.replace("'", "&#x27;") in html


def test_the_page_is_self_contained_and_forbids_scripts(tmp_path: Path) -> None:
    html = report_html(tmp_path, result(), new_result(), csp=True).read_text(encoding="utf-8")
    assert "script-src" not in html or "'none'" in html
    assert "default-src 'none'" in html
    for tag, attrs in elements(html):
        assert tag != "link", "no external stylesheet"
        for name in ("src", "href"):
            value = attrs.get(name) or ""
            assert not value.startswith("//"), value
        if tag in ("img", "iframe", "video", "audio", "source"):
            pytest.fail(f"remote content element <{tag}>")


def test_entities_are_highlighted_with_their_state_and_linked_from_the_facts(
    tmp_path: Path,
) -> None:
    html = report_html(tmp_path, result(), new_result(), csp=True).read_text(encoding="utf-8")
    marks = [attrs for tag, attrs in elements(html) if tag == "mark" and attrs.get("id")]
    states = {(m["id"], (m.get("class") or "").split()[-1]) for m in marks}
    ids = {i for i, _ in states}
    assert ("a1-old-e1", "same") in states or any(s == "same" for _, s in states)
    assert any(i.startswith("a1-old") and s == "removed" for i, s in states)  # Meta
    assert any(i.startswith("a1-new") and s == "added" for i, s in states)  # Acme Corp
    links = set(re.findall(r'href="#(a1-(?:old|new)-e\d+)"', html))
    assert links
    assert links <= ids


def test_offsets_that_do_not_fit_the_text_are_not_highlighted(tmp_path: Path) -> None:
    stale = result(text="A different version of the story.")
    html = report_html(tmp_path, stale, new_result(), csp=True).read_text(encoding="utf-8")
    assert "do not fit this text" in html


def test_only_web_urls_become_links() -> None:
    assert safe_href("https://example.com/a?b=1") == "https://example.com/a?b=1"
    for bad in ("javascript:alert(1)", "data:text/html,x", "file:///etc/passwd", "//evil", None):
        assert safe_href(bad) is None


def test_no_differences_page(tmp_path: Path) -> None:
    html = report_html(tmp_path, result(), result(), csp=True).read_text(encoding="utf-8")
    assert "No differences." in html
    assert "1 unchanged articles" in html


def test_diff_html_from_the_command_line(tmp_path: Path) -> None:
    old, new = tmp_path / "old.jsonl", tmp_path / "new.jsonl"
    old.write_text(json.dumps(result()) + "\n", encoding="utf-8")
    new.write_text(json.dumps(new_result()) + "\n", encoding="utf-8")
    page = tmp_path / "out" / "report.html"
    assert main(["diff", str(old), str(new), "--html", str(page)]) == 2  # no such folder
    page.parent.mkdir()
    assert main(["diff", str(old), str(new), "--html", str(page)]) == 1
    assert "<del>chief executive</del>" in page.read_text(encoding="utf-8")


# --- in a real browser -----------------------------------------------------------------


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    profile = tmp_path / "chromium-profile"
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def dump_dom(tmp_path: Path, page: Path) -> str:
    done = chromium(tmp_path, "--virtual-time-budget=2000", "--dump-dom", page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    assert "<html" in done.stdout, done.stderr[-2000:]
    return done.stdout


def screenshot(tmp_path: Path, page: Path, name: str) -> np.ndarray:
    png = tmp_path / name
    done = chromium(tmp_path, "--window-size=1200,1800", f"--screenshot={png}", page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    assert png.is_file(), done.stderr[-2000:]
    return read_png(png)


@needs_chromium
@pytest.mark.parametrize("csp", [False, True], ids=["escaping-alone", "with-csp"])
def test_a_script_in_an_article_does_not_run(tmp_path: Path, csp: bool) -> None:
    page = report_html(tmp_path, result(), new_result(), csp=csp)
    dom = dump_dom(tmp_path, page)
    title = re.search(r"<title>(.*?)</title>", dom, re.S)
    assert title is not None
    assert title.group(1).startswith("newsfacts diff"), title.group(1)
    assert "PWNED" not in title.group(1)
    assert re.search(r"<html[^>]*data-pwned", dom) is None  # the attack's own marker
    assert "<script" not in dom.lower()
    assert "<img" not in dom.lower()
    assert "&lt;script&gt;" in dom  # the article's text is there, as text


@needs_chromium
def test_screenshot_shows_the_highlighted_entities(tmp_path: Path) -> None:
    page = report_html(tmp_path, result(), new_result(), csp=True)
    plain_new = new_result()
    for fact_type in ("organizations", "people"):
        for fact in plain_new[fact_type]:
            fact["spans"] = []
    plain_old = result()
    for fact_type in ("organizations", "people"):
        for fact in plain_old[fact_type]:
            fact["spans"] = []
    plain = report_html(tmp_path, plain_old, plain_new, csp=True)

    shot = screenshot(tmp_path, page, "report.png")
    without = screenshot(tmp_path, plain, "plain.png")
    assert shot.shape[0] == 1800
    assert shot.shape[1] == 1200
    # the page is drawn (text, tables), not blank
    assert (shot[..., :3] < 100).all(axis=-1).sum() > 2000
    for color, name in ((ORG_COLOR, "ORG"), (PERSON_COLOR, "PERSON")):
        highlighted = count_color(shot, color)
        baseline = count_color(without, color)  # the legend alone
        assert highlighted > baseline + 300, (name, highlighted, baseline)


def count_color(pixels: np.ndarray, rgb: tuple[int, int, int]) -> int:
    return int((pixels[..., :3] == np.array(rgb, dtype=np.uint8)).all(axis=-1).sum())


def read_png(path: Path) -> np.ndarray:
    """Decode an 8-bit RGB(A), non-interlaced PNG (what Chromium writes) into an array."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, bytearray()
    width = height = channels = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert (depth, interlace) == (8, 0), (depth, interlace)
            assert color in (2, 6), color  # RGB or RGBA
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = np.frombuffer(zlib.decompress(bytes(idat)), dtype=np.uint8)
    rows = raw.reshape(height, width * channels + 1)
    out = np.zeros((height, width * channels), dtype=np.uint8)
    prior = np.zeros(width * channels, dtype=np.int32)
    for y in range(height):
        kind, line = int(rows[y, 0]), rows[y, 1:].astype(np.int32)
        if kind == 0:
            recon = line
        elif kind == 1:  # Sub: running sum per channel
            recon = np.cumsum(line.reshape(width, channels), axis=0).reshape(-1) & 0xFF
        elif kind == 2:  # Up
            recon = (line + prior) & 0xFF
        else:  # Average, Paeth: each byte depends on the one to its left
            recon = _unfilter_sequential(kind, line.tolist(), prior.tolist(), channels)
        out[y] = recon
        prior = np.asarray(recon, dtype=np.int32)
    return out.reshape(height, width, channels)


def _unfilter_sequential(kind: int, line: list[int], prior: list[int], bpp: int) -> np.ndarray:
    recon = [0] * len(line)
    for i, x in enumerate(line):
        a = recon[i - bpp] if i >= bpp else 0
        b = prior[i]
        if kind == 3:
            recon[i] = (x + ((a + b) >> 1)) & 0xFF
            continue
        c = prior[i - bpp] if i >= bpp else 0
        p = a + b - c
        pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
        predictor = a if pa <= pb and pa <= pc else b if pb <= pc else c
        recon[i] = (x + predictor) & 0xFF
    return np.asarray(recon, dtype=np.int32)


@needs_chromium
def test_the_harness_would_see_a_script_that_runs(tmp_path: Path) -> None:
    """Control for the test above: the same attack, unescaped, does run in this browser."""
    page = tmp_path / "unsafe.html"
    page.write_text(
        f"<!DOCTYPE html><html><head><title>safe</title></head><body><script>{ATTACK}</script>"
        "</body></html>",
        encoding="utf-8",
    )
    dom = dump_dom(tmp_path, page)
    assert "<title>PWNED</title>" in dom
    assert re.search(r"<html[^>]*data-pwned", dom) is not None

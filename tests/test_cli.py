"""`newsfacts run` end to end: real files, a real local HTTP server, a real SQLite file."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.store import Store

from .conftest import LocalServer

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "ai_alliance"
GERMAN = """<!DOCTYPE html><html lang="de"><head><meta charset="utf-8">
<title>Brücke wieder offen</title></head>
<body><article><h1>Brücke wieder offen</h1>
<p>Die Brücke über den Hafen ist seit Donnerstag wieder für den Verkehr geöffnet. Nach sechs
Monaten Bauzeit können die Pendler auf beiden Seiten der Bucht wieder den kurzen Weg nehmen.</p>
<p>Die Ingenieure haben mehr als zweihundert Platten ersetzt und die Hauptspannweite neu
gestrichen. Die Arbeiten wurden zwei Wochen früher als geplant abgeschlossen.</p>
</article></body></html>"""


def run_cli(*args: str) -> tuple[int, list[dict]]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["run", "--json", "--no-prefect", *args])
    return code, [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.fixture
def quick_fetch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSFACTS_ALLOW_PRIVATE_ADDRESSES", "1")
    monkeypatch.setenv("NEWSFACTS_READ_TIMEOUT", "0.5")
    monkeypatch.setenv("NEWSFACTS_FETCH_RETRIES", "0")
    monkeypatch.setenv("NEWSFACTS_MAX_REDIRECTS", "3")


@pytest.mark.usefixtures("quick_fetch")
def test_a_batch_with_bad_inputs_goes_on_and_records_each_failure(
    tmp_path: Path, http_server: LocalServer
) -> None:
    empty = tmp_path / "empty.html"
    empty.write_bytes(b"")
    binary = tmp_path / "photo.html"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40)
    big = tmp_path / "big.html"
    with big.open("wb") as f:
        f.truncate(50 * 1024 * 1024)
    no_text = tmp_path / "nav.html"
    no_text.write_text("<html><body><nav><a href='/'>Home</a></nav></body></html>")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Le café de la Société Générale coûte 3 € à Paris. ".encode("cp1252") * 5)
    german = tmp_path / "de.html"
    german.write_text(GERMAN, encoding="utf-8")
    inputs = {
        str(SAMPLE / "article.html"): None,
        http_server.url("/article/1"): None,
        str(tmp_path / "missing.html"): "fetch: file not found",
        str(empty): "fetch: ",
        str(binary): "decode: ",
        str(big): "fetch: ",
        str(no_text): "clean: no article text",
        str(latin1): None,
        str(german): None,
        http_server.url("/missing"): "fetch: HTTP 404",
        http_server.url("/error"): "fetch: HTTP 500",
        http_server.url("/slow"): "fetch: timed out",
        http_server.url("/loop"): "fetch: ",
        http_server.url("/pdf"): "fetch: content type application/pdf",
    }
    db = f"sqlite:///{tmp_path / 'batch.db'}"

    code, lines = run_cli(*inputs, "--db", db)

    assert code == 1
    assert [line["input"] for line in lines] == list(inputs)
    for line, (source, error) in zip(lines, inputs.items(), strict=True):
        if error is None:
            assert line["error"] is None, f"{source}: {line['error']}"
        else:
            assert line["error"], source
            assert line["error"].startswith(error), (source, line["error"])
            assert line["organizations"] == line["roles"] == line["money"] == []
    assert "Cleveland Clinic" in {o["name"] for o in lines[0]["organizations"]}
    assert "NEWSFACTS_MAX_BYTES" in lines[5]["error"]
    assert lines[7]["text"].startswith("Le café de la Société Générale")
    assert lines[8]["language"] == "de"
    assert "language" in (lines[8]["skipped"] or "")

    with Store(db) as store:
        sources = {a.source for a in store.articles()}
        failures = {f.source: f.stage for f in store.failures()}
    assert sources == {s for s, e in inputs.items() if e is None}
    assert failures == {s: e.split(":")[0] for s, e in inputs.items() if e is not None}


@pytest.mark.usefixtures("quick_fetch")
def test_a_failing_rerun_keeps_what_was_stored(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'keep.db'}"
    good = str(SAMPLE / "article.txt")
    assert run_cli(good, "--db", db)[0] == 0
    with Store(db) as store:
        [article] = store.articles()
        [first] = store.runs()
        before = store.read_facts(article.id, first.id)  # type: ignore[arg-type]

    code, lines = run_cli(good, str(tmp_path / "nope.txt"), "--db", db)

    assert code == 1
    assert lines[0]["error"] is None
    with Store(db) as store:
        assert len(store.articles()) == 1  # updated in place, not duplicated
        runs = store.runs()
        assert len(runs) == 2
        assert store.read_facts(article.id, first.id) == before  # type: ignore[arg-type]
        assert store.read_facts(article.id, runs[1].id) == before  # type: ignore[arg-type]


def test_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (SAMPLE / "article.txt").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text)))
    code, [line] = run_cli("-", "--db", f"sqlite:///{tmp_path / 'stdin.db'}")
    assert code == 0
    assert line["input"] == "-"
    assert {"IBM", "Meta"} <= {o["name"] for o in line["organizations"]}


def test_human_output_shows_tables(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "run", "--no-prefect", str(SAMPLE / "article.html")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "120", "NEWSFACTS_DATABASE_URL": "sqlite:///x.db"},
    )
    assert proc.returncode == 0, proc.stderr
    for heading in ("Organisations", "People and roles", "Money"):
        assert heading in proc.stdout
    assert "head of global affairs" in proc.stdout
    assert (tmp_path / "x.db").exists()  # the database location came from the environment


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["run"])
    assert exc.value.code == 2
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[newsfacts]\nbatch_size = 'many'\n")
    assert main(["--config", str(cfg), "run", "x.txt"]) == 2


def test_unknown_model_is_a_clear_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", "--no-prefect", "--model", "no_such_model", str(SAMPLE / "article.txt")])
    assert code == 2
    assert "no_such_model" in capsys.readouterr().err

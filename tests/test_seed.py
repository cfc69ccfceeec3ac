"""The seed article's facts, written out by hand from reading it (not from the code's output).

Runs both bundled forms of the seed: the plain text and the news web page built around it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.cli import main

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "ai_alliance"

SEED_ORGANISATIONS = {
    "IBM", "Meta", "AI Alliance", "Oracle", "Red Hat", "Hugging Face", "Dell Technologies",
    "Sony Group", "Stability AI", "Linux Foundation", "CERN", "Cleveland Clinic",
    "Cornell University", "NASA", "University of Notre Dame", "Yale University", "Dartmouth",
    "University of Illinois", "University of Tokyo", "University of California Berkeley",
    "Imperial College London", "Microsoft", "Google", "Anthropic", "OpenAI", "Frontier Forum",
    "Amazon", "Inflection", "Adobe", "NVIDIA", "Scale AI", "Palantir", "Salesforce",
}  # fmt: skip
SEED_ROLES = {
    ("Nick Clegg", "head of global affairs", "Meta"),
    ("Arvind Krishna", "chief executive", "IBM"),
    ("Kevin Murphy", "chief science data", "NASA"),
    ("Sam Altman", "leader", "OpenAI"),
}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    db = tmp_path_factory.mktemp("seed") / "seed.db"
    inputs = [str(SAMPLE / "article.txt"), str(SAMPLE / "article.html")]
    out = tmp_path_factory.mktemp("seed") / "out.jsonl"
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(["run", *inputs, "--json", "--no-prefect", "--db", f"sqlite:///{db}"])
    out.write_text(buffer.getvalue())
    assert code == 0, buffer.getvalue()
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    return {Path(obj["input"]).suffix: obj for obj in lines}


@pytest.fixture(params=[".txt", ".html"])
def seed(request: pytest.FixtureRequest, outputs: dict[str, dict]) -> dict:
    return outputs[request.param]


def test_organisations_are_exactly_the_33_named(seed: dict) -> None:
    names = [o["name"] for o in seed["organizations"]]
    assert len(names) == len(set(names)), "duplicate organisations"
    assert set(names) == SEED_ORGANISATIONS


def test_no_products_or_bare_ai(seed: dict) -> None:
    names = {o["name"] for o in seed["organizations"]}
    assert not names & {"ChatGPT", "Claude AI", "Claude", "AI", "Biden Administration"}


def test_roles(seed: dict) -> None:
    assert {(r["person"], r["role"], r["org"]) for r in seed["roles"]} == SEED_ROLES
    for role in seed["roles"]:
        assert role["person"] in seed["text"][role["start"] : role["end"]]
        assert role["evidence"] in seed["text"]


def test_people(seed: dict) -> None:
    people = {p["name"] for p in seed["people"]}
    assert {"Nick Clegg", "Arvind Krishna", "Kevin Murphy", "Sam Altman"} <= people
    assert not people & SEED_ORGANISATIONS


def test_money(seed: dict) -> None:
    [money] = seed["money"]
    assert (money["text"], money["amount"], money["currency"]) == (
        "$80 billion",
        "80000000000",
        "USD",
    )
    assert "annual allocation towards research and development" in money["context"]
    assert seed["text"][money["start"] : money["end"]] == "$80 billion"


def test_contract_keys(seed: dict) -> None:
    keys = {"input", "url", "title", "author", "published", "language", "text"}
    keys |= {"organizations", "people", "roles", "money", "error"}
    assert keys <= set(seed)
    assert seed["error"] is None
    assert seed["language"] == "en"


def test_html_page_metadata_and_clean_body(outputs: dict[str, dict]) -> None:
    page = outputs[".html"]
    assert page["author"] == "Michael Scott"
    assert page["published"] == "2023-12-05"
    assert page["title"]
    assert page["title"] not in page["text"]
    # the author box and the byline are page furniture, not body
    assert "skilled and seasoned news writer" not in page["text"]
    assert page["text"].startswith("IBM and Meta are leading fellow tech titans")
    # the mention count of an organisation counts the body only: not the title, and not
    # the three section headings (each names the AI Alliance; the .txt sample keeps them)
    counts = {o["name"]: o["mentions"] for o in page["organizations"]}
    assert counts["IBM"] == 5
    assert counts["AI Alliance"] == 12
    assert "AI Alliance Integrates Academic Community" not in page["text"]

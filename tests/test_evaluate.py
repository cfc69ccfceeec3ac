"""`newsfacts eval`: the scoring rules on small hand-made annotations, the baseline update
rule, and the command on a tiny corpus folder."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from extractors.facts import Facts, Money, Organization, Role
from pipeline.cli import main
from pipeline.config import Settings
from pipeline.documents import CleanDocument, StageError
from pipeline.evaluate import (
    Annotation,
    BaselineError,
    amount_match,
    body_shingle_scores,
    body_summary,
    check_floors,
    dump_baseline,
    floor3,
    normalize_name,
    normalize_title,
    person_match,
    score_money,
    score_organizations,
    score_person_org,
    score_roles,
    shingles,
    title_match,
    update_baseline,
)


def gold(**fields: Any) -> Annotation:
    return Annotation.from_json({"id": "t-1", **fields})


def org(name: str, *aliases: str) -> Organization:
    return Organization(name=name, aliases=list(aliases))


def role(person: str, title: str, org: str | None) -> Role:
    return Role(person, title, org, evidence="", start=0, end=0, pattern="test")


def money(amount: str, currency: str, unit: str | None = None) -> Money:
    return Money(f"{amount} {currency}", Decimal(amount), currency, "", 0, 0, unit=unit)


def counts(score: Any) -> tuple[int, int, int]:
    return score.counts.tp, score.counts.fp, score.counts.fn


# --- organisations ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("U.S. Bureau of Engraving", "US Bureau of Engraving"),
        ("The Associated Press", "associated press"),
        ("Meta's", "Meta"),
        ("Reuters’", "Reuters"),
        ("Agence France-Presse", "Agence France Presse"),
        ("Société  Générale", "Societe Generale"),
    ],
)
def test_names_compare_after_normalisation(a: str, b: str) -> None:
    assert normalize_name(a) == normalize_name(b)


def test_a_prediction_matches_a_gold_org_through_either_sides_aliases() -> None:
    annotation = gold(
        organizations=["SoftBank Group Corp", "AFP", "Reuters"],
        org_aliases={"SoftBank Group Corp": ["SoftBank"]},
    )
    predicted = [
        org("softbank"),  # a gold alias
        org("Agence France-Presse", "AFP"),  # its own alias
        org("Thomson Reuters"),  # nothing
    ]
    score = score_organizations(annotation, predicted)
    assert counts(score) == (2, 1, 1)
    assert score.missed == ["Reuters"]
    assert score.false_positives == ["Thomson Reuters"]


def test_each_gold_org_counts_once_and_a_second_form_of_it_is_not_a_false_positive() -> None:
    annotation = gold(
        organizations=["SoftBank Group Corp"], org_aliases={"SoftBank Group Corp": ["SoftBank"]}
    )
    score = score_organizations(annotation, [org("SoftBank"), org("SoftBank Group Corp")])
    assert counts(score) == (1, 0, 0)


def test_optional_orgs_are_neither_rewarded_nor_penalised() -> None:
    annotation = gold(
        organizations=["BBC"],
        optional_organizations=["Downing Street"],
        org_aliases={"Downing Street": ["No 10"]},
    )
    assert counts(score_organizations(annotation, [org("BBC"), org("No 10")])) == (1, 0, 0)
    assert counts(score_organizations(annotation, [org("Downing Street")])) == (0, 0, 1)


# --- roles -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("predicted", "annotated", "expected"),
    [
        ("CEO", "chief executive", True),
        ("Chief Executive Officer", "CEO", True),
        ("chief financial officer", "CFO", True),
        ("Chairwoman", "chair", True),
        ("spokesman", "spokesperson", True),
        ("Editor-in-Chief", "editor in chief", True),
        ("former CEO", "chief executive", True),  # Jaccard 1/2
        ("vice president", "senior vice president", True),  # Jaccard 2/3
        ("president", "senior vice president", False),  # Jaccard 1/3
        ("CEO", "CFO", False),
        ("head of hotels", "general manager", False),
    ],
)
def test_titles_match_after_synonyms_or_by_token_overlap(
    predicted: str, annotated: str, expected: bool
) -> None:
    assert title_match(predicted, annotated) is expected


def test_synonym_phrases_become_one_token_longest_first() -> None:
    assert normalize_title("Acting Chief Executive Officer") == "acting ceo"
    assert normalize_title("the chairman of the board") == "the chair of the board"


@pytest.mark.parametrize(
    ("predicted", "annotated", "expected"),
    [
        ("Arvind Krishna", "Arvind Krishna", True),
        ("Krishna", "Arvind Krishna", True),
        ("arvind krishna", "Arvind Krishna", True),
        ("Martin Luther King Jr.", "Martin King", True),
        ("Arvind Krishnan", "Arvind Krishna", False),
        ("Arvind", "Arvind Krishna", False),
    ],
)
def test_people_match_on_full_name_or_surname(
    predicted: str, annotated: str, expected: bool
) -> None:
    assert person_match(predicted, annotated) is expected


def test_a_null_gold_org_must_be_predicted_null_and_a_named_one_named() -> None:
    annotation = gold(
        organizations=["IBM"],
        roles=[
            {"person": "Lindsey Graham", "role": "Sen.", "org": None},
            {"person": "Arvind Krishna", "role": "chief executive", "org": "IBM"},
        ],
    )
    right = [role("Graham", "Sen.", None), role("Krishna", "CEO", "IBM")]
    assert counts(score_roles(annotation, right)) == (2, 0, 0)
    wrong = [role("Graham", "Sen.", "IBM"), role("Krishna", "CEO", None)]
    score = score_roles(annotation, wrong)
    assert counts(score) == (0, 2, 2)
    assert score.false_positives == ["Graham · Sen. · IBM", "Krishna · CEO · —"]


def test_an_implicit_gold_org_accepts_the_named_org_or_null() -> None:
    annotation = gold(
        organizations=["Fairmont Jasper Park Lodge"],
        roles=[
            {
                "person": "Garrett Turta",
                "role": "general manager",
                "org": "Fairmont Jasper Park Lodge",
                "org_implicit": True,
            }
        ],
    )
    for predicted_org in (None, "Fairmont Jasper Park Lodge"):
        predicted = [role("Garrett Turta", "general manager", predicted_org)]
        assert counts(score_roles(annotation, predicted)) == (1, 0, 0)
    predicted = [role("Garrett Turta", "general manager", "Oxford Properties")]
    assert counts(score_roles(annotation, predicted)) == (0, 1, 1)


def test_a_role_org_matches_through_the_aliases_of_the_predicted_organisation() -> None:
    annotation = gold(
        organizations=["Office for Budget Responsibility"],
        roles=[
            {"person": "Richard Hughes", "role": "chair", "org": "Office for Budget Responsibility"}
        ],
    )
    orgs = [org("Office for Budget Responsibility", "OBR")]
    assert counts(score_roles(annotation, [role("Hughes", "chairman", "OBR")], orgs)) == (1, 0, 0)
    assert counts(score_roles(annotation, [role("Hughes", "chairman", "OBR")])) == (0, 1, 1)


def test_optional_roles_are_ignored_and_compound_titles_pair_one_to_one() -> None:
    annotation = gold(
        organizations=["TD Economics"],
        roles=[
            {"person": "Andrew Hencic", "role": "director", "org": "TD Economics"},
            {"person": "Andrew Hencic", "role": "senior economist", "org": "TD Economics"},
            {"person": "Nick Kaufman", "role": "lawyer", "org": None, "optional": True},
        ],
    )
    predicted = [
        role("Andrew Hencic", "senior economist", "TD Economics"),
        role("Nick Kaufman", "lawyer", None),
    ]
    score = score_roles(annotation, predicted)
    assert counts(score) == (1, 0, 1)
    assert score.missed == ["Andrew Hencic · director · TD Economics"]


def test_person_org_pairs_come_from_roles_with_an_org() -> None:
    annotation = gold(
        organizations=["TD Economics", "Oxford Properties"],
        roles=[
            {"person": "Andrew Hencic", "role": "director", "org": "TD Economics"},
            {"person": "Andrew Hencic", "role": "senior economist", "org": "TD Economics"},
            {"person": "Tyler MacDonald", "role": "head of hotels", "org": "Oxford Properties"},
            {"person": "Mark Carney", "role": "Prime Minister", "org": None},
        ],
    )
    predicted = [
        role("Hencic", "economist", "TD Economics"),  # the title plays no part
        role("Tyler MacDonald", "senior vice president", None),  # no org: no pair
        role("Mark Carney", "Prime Minister", "Liberal Party"),  # a pair gold does not have
    ]
    score = score_person_org(annotation, predicted)
    assert counts(score) == (1, 1, 1)
    assert score.missed == ["Tyler MacDonald · Oxford Properties"]
    assert score.false_positives == ["Mark Carney · Liberal Party"]


# --- money -----------------------------------------------------------------------------


def test_amounts_match_within_a_relative_tolerance_of_one_in_a_million() -> None:
    assert amount_match(Decimal("80000000000"), Decimal("80000000000.5"))
    assert amount_match(Decimal("0.7427"), Decimal("0.74270"))
    assert not amount_match(Decimal("1.5"), Decimal("1.50001"))
    assert amount_match(Decimal(0), Decimal(0))


def test_money_is_a_set_of_amount_and_currency_and_the_currency_must_match() -> None:
    annotation = gold(
        money=[
            {"text": "$100-million", "amount": 100000000, "currency": "CAD"},
            {"text": "$100-million", "amount": 100000000, "currency": "CAD"},  # repeated
            {"text": "$3.50 a share", "amount": 3.5, "currency": "USD", "unit": "per share"},
            {"text": "$1 bill", "amount": 1, "currency": "USD", "optional": True},
        ]
    )
    predicted = [
        money("100000000", "USD"),  # wrong currency
        money("3.5000001", "USD", unit="a share"),
        money("1", "USD"),  # optional
    ]
    score = score_money(annotation, predicted)
    assert counts(score) == (1, 1, 1)
    assert score.missed == ["$100-million = 100000000 CAD"]
    assert score.unit_agree == 1
    assert score_money(annotation, [money("3.5", "USD")]).unit_agree == 0


def test_annotation_amounts_are_read_as_exact_decimals(tmp_path: Path) -> None:
    path = tmp_path / "x-1.json"
    path.write_text('{"money": [{"text": "0.1", "amount": 0.1, "currency": "usd"}]}')
    [figure] = Annotation.load(path).money
    assert figure.amount == Decimal("0.1")
    assert figure.currency == "USD"


# --- body text -------------------------------------------------------------------------


def test_shingles_are_runs_of_four_word_tokens_case_kept() -> None:
    assert shingles("One, two; three four five!") == {
        ("One", "two", "three", "four"): 1,
        ("two", "three", "four", "five"): 1,
    }
    assert shingles("Too short.") == {("Too", "short"): 1}
    assert shingles("") == {}


def test_identical_bodies_score_one_and_disjoint_bodies_zero() -> None:
    text = "The harbour bridge reopened to traffic on Thursday morning."
    assert body_shingle_scores(text, text) == (1.0, 0.0, 0.0)
    summary = body_summary([body_shingle_scores(text, text)])
    assert summary is not None
    assert summary.f1 == 1.0
    disjoint = body_shingle_scores(text, "Cyclists will get a separate lane next month.")
    assert disjoint == (0.0, 5 / 11, 6 / 11)  # 5 predicted and 6 gold shingles, none shared
    summary = body_summary([disjoint])
    assert summary is not None
    assert summary.f1 == 0.0


def test_a_partial_body_scores_as_computed_by_hand() -> None:
    # gold "a b c d e": shingles abcd, bcde; predicted "a b c d x": abcd, bcdx
    # tp 1, fp 1, fn 1 -> precision 1/2, recall 1/2, F1 1/2
    assert body_shingle_scores("a b c d e", "a b c d x") == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    # gold "a b c d a b c d": abcd x2, bcda, cdab, dabc; predicted "a b c d": abcd x1
    # tp 1, fp 0, fn 4 -> precision 1, recall 1/5
    one = body_shingle_scores("a b c d a b c d", "a b c d")
    assert one == pytest.approx((0.2, 0.0, 0.8))
    # the corpus figure: precision = mean(1/2, 1) = 3/4, recall = mean(1/2, 1/5) = 7/20,
    # F1 = 2 * 3/4 * 7/20 / (3/4 + 7/20) = 21/44
    summary = body_summary([body_shingle_scores("a b c d e", "a b c d x"), one])
    assert summary is not None
    assert (summary.precision, summary.recall) == pytest.approx((0.75, 0.35))
    assert summary.f1 == pytest.approx(21 / 44)


def test_an_empty_prediction_counts_for_recall_only() -> None:
    summary = body_summary(
        [body_shingle_scores("a b c d e", ""), body_shingle_scores("a b", "a b")]
    )
    assert summary is not None
    assert (summary.precision, summary.recall) == (1.0, 0.5)


# --- the baseline ----------------------------------------------------------------------

TODAY = date(2026, 11, 27)
SCORES = {
    "body": 0.93538,
    "money": 0.90277,
    "organizations": 0.7216,
    "person_org": 0.375,
    "roles": 0.3895,
}


def test_floors_are_the_scores_rounded_down_to_three_decimals() -> None:
    assert floor3(0.87689) == 0.876
    assert floor3(0.7) == 0.7  # 0.7 * 1000 is 699.9999999999999 in floats
    baseline, changes = update_baseline({}, SCORES, command="newsfacts eval x", today=TODAY)
    assert baseline["floors"] == {
        "body": 0.935,
        "money": 0.902,
        "organizations": 0.721,
        "person_org": 0.375,
        "roles": 0.389,
    }
    assert baseline["measured"]["body"] == 0.9354
    assert changes["roles"] == (None, 0.389)
    assert (baseline["command"], baseline["date"]) == ("newsfacts eval x", "2026-11-27")
    text = dump_baseline(baseline)
    assert list(json.loads(text)) == sorted(json.loads(text))


def test_raising_a_floor_is_allowed_and_lowering_one_needs_a_reason() -> None:
    old, _ = update_baseline({}, SCORES, command="c", today=TODAY)
    better, changes = update_baseline(old, {**SCORES, "roles": 0.5}, command="c", today=TODAY)
    assert better["floors"]["roles"] == 0.5
    assert changes == {"roles": (0.389, 0.5)}
    assert "lowered" not in better

    worse = {**SCORES, "money": 0.8}
    with pytest.raises(BaselineError, match=r"money 0\.902 -> 0\.800.*--allow-lower"):
        update_baseline(old, worse, command="c", today=TODAY)

    lowered, _ = update_baseline(
        old, worse, command="c", today=TODAY, allow_lower="CAD is read as USD now"
    )
    assert lowered["floors"]["money"] == 0.8
    assert lowered["lowered"] == [
        {
            "date": "2026-11-27",
            "reason": "CAD is read as USD now",
            "metrics": {"money": {"from": 0.902, "to": 0.8}},
        }
    ]


def test_the_gate_allows_float_noise_under_a_floor_and_names_a_real_drop() -> None:
    floors = {"money": 0.9, "roles": 0.4}
    assert check_floors({"money": 0.8996, "roles": 0.5}, floors) == []
    [problem] = check_floors({"money": 0.8994, "roles": 0.5}, floors)
    assert "money" in problem
    assert "0.900" in problem
    assert "0.8994" in problem


# --- the command -----------------------------------------------------------------------

ARTICLES = {
    "a-1": (
        "Acme Corp said on Monday that its chief executive, Jane Smith, will step down. "
        "The company paid $5 million to settle the case.",
        {
            "organizations": ["Acme Corp"],
            "org_aliases": {"Acme Corp": ["Acme"]},
            "roles": [{"person": "Jane Smith", "role": "chief executive", "org": "Acme Corp"}],
            "money": [{"text": "$5 million", "amount": 5000000, "currency": "USD"}],
        },
    ),
    "a-2": (
        "Globex Ltd hired John Doe as chief financial officer, Reuters reported on Friday.",
        {
            "organizations": ["Globex Ltd", "Reuters"],
            "roles": [{"person": "John Doe", "role": "CFO", "org": "Globex Ltd"}],
            "money": [],
        },
    ),
}

# What a fake extractor "finds" in each article.
PREDICTED = {
    "a-1": Facts(
        organizations=[org("Acme")],
        roles=[role("Smith", "CEO", "Acme")],
        money=[money("5000000", "USD")],
    ),
    "a-2": Facts(
        organizations=[org("Globex Ltd"), org("Initech")],
        roles=[role("John Doe", "CFO", None)],
        money=[money("5", "EUR")],
    ),
}


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for id, (text, annotation) in ARTICLES.items():
        (folder / f"{id}.txt").write_text(text + "\n", encoding="utf-8")
        payload = {"id": id, "body_text": text, **annotation}
        (folder / f"{id}.json").write_text(json.dumps(payload), encoding="utf-8")
    (folder / "README.md").write_text("not an article")
    (folder / "orphan.json").write_text("{}")  # no page beside it: not evaluated
    return folder


class FakeExtractor:
    model_name = "fake"
    model_version = "0"

    def __init__(self, settings: Settings) -> None:
        self.batches = 0

    def extract_many(self, docs: Sequence[CleanDocument]) -> list[Facts]:
        self.batches += 1
        assert self.batches == 1, "the corpus goes through extract_many in one batch"
        return [PREDICTED[Path(doc.source).stem] for doc in docs]


def eval_cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["eval", *args])
    return code, out.getvalue()


def test_eval_json_gives_the_counts_per_fact_type(
    corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pipeline.extract.Extractor", FakeExtractor)
    code, out = eval_cli(str(corpus), "--json", "--show-errors")
    assert code == 0
    result = json.loads(out)
    assert result["articles"] == 2
    assert result["failed"] == []
    metrics = result["metrics"]
    tp_fp_fn = {name: (m["tp"], m["fp"], m["fn"]) for name, m in metrics.items() if "tp" in m}
    assert tp_fp_fn == {
        "organizations": (2, 1, 1),  # Initech is wrong, Reuters missed
        "roles": (1, 1, 1),  # John Doe's org predicted null
        "person_org": (1, 0, 1),
        "money": (1, 1, 0),  # the EUR figure
    }
    assert metrics["organizations"]["precision"] == pytest.approx(2 / 3, abs=1e-4)
    assert metrics["roles"]["f1"] == 0.5
    assert metrics["person_org"]["recall"] == 0.5
    assert metrics["money"]["unit_agree"] == 1
    assert metrics["body"] == {
        "articles": 2,
        "f1": 1.0,
        "mean_article_f1": 1.0,
        "precision": 1.0,
        "recall": 1.0,
    }
    assert result["errors"]["a-2"]["organizations"] == {
        "missed": ["Reuters"],
        "false_positives": ["Initech"],
    }
    assert result["errors"]["a-2"]["roles"]["false_positives"] == ["John Doe · CFO · —"]


def test_eval_prints_a_table_and_the_errors(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pipeline.extract.Extractor", FakeExtractor)
    code, out = eval_cli(str(corpus), "--show-errors")
    assert code == 0
    assert "organisations" in out
    assert "missed Reuters" in out
    assert "false + Initech" in out
    assert "2 articles in" in out


def test_update_baseline_writes_floors_and_refuses_to_lower_them(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pipeline.extract.Extractor", FakeExtractor)
    path = tmp_path / "baseline.json"
    assert eval_cli(str(corpus), "--update-baseline", str(path))[0] == 0
    baseline = json.loads(path.read_text())
    assert baseline["floors"] == {
        "body": 1.0,
        "money": 0.666,
        "organizations": 0.666,
        "person_org": 0.666,
        "roles": 0.5,
    }
    assert baseline["model"] == "fake 0"

    baseline["floors"]["roles"] = 0.6
    path.write_text(dump_baseline(baseline))
    assert eval_cli(str(corpus), "--update-baseline", str(path))[0] == 1
    assert json.loads(path.read_text())["floors"]["roles"] == 0.6  # unchanged

    code, _ = eval_cli(str(corpus), "--update-baseline", str(path), "--allow-lower", "test")
    assert code == 0
    written = json.loads(path.read_text())
    assert written["floors"]["roles"] == 0.5
    assert written["lowered"][0]["reason"] == "test"


class FailingExtractor(FakeExtractor):
    def extract_many(self, docs: Sequence[CleanDocument]) -> list[Facts | StageError]:
        out: list[Facts | StageError] = list(super().extract_many(docs))
        out[0] = StageError("extract", docs[0].source, "ValueError: broken rule")
        return out


def test_a_run_with_failed_articles_reports_them_and_sets_no_floors(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pipeline.extract.Extractor", FailingExtractor)
    code, out = eval_cli(str(corpus), "--json")
    assert code == 0
    result = json.loads(out)
    assert result["failed"] == [{"id": "a-1", "error": "extract: ValueError: broken rule"}]
    assert result["metrics"]["money"]["fn"] == 1  # a failed article found nothing
    path = tmp_path / "baseline.json"
    assert eval_cli(str(corpus), "--update-baseline", str(path))[0] == 1
    assert not path.exists()


def test_eval_usage_errors(corpus: Path, tmp_path: Path) -> None:
    assert eval_cli(str(tmp_path / "nowhere"))[0] == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert eval_cli(str(empty))[0] == 2
    assert eval_cli(str(corpus), "--allow-lower", "why")[0] == 2


@pytest.mark.slow
def test_eval_with_the_real_model(corpus: Path) -> None:
    code, out = eval_cli(str(corpus), "--json")
    assert code == 0
    result = json.loads(out)
    assert result["articles"] == 2
    assert result["failed"] == []
    metrics = result["metrics"]
    # whatever the rules find, every gold fact is either found or missed
    gold_counts = {"organizations": 3, "roles": 2, "person_org": 2, "money": 1}
    for name, n in gold_counts.items():
        assert metrics[name]["tp"] + metrics[name]["fn"] == n, name
    assert metrics["body"]["f1"] == 1.0  # plain text is not cleaned
    assert result["model"]
    assert result["articles_per_second"] > 0

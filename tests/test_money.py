"""Money parsing: exact Decimals, ISO currencies, scales, ranges, qualifiers, units."""

from decimal import Decimal

import pytest

from extractors.lexicon import read_json
from extractors.money import MoneyParser


@pytest.fixture(scope="module")
def parser() -> MoneyParser:
    return MoneyParser(read_json("currencies.json"))


@pytest.mark.parametrize(
    ("text", "written", "amount", "currency"),
    [
        ("a combined $80 billion annual allocation", "$80 billion", "80000000000", "USD"),
        ("a €5m fine", "€5m", "5000000", "EUR"),
        ("a £1.2bn deal", "£1.2bn", "1200000000", "GBP"),
        ("it costs C$100M to build", "C$100M", "100000000", "CAD"),
        ("worth RM1.5 million", "RM1.5 million", "1500000", "MYR"),
        ("R4bn for Sars debt collectors", "R4bn", "4000000000", "ZAR"),
        ("a ¥1,000 note", "¥1,000", "1000", "JPY"),
        ("US $12 billion in aid", "US $12 billion", "12000000000", "USD"),
        ("1,234,567.89 dollars", "1,234,567.89 dollars", "1234567.89", "USD"),
        ("just 95 cents", "95 cents", "0.95", "USD"),
        ("a loss of -$5 million", "-$5 million", "-5000000", "USD"),
        ("BRL 5 million", "BRL 5 million", "5000000", "BRL"),
        ("2 million euros", "2 million euros", "2000000", "EUR"),
        ("a $100-million revamp", "$100-million", "100000000", "USD"),
        ("closed at 74.27 U.S. cents", "74.27 U.S. cents", "0.7427", "USD"),
        ("Rs 500 crore was spent", "Rs 500 crore", "5000000000", "INR"),
        ("it cost ₹2 lakh", "₹2 lakh", "200000", "INR"),
        ("the state paid N5 billion", "N5 billion", "5000000000", "NGN"),
        ("it raised P2.3bn", "P2.3bn", "2300000000", "PHP"),
        ("it cost KSh 2 billion", "KSh 2 billion", "2000000000", "KES"),
        ("3.2 billion Swiss francs", "3.2 billion Swiss francs", "3200000000", "CHF"),
        ("a 10-million-euro fine", "10-million-euro", "10000000", "EUR"),
    ],
)
def test_single_figures(
    parser: MoneyParser, text: str, written: str, amount: str, currency: str
) -> None:
    [fig] = parser.find(text)
    assert fig.text == written
    assert fig.amount == Decimal(amount)
    assert isinstance(fig.amount, Decimal)
    assert fig.currency == currency
    assert text[fig.start : fig.end] == written


def test_range_gives_two_figures_with_the_scale_of_the_high_end(parser: MoneyParser) -> None:
    low, high = parser.find("investment of $40-50 billion")
    assert (low.amount, low.range) == (Decimal("40000000000"), "low")
    assert (high.amount, high.range) == (Decimal("50000000000"), "high")


def test_range_with_unit(parser: MoneyParser) -> None:
    low, high = parser.find("increase debt collection by R20bn to R50bn per year.")
    assert [low.amount, high.amount] == [Decimal("20e9"), Decimal("50e9")]
    assert low.unit == high.unit == "per year"
    assert low.currency == "ZAR"


def test_from_to_is_two_figures_not_a_range(parser: MoneyParser) -> None:
    old, new = parser.find("the budget was cut from $5 million to $3 million")
    assert (old.text, old.range) == ("$5 million", None)
    assert (new.text, new.range, new.amount) == ("$3 million", None, Decimal("3000000"))


def test_qualifier_and_unit(parser: MoneyParser) -> None:
    [fig] = parser.find("shares closed at nearly US$3.50 a share on Friday")
    assert (fig.qualifier, fig.unit, fig.amount) == ("nearly", "per share", Decimal("3.50"))


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("pony up $12/month or $80/yr to access it", ["per month", "per year"]),
        ("she earns about $35 an hour", ["per hour"]),
        ("it raised $5 million a year ago", [None]),
        ("a $5,000-a-year fee and a $1-a-share dividend", ["per year", "per share"]),
    ],
)
def test_units_after_a_slash_and_not_before_ago(
    parser: MoneyParser, text: str, units: list[str | None]
) -> None:
    assert [f.unit for f in parser.find(text)] == units


def test_bare_dollar_currency_is_a_setting() -> None:
    canadian = MoneyParser(read_json("currencies.json"), dollar="CAD")
    [fig] = canadian.find("a $100 million revamp")
    assert fig.currency == "CAD"


@pytest.mark.parametrize(
    "text",
    [
        "Dollar General Corp. shares",
        "the value of the pound",
        "billions of dollars",
        "in 2023",
        "N95",
        "N95 masks and the N1 highway",
        "grade P5 pupils",
        "Plan B is ready",
    ],
)
def test_no_amount_no_figure(parser: MoneyParser, text: str) -> None:
    assert parser.find(text) == []


def test_the_story_decides_which_dollar(parser: MoneyParser) -> None:
    canadian = (
        "Canada added jobs in January, Statistics Canada said. Canadian wages rose and the "
        "Bank of Canada may hold rates in Ottawa next week."
    )
    assert parser.dollar_of(canadian, "USD") == "CAD"
    american = "The U.S. economy grew. American firms and Washington lawmakers cheered."
    assert parser.dollar_of(american, "USD") == "USD"
    assert parser.dollar_of("Prices rose in Canada.", "USD") == "USD"  # one mention is not enough
    [fig] = parser.find("a $5-billion deal", dollar="CAD")
    assert (fig.amount, fig.currency) == (Decimal("5000000000"), "CAD")


@pytest.mark.parametrize(
    ("site", "url", "dollar"),
    [
        ("Ottawa Citizen", None, "CAD"),
        ("The West Australian", None, "AUD"),
        (None, "https://www.cbc.ca/news/story", "CAD"),
        (None, "https://www.smh.com.au/business/story", "AUD"),
        ("Financial Post", "https://financialpost.com/news", None),
        ("Reuters", "https://www.reuters.com/markets", None),
    ],
)
def test_the_publication_says_which_dollar(
    parser: MoneyParser, site: str | None, url: str | None, dollar: str | None
) -> None:
    assert parser.publication_dollar(site, url) == dollar


def test_a_canadian_sites_bare_dollar_is_canadian_unless_the_story_says_otherwise() -> None:
    from pipeline.config import Settings
    from pipeline.documents import CleanDocument
    from pipeline.extract import Extractor

    extractor = Extractor(Settings())
    story = "The city council approved a $5 million renovation of the library on Tuesday."
    us_story = (
        "The U.S. Senate passed a $5 million bill. American lawmakers in Washington said "
        "the United States would pay."
    )

    def dollar(text: str, site: str | None, url: str | None) -> str:
        doc = CleanDocument(
            source="x", url=url, text=text, content_hash="x", kind="text", site=site
        )
        [facts] = extractor.extract_many([doc])
        assert not isinstance(facts, Exception)
        return facts.money[0].currency  # type: ignore[union-attr]

    assert dollar(story, "Ottawa Citizen", None) == "CAD"
    assert dollar(story, None, "https://www.cbc.ca/news/library") == "CAD"
    assert dollar(story, None, None) == "USD"
    assert dollar(us_story, "Ottawa Citizen", None) == "USD"

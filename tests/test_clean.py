"""Decode and clean stages, and the language guesser."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path
from typing import Literal

import lxml.html
import pytest

from pipeline import furniture
from pipeline.clean import clean, content_hash, decode
from pipeline.config import Settings
from pipeline.documents import CleanDocument, RawDocument, StageError
from pipeline.fetch import fetch
from pipeline.langdetect import detect_language
from tests.conftest import PNG_BYTES

SAMPLE = Path(__file__).parent.parent / "samples" / "ai_alliance"
SETTINGS = Settings()

HEADINGS = {
    "AI Alliance to Prioritize Safety, Diversity and Collaboration",
    "AI Alliance Members Committed to Responsible Building",
    "AI Alliance Integrates Academic Community",
}
# Page furniture of article.html: none of it may reach the body.
FURNITURE = [
    "IBM and Meta Launch AI Alliance to Champion Open Source AI",  # the headline
    "Tech Ledger Daily",
    "We use cookies",
    "Accept all",
    "Manage preferences",
    "Gadgets",
    "Podcasts",
    "Search",
    "Artificial Intelligence",
    "By Michael Scott",
    "4 min read",
    "December 5, 2023",
    "Share",
    "Facebook",
    "LinkedIn",
    "Copy link",
    "Tags:",
    "AI policy",
    "skilled and seasoned news writer",
    "Michael Scott",
    "The Daily Byte",
    "unsubscribe",
    "Sign me up",
    "Related articles",
    "holiday shopping list",
    "chip shortage",
    "Open-weight models",
    "comments",
    "bytewrangler",
    "paying for all the compute",
    "Alliances like this come and go",
    "Leave a comment",
    "About us",
    "Privacy policy",
    "All rights reserved",
]

GERMAN_PAGE = """<!DOCTYPE html>
<html lang="de">
<head><meta charset="utf-8"><title>Stadtrat beschließt neuen Haushalt</title></head>
<body>
<nav><a href="/">Startseite</a> <a href="/politik">Politik</a></nav>
<article>
<h1>Stadtrat beschließt neuen Haushalt</h1>
<p>Der Stadtrat hat am Montag nach einer langen Debatte den neuen Haushalt für das kommende
Jahr beschlossen. Kritiker sagten, dass der Plan die Steuern für kleine Unternehmen erhöhen
werde.</p>
<p>Der Bürgermeister betonte dagegen, die zusätzlichen Einnahmen seien notwendig, um die
Schulen zu sanieren und den Nahverkehr auszubauen. Die Opposition kündigte an, gegen den
Beschluss zu klagen.</p>
</article>
</body>
</html>
"""

FRENCH_TEXT_ENGLISH_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Le conseil municipal adopte le budget</title></head>
<body>
<article>
<h1>Le conseil municipal adopte le budget</h1>
<p>Le conseil municipal a approuvé lundi le nouveau budget après un long débat. Les critiques
ont estimé que le plan allait augmenter les impôts des petites entreprises.</p>
<p>Le maire a affirmé qu'il était nécessaire pour financer les écoles et pour développer les
transports en commun dans toute la ville.</p>
</article>
</body>
</html>
"""


def _seed_paragraphs() -> list[str]:
    """Article paragraphs and sub-headings of the seed, without the author block."""
    blocks = [b.strip() for b in (SAMPLE / "article.txt").read_text("utf-8").split("\n\n")]
    blocks = [b for b in blocks if b]
    return blocks[: blocks.index("Michael Scott")]


@pytest.fixture(scope="module")
def sample_page() -> CleanDocument:
    return clean(fetch(str(SAMPLE / "article.html"), SETTINGS), SETTINGS)


def _raw(
    content: bytes, kind: Literal["html", "text"] = "html", charset: str | None = None
) -> RawDocument:
    return RawDocument(source="test", url=None, content=content, kind=kind, charset=charset)


def _error(raw: RawDocument) -> StageError:
    with pytest.raises(StageError) as info:
        clean(raw, SETTINGS)
    return info.value


# --------------------------------------------------------------------------- the sample


def test_sample_page_body_is_the_article(sample_page: CleanDocument) -> None:
    paragraphs = _seed_paragraphs()
    assert len(paragraphs) == 19  # 16 paragraphs and 3 sub-headings
    assert set(paragraphs) >= HEADINGS
    # the page sets the sub-headings as <h2>: section headings are not body
    body = [p for p in paragraphs if p not in HEADINGS]
    assert sample_page.text.split("\n\n") == body  # in order, nothing else


@pytest.mark.parametrize("furniture", FURNITURE)
def test_sample_page_body_has_no_furniture(sample_page: CleanDocument, furniture: str) -> None:
    assert furniture not in sample_page.text


def test_sample_page_metadata(sample_page: CleanDocument) -> None:
    assert sample_page.title == "IBM and Meta Launch AI Alliance to Champion Open Source AI"
    assert sample_page.author == "Michael Scott"
    assert sample_page.published == date(2023, 12, 5)
    assert sample_page.language == "en"
    assert sample_page.site == "Tech Ledger Daily"
    assert sample_page.kind == "html"
    assert sample_page.url is None
    assert sample_page.content_hash == content_hash(sample_page.text)


def test_sample_text_is_kept_as_is() -> None:
    seed = (SAMPLE / "article.txt").read_text("utf-8")
    document = clean(fetch(str(SAMPLE / "article.txt"), SETTINGS), SETTINGS)
    assert document.text == seed.rstrip()
    assert document.kind == "text"
    assert (document.title, document.author, document.published) == (None, None, None)
    assert document.language == "en"


def test_text_newlines_are_normalised() -> None:
    document = clean(_raw(b"First line.\r\nSecond line.\rThird line.  \n\n\n", "text"), SETTINGS)
    assert document.text == "First line.\nSecond line.\nThird line."


def test_content_hash_ignores_whitespace_only() -> None:
    assert content_hash("A  b\n\nc ") == content_hash("A b c")
    assert content_hash("A b c") != content_hash("A b d")


# --------------------------------------------------------------------------- decode


def test_declared_meta_charset_windows_1252() -> None:
    page = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'
        "</head><body><p>Caf\u00e9 \u201cquoted\u201d \u2013 \u20ac5</p></body></html>"
    )
    assert decode(_raw(page.encode("cp1252"))) == page


def test_http_charset_wins_over_meta() -> None:
    page = '<html><head><meta charset="utf-8"></head><body><p>Gr\u00fc\u00dfe</p></body></html>'
    assert "Gr\u00fc\u00dfe" in decode(_raw(page.encode("latin-1"), charset="iso-8859-1"))


def test_wrong_declared_charset_falls_back_to_utf8() -> None:
    page = (
        '<html><head><meta charset="ascii"></head><body><p>na\u00efve \u2014 ok</p></body></html>'
    )
    assert decode(_raw(page.encode("utf-8"))) == page


def test_valid_utf8_wins_over_a_default_latin1_header() -> None:
    page = "<html><body><p>Z\u00fcrich \u2013 caf\u00e9</p></body></html>"
    assert decode(_raw(page.encode("utf-8"), charset="iso-8859-1")) == page


def test_byte_order_marks() -> None:
    text = "Bonjour \u00e0 tous"
    assert decode(_raw(b"\xef\xbb\xbf" + text.encode(), "text")) == text
    assert decode(_raw(text.encode("utf-16"), "text")) == text  # BOM included by Python


def test_undeclared_latin1_text_is_detected(tmp_path: Path) -> None:
    text = (
        "Der Bürgermeister äußerte sich am Dienstag zur geplanten Brücke über die Förde.\n"
        "Die Gebühren für Anwohner würden nicht erhöht, sagte er. Ökonomen sind skeptisch.\n"
    )
    path = tmp_path / "latin1.txt"
    path.write_bytes(text.encode("latin-1"))
    document = clean(fetch(str(path), SETTINGS), SETTINGS)
    assert document.text == text.rstrip()
    assert document.language == "de"


def test_binary_file_named_html(tmp_path: Path) -> None:
    path = tmp_path / "picture.html"
    path.write_bytes(PNG_BYTES)
    raw = fetch(str(path), SETTINGS)
    error = _error(raw)
    assert error.stage == "decode"
    assert error.reason == f"{path} looks like binary data, not text/HTML"


def test_control_characters_are_binary() -> None:
    assert _error(_raw(bytes(range(1, 32)) * 20, "text")).stage == "decode"


# --------------------------------------------------------------------------- clean


LOGIN_PAGE = """<html><head><title>Sign in | Daily Example</title></head><body>
<header><a href="/">Daily Example</a>
<nav><a href="/news">News</a> <a href="/sport">Sport</a> <a href="/culture">Culture</a></nav>
</header>
<main><h1>Sign in</h1>
<form><label>Email <input name="email"></label> <label>Password <input type="password"></label>
<button>Sign in</button></form>
<p><a href="/reset">Forgot your password?</a></p></main>
<footer><a href="/privacy">Privacy</a> <a href="/terms">Terms</a> © 2024 Daily Example</footer>
</body></html>"""
INDEX_PAGE = """<html><head><title>News | Daily Example</title></head><body>
<nav><a href="/news">News</a> <a href="/sport">Sport</a></nav>
<main><h1>Latest news</h1><ul>
<li><a href="/a">Council approves new budget after long debate</a> <time>2 hours ago</time></li>
<li><a href="/b">Harbour bridge reopens after six months of repairs</a></li>
<li><a href="/c">Local team wins the cup in extra time</a></li></ul></main>
<footer>© 2024 Daily Example</footer></body></html>"""


@pytest.mark.parametrize(
    "page",
    [LOGIN_PAGE, INDEX_PAGE, "<html><head><title>Gallery</title></head><body></body></html>"],
)
def test_page_without_article_text(page: str) -> None:
    error = _error(_raw(page.encode()))
    assert error.stage == "clean"
    assert error.reason == "no article text found in the page (is this an article?)"


def test_whitespace_only_text() -> None:
    assert _error(_raw(b"  \n\t\n", "text")).stage == "clean"


def test_german_page() -> None:
    document = clean(_raw(GERMAN_PAGE.encode()), SETTINGS)
    assert document.language == "de"
    assert document.title == "Stadtrat beschließt neuen Haushalt"
    assert document.text.startswith("Der Stadtrat hat am Montag")
    assert "Startseite" not in document.text


def test_text_language_wins_over_a_wrong_declaration() -> None:
    document = clean(_raw(FRENCH_TEXT_ENGLISH_TEMPLATE.encode()), SETTINGS)
    assert document.language == "fr"


def test_declared_language_kept_when_detection_is_unsure() -> None:
    page = (
        '<html lang="pt-BR"><body><article><h1>Placar</h1><p>Placar final: Flamengo 2 x 1 '
        "Vasco. Gols: Pedro (12'), Arrascaeta (55'); Vegetti (80'). Público: 61.212 torcedores. "
        "Renda: R$ 4,1 milhões. Árbitro: Raphael Claus.</p></article></body></html>"
    )
    assert clean(_raw(page.encode()), SETTINGS).language == "pt"


def test_html_fragment_from_stdin() -> None:
    fragment = (
        b"<p>The council met on Monday and agreed on the new budget for the year, which "
        b"raises spending on schools and on the bus network by a modest amount.</p>"
    )
    raw = fetch("-", SETTINGS, stdin=io.BytesIO(fragment))
    assert raw.kind == "html"
    document = clean(raw, SETTINGS)
    assert document.text.startswith("The council met on Monday")
    assert document.language == "en"


# --------------------------------------------------------------------------- langdetect


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("en", "The council approved the new budget on Monday after a long debate."),
        ("de", "Der Rat hat am Montag nach einer langen Debatte den Haushalt beschlossen."),
        ("fr", "Le conseil a approuvé lundi le nouveau budget après un long débat avec le maire."),
        ("es", "El consejo aprobó el lunes el nuevo presupuesto tras un largo debate."),
        ("it", "Il consiglio ha approvato lunedì il nuovo bilancio dopo un lungo dibattito."),
        ("pt", "O conselho aprovou na segunda-feira o novo orçamento depois de um debate."),
        ("nl", "De raad heeft maandag na een lang debat de nieuwe begroting goedgekeurd."),
    ],
)
def test_detect_language(language: str, text: str) -> None:
    assert detect_language(text) == language


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Hello there.",  # too short
        "IBM Meta Oracle Red Hat Hugging Face Dell Sony Stability Linux CERN NASA Yale",
        "Kommunfullmäktige godkände på måndagen den nya budgeten efter en lång debatt.",
        "市議会は月曜日、長い議論の末に新しい予算を承認した。",
    ],
)
def test_detect_language_unsure(text: str) -> None:
    assert detect_language(text) is None


# ------------------------------------------------------- furniture and structured data

STORY = [
    "The city council approved the new budget on Monday after a debate that lasted well into"
    " the night.",
    "Spending on schools rises by four percent, and the bus network gets two new lines next"
    " spring.",
    "Opposition members said the plan raises fees for small businesses at the worst possible time.",
    "The mayor said the extra money was needed to repair roads and bridges that had been"
    " neglected for years.",
    "A final vote on the transport plan is expected in March, after a round of public hearings.",
]
STORY_HTML = "".join(f"<p>{p}</p>" for p in STORY)


def _page(head: str = "", article: str = STORY_HTML, after: str = "") -> bytes:
    return (
        f"<html><head><title>Council passes budget | Daily Example</title>{head}</head><body>"
        f"<article><h1>Council passes budget</h1>{article}</article>{after}</body></html>"
    ).encode()


def _json_ld(obj: dict[str, object]) -> str:
    return f'<script type="application/ld+json">{json.dumps(obj)}</script>'


def test_deck_under_the_headline_is_not_body() -> None:
    deck = "Schools and buses gain, small businesses pay more under the plan"
    page = _page(
        article=f'<header><h1>Council passes budget</h1><p class="article-subtitle">{deck}</p>'
        f"</header>{STORY_HTML}"
    )
    document = clean(_raw(page), SETTINGS)
    assert document.text.split("\n\n") == STORY


def test_boxes_inside_the_article_are_not_body() -> None:
    article = (
        f"<p>{STORY[0]}</p>"
        '<div class="article-factbox"><h2>Fact box</h2><p>The budget is the largest the city'
        " has passed since 1998, ahead of the one approved in 2019 by a wide margin.</p></div>"
        f"<p>{STORY[1]}</p>"
        '<blockquote class="Pullquote-quote">Spending on schools rises by four percent</blockquote>'
        f"<p>{STORY[2]}</p>"
        '<figure><img src="a.jpg"><p class="imageCaption">The council chamber on Monday night,'
        " shortly before the final vote was taken by the members.</p></figure>"
        f"<p>{STORY[3]}</p>"
        '<p><a href="/2019/budget">Council rejects the 2019 budget after a stormy night</a></p>'
        f"<p>{STORY[4]}</p>"
        "<p>Reporting by Jane Doe; Editing by John Roe</p>"
        "<p>Sign up for our morning newsletter to get the news in your inbox.</p>"
    )
    document = clean(_raw(_page(article=article)), SETTINGS)
    assert document.text.split("\n\n") == STORY


def test_headline_and_key_points_list_are_not_body() -> None:
    article = (
        "<h1>Council passes the budget after a long night of debate</h1>"
        "<ul><li>Schools get four percent more</li><li>Two new bus lines next spring</li></ul>"
        f"{STORY_HTML}"
    )
    document = clean(_raw(_page(article=article)), SETTINGS)
    assert document.text.split("\n\n") == STORY


def test_title_without_site_name_suffix() -> None:
    head = '<meta property="og:site_name" content="Daily Example">'
    assert clean(_raw(_page(head)), SETTINGS).title == "Council passes budget"


def test_json_ld_article_metadata() -> None:
    ld = {
        "@context": "https://schema.org",
        "@graph": [
            {"@type": "WebPage", "datePublished": "2001-01-01"},
            {
                "@type": "NewsArticle",
                "headline": "Council passes budget",
                "datePublished": "2024-03-07T21:33:00+01:00",
                "author": [
                    {"@type": "Person", "name": "Jane Doe"},
                    {"@type": "Organization", "name": "Daily Example Newsroom"},
                ],
                "publisher": {"@type": "NewsMediaOrganization", "name": "The Daily Example"},
            },
        ],
    }
    document = clean(_raw(_page(_json_ld(ld))), SETTINGS)
    assert document.published == date(2024, 3, 7)
    assert document.author == "Jane Doe"
    assert document.site == "The Daily Example"


def test_author_names_without_slugs_or_repeats() -> None:
    head = '<meta name="author" content="Jane Doe">' + _json_ld(
        {"@type": "BlogPosting", "author": {"@type": "Person", "name": "jane-doe"}}
    )
    page = _page(head, article=f'<p class="byline">By Jane-Doe</p>{STORY_HTML}')
    assert clean(_raw(page), SETTINGS).author == "Jane Doe"


RELATED = (
    '<aside class="related-stories"><h2>Related</h2><ul>'
    '<li><a href="https://example.com/2019/01/02/old-budget">Council rejects the old budget</a>'
    ' <time datetime="2019-01-02">January 2, 2019</time></li></ul></aside>'
)


def test_date_from_the_article_not_from_a_related_story() -> None:
    article = f'<time datetime="2024-03-07T10:00:00Z">March 7, 2024</time>{STORY_HTML}'
    assert clean(_raw(_page(article=article, after=RELATED)), SETTINGS).published == date(
        2024, 3, 7
    )


def test_date_from_meta_wins_over_related_story() -> None:
    head = '<meta property="article:published_time" content="2024-03-07T10:00:00Z">'
    assert clean(_raw(_page(head, after=RELATED)), SETTINGS).published == date(2024, 3, 7)


def test_no_date_rather_than_a_related_story_date() -> None:
    plain = '<div class="more-news"><a href="/2019/01/02/old">Old story</a>'
    plain += '<span class="date">January 2, 2019</span></div>'
    assert clean(_raw(_page(after=RELATED)), SETTINGS).published is None
    assert clean(_raw(_page(after=plain)), SETTINGS).published is None


def test_date_from_the_page_url() -> None:
    raw = RawDocument(
        source="https://example.com/news/2024/03/07/council-budget",
        url="https://example.com/news/2024/03/07/council-budget",
        content=_page(after=RELATED),
        kind="html",
    )
    assert clean(raw, SETTINGS).published == date(2024, 3, 7)


LONG_BODY = " ".join(STORY * 3)


def test_json_ld_article_body_when_the_page_has_no_body_text() -> None:
    ld = {"@type": "ReportageNewsArticle", "articleBody": LONG_BODY.replace(" time. ", " time.\n")}
    page = _page(_json_ld(ld), article='<div id="app">Loading…</div>')
    document = clean(_raw(page), SETTINGS)
    assert document.text.split("\n\n")[0].startswith(STORY[0])
    assert " ".join(document.text.split()) == LONG_BODY


def test_json_ld_teaser_is_not_the_body() -> None:
    ld = {"@type": "NewsArticle", "articleBody": STORY[0]}
    document = clean(_raw(_page(_json_ld(ld))), SETTINGS)
    assert document.text.split("\n\n") == STORY


def test_json_ld_html_article_body_becomes_paragraphs() -> None:
    html_body = "".join(f"<p>{p}</p>" for p in STORY * 3)
    ld = {"@context": "https://schema.org", "@type": "NewsArticle", "articleBody": html_body}
    page = _page(_json_ld(ld), article="<p>Loading…</p>")
    assert clean(_raw(page), SETTINGS).text.split("\n\n") == STORY * 3


def test_link_rich_paragraph_between_body_paragraphs_is_restored() -> None:
    tree = lxml.html.fromstring(
        '<html><body><article><div class="body">'
        + "".join(f"<p>{p}</p>" for p in STORY[:2])
        + '<p>She <a href="/x">toured the harbour bridge with the engineers</a> last week.</p>'
        + "".join(f"<p>{p}</p>" for p in STORY[2:])
        + '</div><div class="promo"><p>Subscribe now and save forty percent on your first'
        " year.</p></div></article></body></html>"
    )
    lines = furniture.restore_paragraphs(tree, STORY)
    assert lines == [
        *STORY[:2],
        "She toured the harbour bridge with the engineers last week.",
        *STORY[2:],
    ]


def test_section_headings_are_not_body() -> None:
    article = (
        f"<p>{STORY[0]}</p><p>{STORY[1]}</p>"
        "<h2>What the budget means for schools</h2>"
        f"<p>{STORY[2]}</p>"
        "<h3>Buses and roads</h3>"
        f"<p>{STORY[3]}</p><p>{STORY[4]}</p>"
    )
    document = clean(_raw(_page(article=article)), SETTINGS)
    assert document.text.split("\n\n") == STORY


def test_a_long_paragraph_set_in_a_heading_tag_stays() -> None:
    lede = (
        "The council passed the city budget on Monday night after a long debate that ran past "
        "midnight, with schools and buses the big winners and small businesses paying more."
    )
    article = f"<h2>{lede}</h2>{STORY_HTML}"
    document = clean(_raw(_page(article=article)), SETTINGS)
    assert document.text.split("\n\n")[0] == lede


def test_a_short_all_bold_paragraph_is_a_heading_but_a_bold_lede_is_body() -> None:
    lede = (
        "The council passed the city budget on Monday night after a long debate that ran "
        "past midnight, with schools and buses the big winners."
    )
    article = (
        f"<p><b>{lede}</b></p>"
        f"<p>{STORY[0]}</p><p>{STORY[1]}</p>"
        "<p><strong>Buses and roads get more money</strong></p>"
        f"<p>{STORY[2]}</p><p>{STORY[3]}</p><p>{STORY[4]}</p>"
    )
    document = clean(_raw(_page(article=article)), SETTINGS)
    assert document.text.split("\n\n") == [lede, *STORY]

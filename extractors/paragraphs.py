"""Paragraph breaks are sentence breaks.

The small sentence recogniser ("senter") sometimes runs a sentence over a blank
line, so that a heading or the last line of one paragraph joins the first
sentence of the next. News text never continues a sentence across paragraphs,
so this component marks the token after a line break as a sentence start.
It also takes back a start the recogniser puts inside a word ("Strava. Co" |
"-founder Michael Horvath"): a token glued to a previous word is never the
first of a sentence; nor is a lower-case word after an abbreviation's full
stop ("the U.S. | ambassador").
"""

from __future__ import annotations

from spacy.language import Language
from spacy.tokens import Doc


@Language.component("newsfacts_paragraphs", requires=["token.is_sent_start"])
def paragraph_breaks(doc: Doc) -> Doc:
    for token in doc[:-1]:
        nxt = doc[token.i + 1]
        if (token.is_space and "\n" in token.text) or "\n" in token.whitespace_:
            nxt.is_sent_start = True
        elif (
            nxt.is_sent_start
            and not token.whitespace_
            and (token.is_alpha or token.text in HYPHENS)
            and (nxt.is_alpha or nxt.text in HYPHENS)
        ):
            nxt.is_sent_start = False
        elif nxt.is_sent_start and nxt.is_lower and nxt.is_alpha and token.text.endswith("."):
            # "Ana Escrogima, the U.S. | ambassador to Oman": a sentence does not start
            # with a lower-case word; the full stop was an abbreviation's
            nxt.is_sent_start = False
    return doc


HYPHENS = {"-", "‐", "‑"}

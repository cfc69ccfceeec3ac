"""Paragraph breaks are sentence breaks.

The small sentence recogniser ("senter") sometimes runs a sentence over a blank
line, so that a heading or the last line of one paragraph joins the first
sentence of the next. News text never continues a sentence across paragraphs,
so this component marks the token after a line break as a sentence start.
"""

from __future__ import annotations

from spacy.language import Language
from spacy.tokens import Doc


@Language.component("newsfacts_paragraphs", requires=["token.is_sent_start"])
def paragraph_breaks(doc: Doc) -> Doc:
    for token in doc[:-1]:
        if (token.is_space and "\n" in token.text) or "\n" in token.whitespace_:
            doc[token.i + 1].is_sent_start = True
    return doc

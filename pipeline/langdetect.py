"""A small language guesser: function-word frequencies for a handful of languages.

Function words (articles, prepositions, pronouns, auxiliaries) make up a large share of
any running text and differ between languages, so counting them tells the language of
a news article reliably without a model. The word lists live in
``langdetect_words.json`` next to this file; adding a language is a data change.

The guess is deliberately cautious: ``detect_language`` returns None for short texts,
for texts with too few known function words (another language, or not prose) and when
two languages score close to each other.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path

WORDS_FILE = Path(__file__).with_name("langdetect_words.json")

MIN_TOKENS = 8  # fewer words than this: too short to say
MIN_SHARE = 0.10  # the winner's weighted function words: at least this share of all words
MIN_RATIO = 1.5  # ... and at least this many times the runner-up's share
MAX_TOKENS = 5000  # the start of a long text is enough

_TOKEN = re.compile(r"[^\W\d_]+")


@lru_cache(maxsize=1)
def function_words() -> dict[str, dict[str, float]]:
    """Language code -> {function word: weight}, from the data file.

    A word listed for several languages ("de", "la", "in") says less about which one it
    is: its weight is 1 / the number of languages that list it.
    """
    data = json.loads(WORDS_FILE.read_text(encoding="utf-8"))
    languages: dict[str, list[str]] = data["languages"]
    counts = Counter(word for words in languages.values() for word in set(words))
    return {lang: {word: 1 / counts[word] for word in words} for lang, words in languages.items()}


def language_scores(text: str) -> dict[str, float]:
    """Weighted share of the text's words that are function words of each language."""
    tokens = _TOKEN.findall(text.lower())[:MAX_TOKENS]
    if not tokens:
        return {lang: 0.0 for lang in function_words()}
    return {
        lang: sum(weights.get(token, 0.0) for token in tokens) / len(tokens)
        for lang, weights in function_words().items()
    }


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text's language, or None when unsure."""
    if len(_TOKEN.findall(text[:20_000])) < MIN_TOKENS:
        return None
    ranked = sorted(language_scores(text).items(), key=lambda item: item[1], reverse=True)
    (best, best_share), (_, second_share) = ranked[0], ranked[1]
    if best_share < MIN_SHARE or best_share < MIN_RATIO * second_share:
        return None
    return best

"""Word features for the CRF: one dict of named features per token.

The standard set for CRF taggers (as in sklearn-crfsuite's tutorial): the
word lowercased, its 2- and 3-character suffixes and prefix, its shape,
whether it is title case, upper case or a number, the same for the words
either side, and markers for the sentence's ends. Tweets add three cheap
markers: an @-mention, a #hashtag and a link.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from examples.ner.corpus import Sentence

Features = dict[str, str | bool | float]

_UPPER = re.compile(r"[A-Z]+")
_LOWER = re.compile(r"[a-z]+")
_DIGIT = re.compile(r"[0-9]+")


def shape(word: str) -> str:
    """The word's shape, runs collapsed: "Empire" -> "Xx", "ESB" -> "X", "2010" -> "d"."""
    text = _UPPER.sub("X", word)
    text = _LOWER.sub("x", text)
    return _DIGIT.sub("d", text)


def _word(word: str, prefix: str) -> Features:
    return {
        f"{prefix}lower": word.lower(),
        f"{prefix}istitle": word.istitle(),
        f"{prefix}isupper": word.isupper(),
        f"{prefix}shape": shape(word),
    }


def token_features(tokens: Sequence[str], position: int) -> Features:
    """The features of ``tokens[position]``, with its neighbours' (±1) and the ends marked."""
    word = tokens[position]
    features: Features = {
        "bias": 1.0,
        **_word(word, ""),
        "suffix3": word[-3:].lower(),
        "suffix2": word[-2:].lower(),
        "prefix3": word[:3].lower(),
        "isdigit": word.isdigit(),
        "mention": word.startswith("@"),
        "hashtag": word.startswith("#"),
        "link": word.lower().startswith(("http", "www.")),
    }
    if position > 0:
        features |= _word(tokens[position - 1], "-1:")
    else:
        features["BOS"] = True
    if position < len(tokens) - 1:
        features |= _word(tokens[position + 1], "+1:")
    else:
        features["EOS"] = True
    return features


def sentence_features(sentence: Sentence) -> list[Features]:
    """One feature dict per token of ``sentence``, in order."""
    return [token_features(sentence.tokens, i) for i in range(len(sentence))]

"""BM25's constructor parameters, checked once for the Python API and for configs.

Each check raises :class:`~rerankit.errors.ConfigFieldError` naming the parameter
(``params.k1``) and the values it accepts, so a config error names the file and the full
field (``retriever.params.k1``) and ``BM25(k1=...)`` raises the same words. They run
before anything is built: a wrong stemmer or stopword language would otherwise surface as
a KeyError from PyStemmer or bm25s' own message when indexing starts, and a k1 of NaN
would score every document NaN and return an empty run.
"""

from __future__ import annotations

import math

from rerankit.errors import ConfigFieldError

BM25S_VARIANTS = ("lucene", "robertson", "atire", "bm25l", "bm25+")
RANK_BM25_VARIANTS = ("okapi", "bm25l", "bm25plus")
#: the stopword languages bm25s knows by name (``bm25s.tokenization._infer_stopwords``)
STOPWORD_LANGUAGES = ("en", "english", "en_plus", "english_plus", "de", "german", "nl",
                      "dutch", "fr", "french", "es", "spanish", "pt", "portuguese", "it",
                      "italian", "ru", "russian", "sv", "swedish", "no", "norwegian", "zh",
                      "chinese", "tr", "turkish", "ko", "korean", "da", "danish")


def check_variant(engine: str, variant: str | None) -> str:
    """The engine's variant (its first when None); an unknown one names the field."""
    variants = BM25S_VARIANTS if engine == "bm25s" else RANK_BM25_VARIANTS
    variant = variant or variants[0]
    if variant not in variants:
        raise ConfigFieldError(("params", "variant"), f"variant {variant!r} is not one of "
                               f"{engine}'s: {', '.join(variants)}")
    return variant


def check_numbers(k1: float, b: float, delta: float) -> None:
    """k1 and delta finite and >= 0, b in [0, 1]: NaN or infinity would make every score
    NaN (an empty run) rather than an error."""
    for name, value, accepted, ok in (
            ("k1", k1, "a finite number >= 0", 0 <= k1 < math.inf),
            ("b", b, "a number from 0 to 1", 0 <= b <= 1),
            ("delta", delta, "a finite number >= 0", 0 <= delta < math.inf)):
        if not ok:                               # NaN fails every comparison
            raise ConfigFieldError(("params", name), f"BM25 {name} must be {accepted}, got "
                                   f"{value}")


def check_stemmer(stemmer: str | None) -> None:
    """A PyStemmer algorithm name, or None (no stemming). Without PyStemmer installed the
    name is not checked here: building the tokenizer says what to install."""
    if not stemmer:
        return
    try:
        import Stemmer
    except ImportError:
        return
    algorithms = Stemmer.algorithms()
    if stemmer not in algorithms:
        raise ConfigFieldError(("params", "stemmer"), f"unknown stemmer {stemmer!r}; "
                               f"PyStemmer's: {', '.join(algorithms)} (or null: no stemming)")


def check_stopwords(stopwords: str | list[str] | None) -> None:
    """A stopword language bm25s knows, a list of stopwords, or None (none removed)."""
    if isinstance(stopwords, str) and stopwords and stopwords not in STOPWORD_LANGUAGES:
        raise ConfigFieldError(("params", "stopwords"), f"unknown stopword language "
                               f"{stopwords!r}; known: {', '.join(STOPWORD_LANGUAGES)} (or "
                               "a list of words, or null: none removed)")

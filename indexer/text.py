"""Text normalisation shared by concept linking, lexical search and concept lookup.

Matching works on *stems* of normalised word tokens, so that case, plural and inflection
("leaders", "Leading"), hyphenation ("decision-making" / "decision making") and typographic
variants (curly quotes, dashes) all meet on the same key.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import NamedTuple

import Stemmer

# Letters/digits with inner apostrophes; hyphens split words so "go-between" == "go between".
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
_WORD_SPLIT = re.compile(f"({_WORD.pattern})", re.UNICODE)

# Contractions are function words too ("don't", "you're"): without them a curly-quoted "don’t"
# became a key phrase and a BM25 term.
_CONTRACTIONS = """ain't aren't can't couldn't daren't didn't doesn't don't hadn't hasn't haven't
    isn't mightn't mustn't needn't oughtn't shan't shouldn't wasn't weren't won't wouldn't
    i'm you're we're they're he's she's it's that's there's here's what's who's where's when's
    why's how's let's i've you've we've they've who've would've could've should've might've
    must've i'll you'll he'll she'll it'll we'll they'll that'll there'll who'll what'll i'd you'd
    he'd she'd it'd we'd they'd that'd there'd who'd what'd y'all"""

# The apostrophes a contraction is written with that stay inside a word token: ASCII ', the
# typographic ’ (also folded by `normalize`) and the modifier letter ʼ (U+02BC, a letter, so
# neither `_WORD` splits on it nor `normalize` folds it).
_APOSTROPHES = "'’ʼ"

# What is left of a contraction whose apostrophe splits the word instead (‘, `, ´: "doesn‘t" is
# "doesn" + "t"); only pieces that are no English word of their own ("won", "don", "haven" are).
_CONTRACTION_PIECES = """aren couldn daren didn doesn hadn hasn isn mightn mustn needn oughtn
    shouldn wasn weren wouldn ll ve"""

STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not now of off on once only or other our ours ourselves out over
    own same she should so some such than that the their theirs them themselves then there these
    they this those through to too under until up very was we were what when where which while who
    whom why will with would you your yours yourself yourselves s t also may might must
    shall cannot""".split()
    + [word.replace("'", mark) for word in _CONTRACTIONS.split() for mark in _APOSTROPHES]
    + _CONTRACTION_PIECES.split()
)


class Token(NamedTuple):  # a tuple: made by the million while indexing, and cheap to make
    text: str  # surface form as in the source
    norm: str  # lowercased, NFKC, apostrophes unified
    stem: str
    start: int  # offsets into the string that was tokenised
    end: int


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Snowball (Porter 2) stem of one lowercased word."""
    return str(_stemmer().stemWord(word))


def normalize(text: str) -> str:
    """NFKC, lower case, typographic quotes and dashes folded to ASCII."""
    text = unicodedata.normalize("NFKC", text).lower()
    return text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')


@lru_cache(maxsize=1 << 18)
def word_forms(word: str) -> tuple[str, str]:
    """(normalised, stem) of one word token; words repeat, so this is cached."""
    norm = normalize(word)
    return norm, stem(norm)


def tokenize(text: str) -> list[Token]:
    """Word tokens of `text` with their offsets. NFKC is applied per token so offsets stay exact."""
    tokens = []
    for m in _WORD.finditer(text):
        word = m.group()
        norm, word_stem = word_forms(word)
        tokens.append(Token(word, norm, word_stem, m.start(), m.end()))
    return tokens


def split_words(text: str) -> list[str]:
    """`text` cut into `[gap, word, gap, word, ..., gap]`: the words `tokenize` finds at the
    odd places, what lies between them at the even ones (joined, the parts give `text` back).
    For a hot loop that needs no `Token`s."""
    return _WORD_SPLIT.split(text)


def stems(text: str, *, drop_stop_words: bool = False) -> list[str]:
    """Stems of the words of `text`, optionally without stop words."""
    return [t.stem for t in tokenize(text) if not (drop_stop_words and t.norm in STOP_WORDS)]


def label_key(label: str) -> tuple[str, ...]:
    """Matching key of a concept label: the stems of its words, stop words kept
    ("management without leadership" must not collapse onto "management leadership")."""
    return tuple(stems(label))


def analyze(text: str) -> list[str]:
    """Terms for lexical (BM25) search: stems of the words of `text` without stop words."""
    out = []
    for word in _WORD.findall(text):
        norm, word_stem = word_forms(word)
        if norm not in STOP_WORDS:
            out.append(word_stem)
    return out

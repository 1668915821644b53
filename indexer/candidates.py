"""Candidate concepts: frequent key phrases of the corpus that no curated concept covers yet.

They are proposals for a curator, kept apart from the curated scheme and never linked.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .linking import LexicalMatcher
from .models import Candidate, Concept, Passage
from .namespaces import candidate_uri
from .text import STOP_WORDS, Token, label_key, stem, tokenize

MAX_WORDS = 3
MAX_EVIDENCE = 5
SINGLE_WORD_WEIGHT = 0.5  # C-value weighs an n-word term by log2(n); a lone word gets half a pair

# Words that do not belong in a key phrase although they are not stop words (a RAKE-style
# delimiter list): common verbs, evaluative adjectives, connectives and number words. Without a
# part-of-speech tagger these keep "leadership provides" or "effective" out of the proposals.
PHRASE_BREAKS = frozenset(
    """achieve across act adopt allow also although among another aspect based become best beyond
    bring can certain clear come common concurrently contribute conversely create critical
    crucial cultivate day delve demonstrate despite determine different difference distinct
    do done drive due effective effectively eight either else emerge enable encourage
    enhance ensure essence essential even ever every example explore five focus foster four
    fully further get give go good great help however important include instead involve
    keep key let like likely lot make many meanwhile moreover much need new nine often one
    order part play possible propel provide put rather real really recognize require rest
    reveal say see serve set seven several show simply simultaneously six still strong take
    ten thing think three thus together toward towards true truly turn two unveil use
    useful various way well whether within without work yet""".split()
)
_BREAK_STEMS = frozenset(stem(w) for w in PHRASE_BREAKS)

# Words of a phrase may be separated by spaces and hyphens only ("day-to-day", "real world");
# any other character (punctuation, quotes, emoji) ends the phrase.
_JOINER = re.compile(r"[ \t\-‐‑]*")


@dataclass
class _Phrase:
    frequency: int = 0
    passages: list[str] = field(default_factory=list)  # in order of first occurrence
    documents: set[str] = field(default_factory=set)
    surfaces: Counter[str] = field(default_factory=Counter)


def mine_candidates(
    passages: Sequence[Passage],
    vocabulary: LexicalMatcher | Iterable[Concept],
    *,
    min_frequency: int = 2,
    min_documents: int = 1,
    limit: int = 50,
) -> list[Candidate]:
    """The corpus's key phrases that match no concept label, best first.

    Phrases are runs of 1 to 3 words within a sentence, without stop words, numbers or
    punctuation inside, compared on stems. A phrase is dropped when its stems equal, or lie
    within, the stems of a concept label of `vocabulary` (a matcher, or the concepts):
    "mindset" is in "leadership mindset"; and when it is made only of one-word labels:
    "management roles" combines two concepts.

    Score (C-value with an IDF factor, scaled so the best is 1.0):
    ``w(n) * (f - mean f of the longer kept phrases containing it) * ln(1 + N / df)``
    for an n-word phrase seen f times in df of the N passages, w(n) = log2 n for n > 1 and 0.5
    for a single word. The first factor prefers multi-word terms, the second discounts a phrase
    that mostly occurs inside a longer one, the third words spread over the whole corpus.
    Ties are broken by frequency, then id, so the result is deterministic.
    """
    if isinstance(vocabulary, LexicalMatcher):
        keys = set(vocabulary.label_keys)
    else:
        keys = {label_key(label) for c in vocabulary for label in c.labels}
    covered = _label_fragments(keys)
    concept_words = {key[0] for key in keys if len(key) == 1}
    phrases: dict[tuple[str, ...], _Phrase] = {}
    for passage in passages:
        for run in _runs(passage):
            for n in range(1, MAX_WORDS + 1):
                for i in range(len(run) - n + 1):
                    words = run[i : i + n]
                    key = tuple(_stem(t) for t in words)
                    phrase = phrases.setdefault(key, _Phrase())
                    phrase.frequency += 1
                    if not phrase.passages or phrase.passages[-1] != passage.id:
                        phrase.passages.append(passage.id)  # passages come one after another
                    phrase.documents.add(passage.document_id)
                    surface = passage.text[words[0].start : words[-1].end]
                    phrase.surfaces[" ".join(surface.split())] += 1

    kept = {
        key: p
        for key, p in phrases.items()
        if p.frequency >= min_frequency
        and len(p.documents) >= min_documents
        and key not in covered
        and not all(word in concept_words for word in key)
    }
    # the frequencies of the longer kept phrases that contain each phrase, by its key
    containing: dict[tuple[str, ...], list[int]] = {}
    for key, p in kept.items():
        for part in _fragments(key) - {key}:
            containing.setdefault(part, []).append(p.frequency)
    n_passages = max(len(passages), 1)
    raw: list[tuple[float, tuple[str, ...], _Phrase]] = []
    for key, p in kept.items():
        longer = containing.get(key, [])
        nested = sum(longer) / len(longer) if longer else 0.0
        termhood = p.frequency - nested
        if termhood <= 0:
            continue  # never seen outside longer phrases: the longer phrase is the term
        idf = math.log(1 + n_passages / len(p.passages))
        weight = math.log2(len(key)) if len(key) > 1 else SINGLE_WORD_WEIGHT
        raw.append((weight * termhood * idf, key, p))
    if not raw:
        return []
    best = max(score for score, _, _ in raw)
    ranked = sorted(raw, key=lambda r: (-r[0], -r[2].frequency, _label(r[2])))

    out: list[Candidate] = []
    ids: set[str] = set()
    for score, _, p in ranked[:limit]:
        label = _label(p)
        slug = _slug(label)
        unique, suffix = slug, 2
        while unique in ids:
            unique, suffix = f"{slug}-{suffix}", suffix + 1
        ids.add(unique)
        out.append(
            Candidate(
                uri=candidate_uri(unique),
                id=unique,
                label=label,
                frequency=p.frequency,
                document_frequency=len(p.documents),
                score=round(score / best, 6),
                evidence=tuple(p.passages[:MAX_EVIDENCE]),
            )
        )
    return out


def _runs(passage: Passage) -> list[list[Token]]:
    """Maximal runs of content words within each sentence of `passage`."""
    runs: list[list[Token]] = []
    for span in passage.sentences:
        start = max(span.start, passage.start) - passage.start
        end = min(span.end, passage.end) - passage.start
        if start >= end:
            continue
        run: list[Token] = []
        previous: Token | None = None
        for token in tokenize(passage.text[start:end]):
            token = Token(
                token.text, token.norm, token.stem, start + token.start, start + token.end
            )
            joined = previous is not None and _JOINER.fullmatch(
                passage.text, previous.end, token.start
            )
            if not joined or not _is_content(token):
                if run:
                    runs.append(run)
                run = []
            if _is_content(token):
                run.append(token)
            previous = token
        if run:
            runs.append(run)
    return runs


def _is_content(token: Token) -> bool:
    word = token.norm.removesuffix("'s")
    return (
        len(word) > 1
        and word not in STOP_WORDS
        and token.stem not in _BREAK_STEMS
        and not any(ch.isdigit() for ch in word)
    )


def _stem(token: Token) -> str:
    # the possessive is not part of the term: "organization's resources" ~ "organization resources"
    return stem(token.norm[:-2]) if token.norm.endswith("'s") else token.stem


def _label_fragments(keys: Iterable[tuple[str, ...]]) -> set[tuple[str, ...]]:
    """Every contiguous part of every label key."""
    return {part for key in keys for part in _fragments(key)}


def _fragments(key: tuple[str, ...]) -> set[tuple[str, ...]]:
    """Every contiguous part of `key`, `key` included."""
    return {key[i:j] for i in range(len(key)) for j in range(i + 1, len(key) + 1)}


def _label(phrase: _Phrase) -> str:
    """The most frequent surface form; on a tie the lower-case one, then the first in order."""
    return min(phrase.surfaces.items(), key=lambda s: (-s[1], s[0] != s[0].lower(), s[0]))[0]


def _slug(label: str) -> str:
    words = [t.norm.removesuffix("'s") for t in tokenize(label)]
    return "-".join(re.sub(r"[^a-z0-9]+", "", w) or w for w in words)

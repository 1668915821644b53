"""Candidate concepts: frequent key phrases of the corpus that no curated concept covers yet.

They are proposals for a curator, kept apart from the curated scheme and never linked.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate
from typing import cast

from .linking import LexicalMatcher
from .models import Candidate, Concept, Passage
from .namespaces import candidate_uri
from .text import STOP_WORDS, label_key, split_words, stem, tokenize, word_forms

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
    Ties are broken by frequency, then label, so the result is deterministic.
    """
    if isinstance(vocabulary, LexicalMatcher):
        keys = set(vocabulary.label_keys)
    else:
        keys = {label_key(label) for c in vocabulary for label in c.labels}
    covered = _label_fragments(keys)
    concept_words = {key[0] for key in keys if len(key) == 1}
    # per passage, the stems of its runs of content words (offsets are taken again for labels)
    runs = [[run.stems for run in _runs(passage)] for passage in passages]
    # Every phrase is counted, in C (zip makes the keys, Counter counts them); the passages of
    # the phrases that may be kept are gathered next, and surfaces only for the few labelled.
    counts: Counter[tuple[str, ...]] = Counter()
    for passage_runs in runs:
        counts.update(_phrases(passage_runs))
    wanted = {
        key
        for key, frequency in counts.items()
        if frequency >= min_frequency
        and key not in covered
        and not all(word in concept_words for word in key)
    }
    postings: defaultdict[tuple[str, ...], list[int]] = defaultdict(list)  # passage rows
    for row, passage_runs in enumerate(runs):
        for key in wanted.intersection(_phrases(passage_runs)):
            postings[key].append(row)
    documents = [passage.document_id for passage in passages]

    def document_frequency(rows: list[int]) -> int:
        return len({documents[row] for row in rows})

    kept = {
        key: rows
        for key, rows in postings.items()
        if min_documents <= 1 or document_frequency(rows) >= min_documents
    }
    # the frequencies of the longer kept phrases that contain each phrase, by its key
    containing: dict[tuple[str, ...], list[int]] = {}
    for key in kept:
        for part in _fragments(key) - {key}:
            containing.setdefault(part, []).append(counts[key])
    n_passages = max(len(passages), 1)
    raw: list[tuple[float, int, tuple[str, ...]]] = []  # (score, frequency, key)
    for key, rows in kept.items():
        longer = containing.get(key, [])
        nested = sum(longer) / len(longer) if longer else 0.0
        termhood = counts[key] - nested
        if termhood <= 0:
            continue  # never seen outside longer phrases: the longer phrase is the term
        idf = math.log(1 + n_passages / len(rows))
        weight = math.log2(len(key)) if len(key) > 1 else SINGLE_WORD_WEIGHT
        raw.append((weight * termhood * idf, counts[key], key))
    if not raw:
        return []
    best = max(score for score, _, _ in raw)
    raw.sort(key=lambda r: (-r[0], -r[1]))
    # the label breaks ties of score and frequency: needed down to the last tie of the last kept
    last = min(limit, len(raw)) - 1
    shown = [r for r in raw if (r[0], r[1]) >= (raw[last][0], raw[last][1])] if last >= 0 else []
    labels = _labels({key for _, _, key in shown}, kept, passages)
    ranked = sorted(shown, key=lambda r: (-r[0], -r[1], labels[r[2]]))

    out: list[Candidate] = []
    ids: set[str] = set()
    for score, frequency, key in ranked[:limit]:
        label = labels[key]
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
                frequency=frequency,
                document_frequency=document_frequency(kept[key]),
                score=round(score / best, 6),
                evidence=tuple(passages[row].id for row in kept[key][:MAX_EVIDENCE]),
            )
        )
    return out


def _phrases(runs: Iterable[list[str]]) -> list[tuple[str, ...]]:
    """The key of every phrase of `runs` (the stems of each), an occurrence each: 1 to
    MAX_WORDS consecutive stems of a run."""
    keys: list[tuple[str, ...]] = []
    for words in runs:
        keys.extend(zip(words, strict=False))
        for n in range(2, min(MAX_WORDS, len(words)) + 1):  # most runs are a word or two
            keys.extend(zip(*(words[i:] for i in range(n)), strict=False))
    return keys


def _labels(
    keys: set[tuple[str, ...]],
    rows: dict[tuple[str, ...], list[int]],
    passages: Sequence[Passage],
) -> dict[tuple[str, ...], str]:
    """The label of each phrase of `keys` (whose passage rows `rows` gives): its most frequent
    surface form, white space collapsed; on a tie the lower-case one, then the first in order."""
    surfaces: dict[tuple[str, ...], Counter[str]] = {key: Counter() for key in keys}
    by_first: dict[str, list[tuple[str, ...]]] = defaultdict(list)  # the keys a word starts
    for key in keys:
        by_first[key[0]].append(key)
    for row in sorted({row for key in keys for row in rows[key]}):
        text = passages[row].text
        for run in _runs(passages[row]):
            for i, word in enumerate(run.stems):
                for key in by_first.get(word, ()):
                    n = len(key)
                    if tuple(run.stems[i : i + n]) == key:
                        surface = text[run.starts[i] : run.ends[i + n - 1]]
                        surfaces[key][" ".join(surface.split())] += 1
    return {
        key: min(forms.items(), key=lambda s: (-s[1], s[0] != s[0].lower(), s[0]))[0]
        for key, forms in surfaces.items()
    }


@dataclass(frozen=True, slots=True)
class _Run:
    """A maximal run of content words: their phrase stems and offsets into the passage text."""

    stems: list[str]
    starts: list[int]
    ends: list[int]


def _runs(passage: Passage) -> list[_Run]:
    """Maximal runs of content words within each sentence of `passage`."""
    runs: list[_Run] = []
    for span in passage.sentences:
        start = max(span.start, passage.start) - passage.start
        end = min(span.end, passage.end) - passage.start
        if start >= end:
            continue
        parts = split_words(passage.text[start:end])
        gaps = parts[0::2]  # gaps[i] lies before word i
        words = [_content_stem(word) for word in parts[1::2]]
        bounds: list[tuple[int, int]] = []  # (first word, past the last) of each run
        first: int | None = None  # of the run being read
        for i, word in enumerate(words):
            if word is None:
                if first is not None:
                    bounds.append((first, i))
                    first = None
            elif first is None:
                first = i
            elif not _joins(gaps[i]):
                bounds.append((first, i))
                first = i
        if first is not None:
            bounds.append((first, len(words)))
        # where each part ends, in passage offsets: word i starts at ends[2i], ends at ends[2i+1]
        ends = list(accumulate(map(len, parts), initial=start))[1:]
        for a, b in bounds:
            stems = cast(list[str], words[a:b])  # content words only: no None in a run
            runs.append(_Run(stems, ends[2 * a : 2 * b : 2], ends[2 * a + 1 : 2 * b : 2]))
    return runs


@lru_cache(maxsize=4096)
def _joins(gap: str) -> bool:
    """Whether two words with `gap` between them may belong to one phrase."""
    return _JOINER.fullmatch(gap) is not None


@lru_cache(maxsize=1 << 18)
def _content_stem(word: str) -> str | None:
    """The stem a word token adds to a key phrase, or None when it is no content word: a stop
    word, a break word, a number or a single character. A possessive is not part of the term:
    "organization's resources" ~ "organization resources"."""
    norm, word_stem = word_forms(word)
    bare = norm.removesuffix("'s")
    if len(bare) < 2 or bare in STOP_WORDS or word_stem in _BREAK_STEMS:
        return None
    if any(ch.isdigit() for ch in bare):
        return None
    return stem(bare) if bare != norm else word_stem


def _label_fragments(keys: Iterable[tuple[str, ...]]) -> set[tuple[str, ...]]:
    """Every contiguous part of every label key."""
    return {part for key in keys for part in _fragments(key)}


def _fragments(key: tuple[str, ...]) -> set[tuple[str, ...]]:
    """Every contiguous part of `key`, `key` included."""
    return {key[i:j] for i in range(len(key)) for j in range(i + 1, len(key) + 1)}


def _slug(label: str) -> str:
    words = [t.norm.removesuffix("'s") for t in tokenize(label)]
    return "-".join(re.sub(r"[^a-z0-9]+", "", w) or w for w in words)

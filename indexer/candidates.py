"""Candidate concepts: key phrases of the corpus that no curated concept covers yet, ranked by
termhood (how much they look like terms of the corpus's field rather than common words), and
only as many as the evidence supports: where the ontology already covers the corpus, the list is
short or empty. They are proposals for a curator, kept apart from the curated scheme and never
linked.

A proposal is a run of 1 to 3 content words within a sentence (no stop word, contraction,
number or punctuation inside) that is *shaped like a term*, a noun phrase (modifier)* noun: judged
on the words of its label with the part-of-speech lexicon of `lemminflect` (every tag a word can
have, without context) and, where a word could be a verb or an adjective, on the words around
its occurrences ("you want", "to build trust", "is diverse", "hybrid team"). So no bare
adjective, verb or adverb is proposed, nor a phrase that ends in one or starts with a verb; nor
a name of a person or company ("John Kotter", but "Thomas-Kilmann"), nor a piece of a longer
capitalised name ("Harvard Business" of "Harvard Business School"), nor an abbreviation cut
short by a full stop ("para. 3", "vs."), nor a phrase always seen inside the same longer one.
A hyphenated compound is one unit: "capable employees" is not seen in "remote-capable
employees", nor "self" in "self-awareness".

Score, scaled so that the first proposal has 1.0, for a phrase p of n words seen f times in df
of the N passages::

    w(n) * (f - mean f of the longer kept phrases containing p) * ln(1 + N / df) * S(p)
    S(p) = mean over the words x of p of g(R(x))
    R(x) = lower end of the 95% interval of P_corpus(x), over P_english(x)
    g(r) = ln r - 1 + 1/r for r > 1, else 0

- ``w(n) * (f - ...)`` is C-value (Frantzi, Ananiadou & Mima 2000): w(n) = log2 n for n > 1 and
  0.5 for one word, since curators want multi-word terms more than single words; the nested
  discount makes a phrase that mostly occurs inside a longer one give way to it.
- ``ln(1 + N / df)`` prefers phrases that are the topic of some passages over words spread
  thinly over all of them.
- ``S(p)`` is the domain contrast: how much more often the phrase's words occur in this corpus
  than in general English, by `wordfreq`'s frequencies (a word it does not list counts as rare
  as the rarest it lists), averaged over the words as Glossex does (Kozakov et al. 2004). f *
  g(r) is half of Dunning's log-likelihood G2 of a word seen f times at r times its general
  rate, against a reference corpus far larger than this one (Rayson & Garside 2000): the
  standard test of "more frequent here than in general", which grows with the frequency and
  with the log of the ratio ("weirdness", Ahmad et al. 1999). Frequency alone ranks "time",
  "feel" and "people" first in any corpus; a word no commoner here than in general English adds
  nothing, and a phrase made only of such words is not proposed.
- A word is judged by its commonest form here, with its singular or plural, against that form
  in English: "coaching" (82 times its English rate on the development set), not the stem it
  shares with "coach" and "coaches" of sport and travel (20 times); "complexities" with
  "complexity", so that a noun seen here only in the plural is not taken for a rare word.
- R(x) is conservative: a corpus count is a Poisson sample, and a word seen twice in 12,000
  tokens is 20 times its English rate whenever English has it below 1 in 100,000, which most
  words are. The lower end of the count's one-sided 95% interval (0.35 for 2, 0.81 for 3,
  22.4 for 31) asks for the evidence, not the point estimate: "catalysts", 4 times in 4
  documents of the development set, is 48 times its English rate but 16 at the lower end;
  "coaching", 19 times, keeps 54.

The list ends where the evidence does; `limit` is only its maximum:

- **The termhood floor.** A phrase is proposed only if it scores at least what the weakest
  evidence worth a curator's look would: a two-word phrase seen twice, in one passage, whose
  words are both DOMAIN_RATIO times as frequent here as in general English, i.e.
  ``2 * ln(1 + N) * g(DOMAIN_RATIO)`` (19.6 for the 252 passages of the development set). It is
  absolute, not a share of the best phrase's score: when every phrase of the corpus is weak,
  none is proposed.
- **Single words** are proposed only if they are domain words: R(x) >= DOMAIN_RATIO, and seen
  in 2 documents or more, or in one only if general English hardly has the word (R(x) >=
  ONE_DOCUMENT_RATIO: "ADKAR", "OKRs", "Refreeze"; not "SaaS" or "email"). Generic nouns never
  qualify, however often an article repeats them: on the development set "issue" is 3.6 times
  its English rate (2.2 at the lower end), "research" 3.4 (1.8), "message" 4.4 (2.0), "tips"
  5.7 (2.2), "tools" 6.7 (2.9), "email" 13 (7.0), "context" 14 (7.2).

How DOMAIN_RATIO = 15 was chosen, from the hand-judged proposals of the 40-article development
set (`tests/data/leadership_dev_candidates.json`, `python -m bench.candidate_eval`): the
precision over all proposals rises with the ratio and levels off from 15, while the count of
useful proposals keeps falling. With the 49-concept ontology of that time, the largest judged
pool: 0.88 of 65 proposals at 10, 0.91 of 55 at 12, 0.94 of 48 at 14, 0.96 of 46 at 15, 0.97 of
40 at 18, 0.97 of 38 at 20, 0.97 of 34 at 25 (of the 8 phrases between 15 and 20, 7 are
useful; of the 19 between 10 and 15, 13). With the 224-concept ontology, which covers most of
the set's terms: 0.50 of 6 at 10, 0.75 of 4 at 12 and 13, 1.0 of 3 from 14 to 20. 15 is the
lowest round value on the plateau. Checks beyond that set: each half of it alone (20 articles)
gets a precision at 20 of 0.95 and 0.85 with the small ontology, and 1 and 4 proposals with
the large one, 4 of the 5 useful; 3,000 SciFact abstracts, a field the ontology does not
cover, still fill the 50 places with biomedical terms; the three bundled articles give 5.

Ties are broken by frequency, then label, so the result is deterministic.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate, compress
from typing import cast

from .errors import LeadgraphError
from .linking import LexicalMatcher
from .models import Candidate, Concept, Passage
from .namespaces import candidate_uri
from .text import STOP_WORDS, label_key, split_words, stem, tokenize, word_forms

MAX_WORDS = 3
MAX_EVIDENCE = 5
SINGLE_WORD_WEIGHT = 0.5  # C-value weighs an n-word term by log2(n); a lone word gets half a pair
# A phrase's label and the words around it are read from at most this many of its passages:
# enough for a majority, and reading every passage of "cells" in a biomedical corpus is not.
SAMPLE_PASSAGES = 32
# wordfreq's English list stops at 1e-8; a word it does not list is taken as that rare
ENGLISH_FLOOR = 1e-8
# A domain word is at least this many times as frequent here as in general English, at the
# lower end of its confidence interval; the termhood floor is set by it too. Chosen on the
# development set's judged proposals, as the module docstring says.
DOMAIN_RATIO = 15.0
# A word seen in one document only is proposed alone only if general English hardly has it
ONE_DOCUMENT_RATIO = 10 * DOMAIN_RATIO
_Z95 = 1.645  # one-sided 95% quantile of the normal distribution

# Words that do not belong in a key phrase although they are not stop words (a RAKE-style
# delimiter list): common verbs, evaluative adjectives, connectives and number words. They cut
# phrases apart before any counting: "leadership provides" or "effective" never form.
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
# Pieces of a contraction split at an apostrophe the tokenizer does not keep inside a word
# ("don‘t", "we‘re"), which `STOP_WORDS` leaves to BM25 because they are also words.
_NON_TERMS = STOP_WORDS | {"don", "won", "haven", "ain", "shan", "re"}

# Words of a phrase may be separated by spaces and hyphens only ("day-to-day", "real world");
# any other character (punctuation, quotes, emoji) ends the phrase.
_HYPHENS = ("-", "‐", "‑")
_NO_JOINS: frozenset[int] = frozenset()
_JOINER = re.compile(r"[ \t\-‐‑]*")
_SPACE = re.compile(r"[ \t\n\r]+")
_POSSESSIVE = re.compile(r"['’ʼ]s$")  # "Schein's" is labelled "Schein"

# The word before or after an occurrence says how the phrase is used there. A noun phrase
# follows a determiner or a preposition; a verb follows a subject pronoun, a modal or "to", and
# takes an object ("build the", "want their"); an adjective follows a copula or an intensifier.
_AFTER_NOUN = frozenset(
    """a an the this these those my your our their his her its each any some no such of in on
    for with about from into through between during against among upon""".split()
)
_BEFORE_VERB = frozenset(
    """i you we they he she who to can could will would should must may might shall cannot do
    does did don't doesn't didn't can't won't wouldn't couldn't shouldn't let's please""".split()
)
_AFTER_ADJECTIVE = frozenset(
    """is are was were be been being am isn't aren't wasn't weren't it's that's very too so
    quite rather how""".split()
)
_OBJECT_START = frozenset("a an the this these those my your our their his her its".split())

# coarse parts of speech of a word, as bit flags: it can be a noun, a noun modifier, a finite
# verb, any verb form, an adverb; a gerund is an -ing form that is nothing but a verb form: it
# may head a term ("active listening") but, put first, takes an object ("mastering situational
# leadership"); unknown: the lexicon does not list the word
_NOUN, _MODIFIER, _VERB, _VERBAL, _GERUND, _UNKNOWN, _ADVERB = 1, 2, 4, 8, 16, 32, 64
# Endings of English adjectives and adverbs, for words the lexicon does not list
# ("situational", "transactional"); an unlisted word otherwise is a name or jargon: a noun.
_ADJECTIVE_ENDINGS = ("al", "ive", "ous", "ful", "less", "able", "ible", "ic", "ish")


def mine_candidates(
    passages: Sequence[Passage],
    vocabulary: LexicalMatcher | Iterable[Concept],
    *,
    min_frequency: int = 2,
    min_documents: int = 1,
    limit: int = 50,
) -> list[Candidate]:
    """The corpus's term-like key phrases that match no concept label, best first (see the
    module docstring for what is proposed and how it is ranked).

    Phrases are compared on stems. A phrase is dropped when its stems equal, or lie within, the
    stems of a label of a concept of `vocabulary` (a matcher, or the concepts), its weak labels
    (lg:weakLabel) included: "mindset" is in "leadership mindset"; and when it is made only of
    one-word labels: "management roles" combines two concepts. At most `limit` phrases, each
    seen `min_frequency` times or more in `min_documents` documents or more, and each above the
    termhood floor (`termhood_floor`), so possibly none. Raises `LeadgraphError` when
    `lemminflect` or `wordfreq` is missing.
    """
    english = _english_frequencies()  # first: a missing package fails before any counting
    if isinstance(vocabulary, LexicalMatcher):
        keys = set(vocabulary.label_keys)  # weak labels included
    else:
        keys = {label_key(label) for c in vocabulary for label in (*c.labels, *c.weak_labels)}
        keys.discard(())
    covered = _label_fragments(keys)
    concept_words = {key[0] for key in keys if len(key) == 1}
    # per passage, the stems of its runs of content words (offsets are taken again for labels)
    tally = _Tally()
    runs = [_run_keys(passage, tally) for passage in passages]
    # Every phrase is counted, in C (zip makes the keys, Counter counts them); the passages of
    # the phrases that may be kept are gathered next, and surfaces only for the few labelled.
    counts: Counter[tuple[str, ...]] = Counter()
    compounds: defaultdict[tuple[str, ...], set[int]] = defaultdict(set)  # inner hyphen places
    for passage_runs in runs:
        counts.update(_phrases(passage_runs))
        for words, joins in passage_runs:
            if joins:  # few runs: a hyphenated compound inside a phrase, by phrase
                _inner_joins(words, joins, compounds)
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
    contrast = _Contrast.of(kept, tally, english)
    # the frequencies of the longer kept phrases that contain each phrase, by its key; a
    # phrase does not contain the parts its compounds would be cut into ("remote-capable
    # employees" has no "capable employees")
    containing: dict[tuple[str, ...], list[int]] = {}
    for key in kept:
        for part in _fragments(key, compounds.get(key, ())) - {key}:
            containing.setdefault(part, []).append(counts[key])
    n_passages = max(len(passages), 1)
    floor = termhood_floor(n_passages)
    raw: list[tuple[float, int, tuple[str, ...]]] = []  # (score, frequency, key)
    for key, rows in kept.items():
        if len(key) == 1 and not contrast.is_domain_word(key[0], document_frequency(rows)):
            continue
        score = _termhood(
            key,
            counts[key],
            containing.get(key, ()),
            len(rows),
            n_passages,
            contrast.specificity(key),
        )
        if score >= floor:
            raw.append((score, counts[key], key))
    raw.sort(key=lambda r: (-r[0], -r[1]))
    shown = _terms(raw, kept, passages, limit)
    if not shown:
        return []
    best = shown[0][0][0]

    out: list[Candidate] = []
    ids: set[str] = set()
    for (score, frequency, key), label in shown:
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


def _terms(
    ranked: list[tuple[float, int, tuple[str, ...]]],
    rows: dict[tuple[str, ...], list[int]],
    passages: Sequence[Passage],
    limit: int,
) -> list[tuple[tuple[float, int, tuple[str, ...]], str]]:
    """The first `limit` phrases of `ranked` (best first, by score then frequency) that are
    shaped like terms, each with its label; ties of score and frequency go to the first label.

    Phrases are read in batches that end between two ties, so that every phrase tied with the
    last one kept has been judged before the labels break the tie.
    """
    kept: list[tuple[tuple[float, int, tuple[str, ...]], str]] = []
    start, size = 0, 2 * limit
    while start < len(ranked) and len(kept) < limit:
        end = min(start + size, len(ranked))
        while end < len(ranked) and ranked[end][:2] == ranked[end - 1][:2]:
            end += 1
        batch = ranked[start:end]
        uses = _uses({key for _, _, key in batch}, rows, passages)
        kept += [(r, uses[r[2]].label()) for r in batch if uses[r[2]].is_term()]
        start, size = end, 2 * size
    kept.sort(key=lambda k: (-k[0][0], -k[0][1], k[1]))
    return kept[:limit]


def _phrases(runs: Iterable[tuple[list[str], frozenset[int]]]) -> list[tuple[str, ...]]:
    """The key of every phrase of `runs` (the stems of each, and its compound joins), an
    occurrence each: 1 to MAX_WORDS consecutive stems of a run that cut no hyphenated compound
    ("capable employees" is not seen in "remote-capable employees", nor "self" in
    "self-awareness")."""
    keys: list[tuple[str, ...]] = []
    for words, joins in runs:
        if not joins:  # nearly every run: every n-gram, counted in C
            keys.extend(zip(words, strict=False))
            for n in range(2, min(MAX_WORDS, len(words)) + 1):  # most runs are a word or two
                keys.extend(zip(*(words[i:] for i in range(n)), strict=False))
            continue
        for n in range(1, min(MAX_WORDS, len(words)) + 1):
            keys.extend(
                tuple(words[i : i + n])
                for i in range(len(words) - n + 1)
                if i not in joins and i + n not in joins
            )
    return keys


@dataclass(slots=True)
class _Tally:
    """What the counting pass learns of the corpus's words besides phrases."""

    words: Counter[str] = field(default_factory=Counter)  # content word tokens, as written
    tokens: int = 0  # word tokens, stop words included


def termhood_floor(n_passages: int) -> float:
    """The least score a phrase of a corpus of `n_passages` passages is proposed with: the score
    of the weakest evidence a curator would look at, a two-word phrase seen twice, in one
    passage, whose words are each DOMAIN_RATIO times as frequent here as in general English
    (see the module docstring)."""
    return _termhood(("", ""), 2, (), 1, n_passages, _keyness(DOMAIN_RATIO))


def _termhood(
    key: tuple[str, ...],
    frequency: int,
    longer: Iterable[int],
    passages: int,
    n_passages: int,
    specificity: float,
) -> float:
    """w(n) * (f - mean f of the longer phrases containing it) * ln(1 + N / df) * S: the score
    of the module docstring, 0 for a phrase seen only inside longer ones."""
    longer = list(longer)
    termhood = frequency - (sum(longer) / len(longer) if longer else 0.0)
    if termhood <= 0 or specificity <= 0:
        return 0.0
    weight = math.log2(len(key)) if len(key) > 1 else SINGLE_WORD_WEIGHT
    return weight * termhood * math.log(1 + n_passages / passages) * specificity


@dataclass(frozen=True, slots=True)
class _Contrast:
    """How much more frequent the corpus's words are here than in general English."""

    # per stem: how often its commonest form is seen here, and that form's English frequency
    seen: dict[str, tuple[int, float]]
    tokens: int  # word tokens of the corpus, stop words included

    @classmethod
    def of(
        cls, kept: Iterable[tuple[str, ...]], tally: _Tally, english: dict[str, float]
    ) -> _Contrast:
        """The contrast of the words of the phrases `kept`, each judged by its commonest form
        here (`_forms_of`): "coaching" is a term where "coach" and "coaches" are common English
        words of sport and travel that share its stem."""
        stems = {word for key in kept for word in key}
        forms: defaultdict[str, Counter[frozenset[str]]] = defaultdict(Counter)
        for word, count in tally.words.items():
            content = _content_stem(word)
            if content in stems:
                forms[content][_forms_of(_bare(word))] += count
        seen: dict[str, tuple[int, float]] = {}
        for content, counts in forms.items():
            # the commonest form, ties to the first in alphabetical order: deterministic
            form, count = min(counts.items(), key=lambda fc: (-fc[1], sorted(fc[0])))
            seen[content] = (count, sum(english.get(f, 0.0) for f in form))
        return cls(seen, max(tally.tokens, 1))

    def ratio(self, word: str, *, lower: bool = False) -> float:
        """How many times as frequent the stem `word` is here as in general English; with
        `lower`, the lower end of its 95% confidence interval (the count here is a Poisson
        sample: three occurrences may be chance, thirty are not)."""
        count, general = self.seen.get(word, (0, 0.0))
        here = _poisson_lower(count) if lower else float(count)
        return here / self.tokens / max(general, ENGLISH_FLOOR)

    def specificity(self, key: tuple[str, ...]) -> float:
        """S(p): the mean keyness of the words of the phrase `key`."""
        return sum(_keyness(self.ratio(word, lower=True)) for word in key) / len(key)

    def is_domain_word(self, word: str, documents: int) -> bool:
        """Whether the stem `word` may be proposed alone: even the lower end of its ratio is
        DOMAIN_RATIO or more, and it is seen in two documents or more, or in one but is a word
        general English hardly has (ratio ONE_DOCUMENT_RATIO or more: "ADKAR", "Refreeze")."""
        ratio = self.ratio(word, lower=True)
        return ratio >= DOMAIN_RATIO and (documents >= 2 or ratio >= ONE_DOCUMENT_RATIO)


def _poisson_lower(count: float) -> float:
    """The lower end of the one-sided 95% confidence interval of the mean of a Poisson count
    (Wilson and Hilferty's approximation, within a few percent of the exact value from 2 up)."""
    if count <= 0:
        return 0.0
    return count * (1 - 1 / (9 * count) - _Z95 / (3 * math.sqrt(count))) ** 3


@lru_cache(maxsize=1 << 18)
def _forms_of(word: str) -> frozenset[str]:
    """The forms counted as one with the normalised word `word`: itself and its singular or
    plural, where English has it and it shares the stem ("complexity" with "complexities", so
    that a noun seen here only in the plural is not taken as rare as its plural alone is in
    English); other forms stay apart ("coached" is not "coach", and "coaching" is neither)."""
    english = _english_frequencies()
    others = [_plural(word)]
    if word.endswith("ies"):
        others.append(word[:-3] + "y")
    elif word.endswith(_SIBILANTS_ES):
        others.append(word[:-2])
    elif word.endswith("s") and not word.endswith(("ss", "is", "us")):
        others.append(word[:-1])
    word_stem = stem(word)
    return frozenset(
        [word, *(o for o in others if o in english and o != word and stem(o) == word_stem)]
    )


_SIBILANTS_ES = ("ses", "xes", "zes", "ches", "shes")


def _plural(word: str) -> str:
    """The regular English plural of a noun: "bias" "biases", "policy" "policies"."""
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and word[-2:-1] not in ("a", "e", "i", "o", "u", ""):
        return word[:-1] + "ies"
    return word + "s"


def _keyness(ratio: float) -> float:
    """What a word seen `ratio` times as often as in general English weighs per occurrence:
    ln r - 1 + 1/r for r > 1 (f times that is half its log-likelihood G2 against a far larger
    reference corpus), 0 for a word no commoner here than there."""
    return math.log(ratio) - 1 + 1 / ratio if ratio > 1 else 0.0


@dataclass(slots=True)
class _Use:
    """How a phrase is written and used in (a sample of) its passages."""

    surfaces: Counter[str] = field(default_factory=Counter)  # possessive 's dropped
    nominal: int = 0  # occurrences after a determiner or preposition
    verbal: int = 0  # after a subject pronoun, modal or "to", or before an object
    predicative: int = 0  # after a copula or an intensifier
    left: Counter[str] = field(default_factory=Counter)  # the content word just before, if any
    right: Counter[str] = field(default_factory=Counter)  # and just after
    inner: int = 0  # occurrences that do not start a sentence
    named: int = 0  # of those, the ones whose last word is written as a name
    in_name: int = 0  # and the ones inside a longer capitalised name (`_in_name`)
    abbreviated: int = 0  # occurrences followed by a full stop inside their sentence

    def label(self) -> str:
        """The most frequent surface form; on a tie the lower-case one, then the first in
        order."""
        return min(self.surfaces.items(), key=lambda s: (-s[1], s[0] != s[0].lower(), s[0]))[0]

    def is_term(self) -> bool:
        """Whether the phrase is shaped like a term: a noun phrase by the lexicon, (modifier)*
        noun (an adverb may come before a modifier), whose first word is not used as a verb
        there, that is not, as a single word, used as an adjective; not a name (of a person or
        company) nor a piece of a longer one ("Harvard Business"); not an abbreviation ("para.",
        at least half of its occurrences); and not always a part of the same longer phrase
        (C-value's nesting, past MAX_WORDS: "Kilmann Conflict Mode")."""
        words = [t.norm for t in tokenize(self.label())]
        tags = [_tags(word.removesuffix("'s")) for word in words]
        if not tags[-1] & _NOUN:
            return False
        for i, tag in enumerate(tags[:-1]):
            if tag & (_NOUN | _MODIFIER) and not tag & _GERUND:
                continue
            modifier = i + 2 < len(tags) and tags[i + 1] & _MODIFIER
            if not (tag & _ADVERB and modifier):
                return False  # an adverb only before a modifier: "actively disengaged staff"
        if tags[0] & _VERBAL and self.verbal > self.nominal:
            return False
        for word in words[:-1]:
            if word.endswith("'s") and _lexicon()(word[:-2]):
                return False  # "leader's decision"; but "Lewin's change model"
            if tags[-1] & _VERB and _is_plural(word):
                return False  # a subject and its verb: "employees want", "managers fail"
        seen = self.surfaces.total()
        if len(tags) == 1:
            # a word that can be an adjective is proposed alone where it is used as a noun
            # more than it is said of something ("is diverse") or modifies a noun ("hybrid team")
            modifying = self.right.total()
            adjective = tags[0] & _MODIFIER and not tags[0] & _UNKNOWN
            if adjective and max(self.predicative, modifying) >= self.nominal:
                return False
            if tags[0] & _GERUND and self.nominal <= self.verbal + self.predicative:
                return False  # a verb form ("according") unless used as a noun ("of coaching")
        if seen > 1 and max([*self.left.values(), *self.right.values(), 0]) == seen:
            return False  # always inside the same longer phrase
        if 2 * self.abbreviated >= seen:
            return False  # an abbreviation, cut short: "para.", "vs.", "approx."
        if self.inner and self.in_name == self.inner:
            return False  # a piece of a longer name: "Harvard Business" (School, Review)
        return not self.is_name()

    def is_name(self) -> bool:
        """Whether the phrase names a person or a company: its last word is written as a name
        (capitalised, not an acronym, not after a hyphen) wherever it does not start a sentence,
        and, after other words, is unknown to the lexicon ("Gallup", "Stein", "John Kotter",
        "professor Amy Edmondson"). An eponymous model is none: "Thomas-Kilmann", "Lewin's
        change model"."""
        if not self.inner or self.named < self.inner:
            return False
        words = tokenize(self.label())
        return len(words) == 1 or not _lexicon()(words[-1].norm)


def _uses(
    keys: set[tuple[str, ...]],
    rows: dict[tuple[str, ...], list[int]],
    passages: Sequence[Passage],
) -> dict[tuple[str, ...], _Use]:
    """The surfaces of each phrase of `keys` (whose passage rows `rows` gives), white space
    collapsed, and the words around them, read in its first SAMPLE_PASSAGES passages."""
    uses = {key: _Use() for key in keys}
    by_first: dict[str, list[tuple[str, ...]]] = defaultdict(list)  # the keys a word starts
    for key in keys:
        by_first[key[0]].append(key)
    wanted: defaultdict[int, set[tuple[str, ...]]] = defaultdict(set)  # row -> keys read there
    for key in keys:
        for row in rows[key][:SAMPLE_PASSAGES]:
            wanted[row].add(key)
    for row in sorted(wanted):
        text, here = passages[row].text, wanted[row]
        for run in _runs(passages[row]):
            for i, word in enumerate(run.stems):
                for key in by_first.get(word, ()):
                    n = len(key)
                    if key not in here or tuple(run.stems[i : i + n]) != key:
                        continue
                    if i in run.joins or i + n in run.joins:
                        continue  # inside a hyphenated compound: not counted there either
                    use = uses[key]
                    first, last = run.starts[i], run.ends[i + n - 1]
                    surface = _POSSESSIVE.sub("", text[first:last])
                    use.surfaces[" ".join(surface.split())] += 1
                    if i or not run.initial:
                        use.inner += 1
                        head = run.starts[i + n - 1]
                        if _is_capitalised(text[head:last]) and not (
                            n > 1 and text[run.ends[i + n - 2] : head].strip()
                        ):
                            use.named += 1  # "Kotter", not "Thomas-Kilmann"
                        if _in_name(run, i, n, text):
                            use.in_name += 1
                    if text[last : last + 1] == "." and _goes_on(text, last + 1, run.sentence_end):
                        use.abbreviated += 1  # a full stop the sentence goes on after: "vs. B"
                    if i == 0:
                        use.nominal += run.before in _AFTER_NOUN
                        use.verbal += run.before in _BEFORE_VERB
                        use.predicative += run.before in _AFTER_ADJECTIVE
                    else:
                        use.left[run.stems[i - 1]] += 1
                    if i + n == len(run.stems):
                        use.verbal += run.after in _OBJECT_START
                    else:
                        use.right[run.stems[i + n]] += 1
    return uses


def _goes_on(text: str, start: int, sentence_end: int) -> bool:
    """Whether the text after a full stop at `start - 1` goes on with the same sentence: a word
    follows inside it ("vs. B"), or a number or a lower-case word follows at all, where the
    sentence splitter took the full stop for an end ("para. 3", "approx. two")."""
    if any(ch.isalnum() for ch in text[start:sentence_end]):
        return True
    after = text[start : start + 8].lstrip()
    return after[:1].isdigit() or after[:1].islower()


def _in_name(run: _Run, i: int, n: int, text: str) -> bool:
    """Whether the `n` words of `run` from word `i` (not at the start of a sentence) are all
    capitalised and stand beside another capitalised word of the run that does not start the
    sentence: "Harvard Business" in "Harvard Business School", not "Active Listening" in
    "practise Active Listening"."""
    words = [text[run.starts[j] : run.ends[j]] for j in range(i, i + n)]
    if not all(word[:1].isupper() for word in words):
        return False
    beside = [j for j in (i - 1, i + n) if 0 <= j < len(run.stems) and not (j == 0 and run.initial)]
    return any(text[run.starts[j] : run.starts[j] + 1].isupper() for j in beside)


@lru_cache(maxsize=1 << 16)
def _tags(word: str) -> int:
    """The parts of speech `word` (normalised, lower case) can have, as `_NOUN` ... flags: the
    lexicon's, with -ing forms as nouns ("coaching") and other participles as modifiers
    ("shared vision")."""
    tags, known = 0, _lexicon()(word)
    gerund = word.endswith("ing") and not known.keys() & {"NOUN", "PROPN", "ADJ"}
    for pos, lemmas in known.items():
        if pos in ("NOUN", "PROPN"):
            tags |= _NOUN
        elif pos == "ADJ":
            tags |= _MODIFIER
        elif pos == "ADV":
            tags |= _ADVERB
        elif pos in ("VERB", "AUX"):
            tags |= _VERBAL
            if word.endswith("ing"):
                tags |= _NOUN
            elif word not in lemmas and word.endswith(("ed", "en")):
                tags |= _MODIFIER
            else:
                tags |= _VERB
    if gerund and tags & _VERBAL:
        return tags | _GERUND
    if known:
        return tags
    if word.endswith("ly"):
        return _ADVERB
    if word.endswith(_ADJECTIVE_ENDINGS):
        return _MODIFIER
    return _NOUN | _MODIFIER | _UNKNOWN  # a name, an acronym or jargon


@lru_cache(maxsize=1)
def _lexicon() -> Callable[[str], dict[str, tuple[str, ...]]]:
    """lemminflect's `getAllLemmas`: word -> {universal POS tag: lemmas} for each tag the word
    can have ({} for a word it does not list)."""
    try:
        import lemminflect
    except ImportError as exc:
        raise _missing("lemminflect") from exc
    lookup: Callable[[str], dict[str, tuple[str, ...]]] = lemminflect.getAllLemmas
    return lookup


@lru_cache(maxsize=1)
def _english_frequencies() -> dict[str, float]:
    """wordfreq's English word frequencies (share of all word tokens), by lower-case word."""
    try:
        import lemminflect  # noqa: F401 - checked here too: both fail before any counting
        import wordfreq
    except ImportError as exc:
        raise _missing(exc.name or "wordfreq") from exc
    frequencies: dict[str, float] = wordfreq.get_frequency_dict("en", wordlist="best")
    return frequencies


def _missing(package: str | None) -> LeadgraphError:
    return LeadgraphError(
        f"candidate mining needs the package {package}, a dependency of leadgraph: "
        f"run `pip install {package}` (or `pip install -e .` in the project)"
    )


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ is slower, and runs are many
class _Run:
    """A maximal run of content words: their phrase stems and offsets into the passage text,
    and the normalised words just before and after it ("" at a punctuation or sentence edge)."""

    stems: list[str]
    starts: list[int]
    ends: list[int]
    before: str
    after: str
    initial: bool  # the run starts its sentence, where any word is capitalised
    # the places b (0 to len(stems)) where a bare hyphen ties word b-1 to word b, the first word
    # to the word before the run or the last to the one after it: "remote-capable employees"
    # has 1, "self-" of "self-sufficient" 0 or 1; a phrase may not cut a compound there
    joins: frozenset[int]
    sentence_end: int  # where its sentence ends, in passage text offsets


def _runs(passage: Passage) -> list[_Run]:
    """Maximal runs of content words within each sentence of `passage`, with what `_uses`
    reads around them."""
    runs: list[_Run] = []
    for start, end, parts, words, bounds, hyphens in _sentences(passage):
        gaps = parts[0::2]  # gaps[i] lies before word i
        tokens = parts[1::2]
        # where each part ends, in passage offsets: word i starts at ends[2i], ends at ends[2i+1]
        ends = list(accumulate(map(len, parts), initial=start))[1:]
        for a, b in bounds:
            stems = cast(list[str], words[a:b])  # content words only: no None in a run
            before = word_forms(tokens[a - 1])[0] if a and _is_space(gaps[a]) else ""
            after = word_forms(tokens[b])[0] if b < len(tokens) and _is_space(gaps[b]) else ""
            starts, stops = ends[2 * a : 2 * b : 2], ends[2 * a + 1 : 2 * b : 2]
            joins = _compound_joins(hyphens, a, b)
            runs.append(_Run(stems, starts, stops, before, after, a == 0, joins, end))
    return runs


def _run_keys(passage: Passage, tally: _Tally) -> list[tuple[list[str], frozenset[int]]]:
    """The stems and compound joins of each run of `_runs(passage)`, and nothing else: what
    counting needs, at a fraction of the cost; `tally` gathers the passage's words."""
    keys: list[tuple[list[str], frozenset[int]]] = []
    for _start, _end, _parts, words, bounds, hyphens in _sentences(passage, tally):
        if hyphens:
            keys += [
                (cast(list[str], words[a:b]), _compound_joins(hyphens, a, b)) for a, b in bounds
            ]
        else:
            keys += [(cast(list[str], words[a:b]), _NO_JOINS) for a, b in bounds]
    return keys


def _sentences(
    passage: Passage, tally: _Tally | None = None
) -> Iterator[tuple[int, int, list[str], list[str | None], list[tuple[int, int]], list[int]]]:
    """Per sentence of `passage`: where it starts and ends in the passage text, its words and
    gaps (`split_words`), each word's content stem (None for none), the (first word, past the
    last) of each maximal run of content words, and the words a bare hyphen ties to the word
    before ("remote-capable": 1 for "capable"); `tally` (if given) gathers the words."""
    for span in passage.sentences:
        start = max(span.start, passage.start) - passage.start
        end = min(span.end, passage.end) - passage.start
        if start >= end:
            continue
        sentence = passage.text[start:end]
        parts = split_words(sentence)
        gaps = parts[0::2]  # gaps[i] lies before word i
        tokens = parts[1::2]
        words = [_content_stem(word) for word in tokens]
        if tally is not None:
            tally.words.update(compress(tokens, words))  # content words: the ones contrasted
            tally.tokens += len(tokens)
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
        # the sentence's own first and last gaps lie outside it and tie a word to nothing
        hyphens = (
            [i for i in range(1, len(tokens)) if gaps[i] in _HYPHENS]
            if "-" in sentence or "‐" in sentence or "‑" in sentence  # as in _HYPHENS
            else []
        )
        yield start, end, parts, words, bounds, hyphens


def _compound_joins(hyphens: list[int], a: int, b: int) -> frozenset[int]:
    """`_Run.joins` of the run of words a to b of a sentence whose words `hyphens` a hyphen
    ties to the word before: the gaps before its first word and after its last count too."""
    if not hyphens or hyphens[-1] < a or hyphens[0] > b:
        return _NO_JOINS
    return frozenset(i - a for i in hyphens if a <= i <= b)


@lru_cache(maxsize=4096)
def _joins(gap: str) -> bool:
    """Whether two words with `gap` between them may belong to one phrase."""
    return _JOINER.fullmatch(gap) is not None


@lru_cache(maxsize=4096)
def _is_space(gap: str) -> bool:
    return _SPACE.fullmatch(gap) is not None


def _is_plural(word: str) -> bool:
    """Whether `word` is the plural of a noun the lexicon knows ("employees", not "news")."""
    lemmas = _lexicon()(word).get("NOUN", ())
    return word.endswith("s") and bool(lemmas) and word not in lemmas


def _is_capitalised(word: str) -> bool:
    """Whether `word` is written like a name: "Kotter", not "kotter", "OKRs" or "McKinsey"."""
    return word[:1].isupper() and word[1:].islower() or len(word) == 1 and word.isupper()


@lru_cache(maxsize=1 << 18)
def _content_stem(word: str) -> str | None:
    """The stem a word token adds to a key phrase, or None when it is no content word: a stop
    word or contraction, a break word, a number or a single character. A possessive is not part
    of the term: "organization's resources" ~ "organization resources"."""
    norm, word_stem = word_forms(word)
    bare = _bare(word)
    if len(bare) < 2 or bare in _NON_TERMS or word_stem in _BREAK_STEMS:
        return None
    if any(ch.isdigit() for ch in bare):
        return None
    return stem(bare) if bare != norm else word_stem


def _bare(word: str) -> str:
    """The normalised form of a word token without a possessive 's, or the plural s of an
    acronym ("KPIs" is "KPI")."""
    norm = word_forms(word)[0]
    if len(word) > 2 and word[-1] == "s" and word[:-1].isupper():
        return norm[:-1]
    return norm.removesuffix("'s").removesuffix("ʼs")  # ʼ is a letter: normalize keeps it


def _label_fragments(keys: Iterable[tuple[str, ...]]) -> set[tuple[str, ...]]:
    """Every contiguous part of every label key, and of it with a final s dropped from each
    word: the stemmer keeps it in "kpis", which a phrase reads as "KPI"."""
    singular = [tuple(word.removesuffix("s") or word for word in key) for key in keys]
    return {part for key in (*keys, *singular) for part in _fragments(key)}


def _fragments(key: tuple[str, ...], joins: Iterable[int] = ()) -> set[tuple[str, ...]]:
    """Every contiguous part of `key`, `key` included, that cuts it at none of `joins`
    (places between two words that a hyphen ties, as in `_Run.joins`)."""
    cuts = set(joins)
    return {
        key[i:j]
        for i in range(len(key))
        for j in range(i + 1, len(key) + 1)
        if i not in cuts and j not in cuts
    }


def _inner_joins(
    words: list[str], joins: frozenset[int], out: defaultdict[tuple[str, ...], set[int]]
) -> None:
    """Add to `out` the places inside each phrase of a run (as `_phrases` cuts it) where a
    hyphen ties two of its words: {1} for "remote-capable employees"."""
    for n in range(2, min(MAX_WORDS, len(words)) + 1):
        for i in range(len(words) - n + 1):
            if i in joins or i + n in joins:
                continue
            inner = {j - i for j in joins if i < j < i + n}
            if inner:
                out[tuple(words[i : i + n])].update(inner)


def _slug(label: str) -> str:
    words = [t.norm.removesuffix("'s") for t in tokenize(label)]
    return "-".join(re.sub(r"[^a-z0-9]+", "", w) or w for w in words)

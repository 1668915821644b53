"""Concept lookup: which concepts (and candidate terms) a short text names, best first, each with
the kind of match that found it and a score in that kind's band. Bands never overlap, so a better
kind of match always ranks first:

    exact     0.93..1.00  the same words as a label up to case and inflection ("LEADERS" ->
                          leader, "OKRs" -> altLabel "OKR", "KPIs" -> "KPI"): 1.00 on the
                          prefLabel, 0.95 on an altLabel; 0.93..0.94 for the same words in
                          another order or with other link words ("alignment of goals" ->
                          "aligned goals"), or an all-capitals abbreviation of three or more
                          letters made of a label's initials ("DEI" -> "diversity, equity and
                          inclusion")
    prefix    0.70..0.90  autocomplete: each word of the query starts a word of the label, in
                          order, from its first word (0.75..0.90, "psych saf") or a later one
                          (0.70..0.75, "safety")
    fuzzy     0.50..0.69  a typo, by edit distance (Damerau-Levenshtein, optimal string
                          alignment): the words align one to one with a label's, and each word
                          that differs is within 1 edit (4-6 characters) or 2 (longer) and is
                          itself no word of the corpus or of any label ("mentoring" is a word,
                          not a typo of "monitoring"); at most 3 edits in all; no typo in words
                          under 4 characters. Also a label written with its spaces dropped or
                          added ("team work" -> "teamwork")
    semantic  0.00..0.49  0.49 x the cosine of the query and the closest facet of a concept (one
                          of its labels, its definition, its whole description), computed only
                          when no label of the same population (curated concepts; candidate
                          terms) matched exactly or as a prefix

A query that holds a whole label and words of its own ("transformational leadership",
"leadership in hospitals", "change management") is none of exact, prefix or fuzzy: its other
words name something narrower than the label, or put it in a context. It goes to the semantic
tier, where the labels it contains are not counted as facets of their concept (the shared word
alone makes such a query look close: "change management" is 0.72 from the label "management"),
so the concept comes back only if the rest of its description is close in meaning, as `semantic`.

A semantic match below SEMANTIC_MIN_COSINE, calibrated on tests/data/lookup_queries.json
(`bench/lookup_eval.py --sweep`), is *weak*: left out unless asked for (`include_weak`), so a
query that names no concept gets an empty list. Candidate terms that match the query by the same
rules are pointed to in every answer (`ConceptList.candidates`), whether or not they are listed.
"""

from __future__ import annotations

import bisect
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from rapidfuzz.distance import OSA

from leadgraph.indexer.embedder import Embedder, Vectors
from leadgraph.indexer.models import Candidate, Concept
from leadgraph.indexer.store import Index
from leadgraph.indexer.text import STOP_WORDS, normalize, split_words, stem, tokenize

from ..errors import Unprocessable
from ..limits import is_blank
from ..schemas import ConceptHit, ConceptList, ConceptRef

MatchKind = Literal["exact", "prefix", "fuzzy", "semantic"]

EXACT_PREF = 1.0
EXACT_ALT = 0.95
EXACT_REORDERED = 0.94  # same words in another order / other link words, or initials
ALT_PENALTY = 0.02  # a prefLabel match beats the same match on an altLabel (0.01 within exact)
PREFIX_BASE = 0.75  # + PREFIX_SPAN x share of the label the query covers
PREFIX_SPAN = 0.15
WORD_PREFIX_BASE = 0.70  # the query starts a later word of the label ("safety")
WORD_PREFIX_SPAN = 0.05
MIN_PREFIX_CHARS = 2
FUZZY_MIN_CHARS = 4  # a shorter word is a prefix or another word, never a typo
FUZZY_ONE_EDIT_CHARS = 6  # words up to this length may differ by 1 edit, longer ones by 2
FUZZY_MAX_EDITS = 3  # over the whole query
FUZZY_BASE = 0.50
FUZZY_SPAN = 0.19
SEMANTIC_SCALE = 0.49
# Cosine (all-MiniLM-L6-v2, to the closest facet of a concept) from which a meaning match is
# returned: the threshold of best accuracy, 106 of 133, on tests/data/lookup_queries.json over the
# 224-concept ontology (`python -m bench.lookup_eval --index ... --queries ... --sweep`; 0.50:
# 103, 0.60: 102, 0.45: 101). Below it a match is weak: queries that name no concept of the
# ontology reach 0.50-0.61 to a neighbouring one ("negotiation tactics" 0.61 to the compromising
# conflict style), while paraphrases that do name one mostly score 0.55-0.85.
SEMANTIC_MIN_COSINE = 0.56
# Weak matches are listed on request down to this cosine; below it nothing is a match at all
# (off-topic text: "capital of france" 0.16, "python programming" 0.32).
WEAK_FLOOR_COSINE = 0.3
CANDIDATES_POINTED = 5  # candidate terms named in ConceptList.candidates
# words that join the words of a label without changing what it names; "without", "not" and the
# like change it and are kept ("management without leadership")
LINK_WORDS = frozenset({"a", "an", "the", "of", "for", "in", "on", "to", "and", "s"})
KNOWN_WORD_MIN_COUNT = 2  # a word seen once in the corpus may itself be a typo
_ENDINGS = frozenset(
    "s es 's ed d ing er ers ness ment ments ity ities ly al ion ions ation ations ive".split()
)
_ACRONYM = re.compile(r"[A-Z][A-Z0-9&]{1,5}")
_ACRONYM_PLURAL = re.compile(r"[A-Z][A-Z0-9&]{1,5}s")


@dataclass(frozen=True, slots=True)
class Entry:
    """A curated concept or a candidate, as the API shows it."""

    uri: str
    id: str
    label: str
    alt_labels: tuple[str, ...]
    definition: str
    candidate: bool
    hidden_labels: tuple[str, ...] = ()  # lg:weakLabel: found by lookup, never shown

    @property
    def ref(self) -> ConceptRef:
        return ConceptRef(id=self.id, label=self.label)


def concept_entry(concept: Concept) -> Entry:
    return Entry(
        concept.uri,
        concept.id,
        concept.pref_label,
        concept.alt_labels,
        concept.definition,
        concept.candidate,
        concept.weak_labels,
    )


def candidate_entry(candidate: Candidate) -> Entry:
    return Entry(candidate.uri, candidate.id, candidate.label, (), "", True)


@dataclass(frozen=True, slots=True)
class Match:
    """One entry found for a query: its score in the band of `kind`, and whether it is a
    semantic match below the calibrated threshold."""

    entry: Entry
    score: float
    kind: MatchKind
    weak: bool = False
    cosine: float | None = None  # of a semantic match


@dataclass(frozen=True, slots=True)
class _Phrase:
    """A label or a query cut into words: normalised forms, and stems with an acronym's plural
    "s" dropped ("KPIs" and "KPI" share a stem)."""

    text: str  # normalised words joined by one space ("go-between" -> "go between")
    words: tuple[str, ...]
    stems: tuple[str, ...]
    acronym: str  # the phrase as an all-capitals abbreviation ("okr" for "OKRs"), or ""
    content: tuple[tuple[str, str], ...]  # (stem, word) of the words but link words, sorted

    @property
    def compact(self) -> str:
        return self.text.replace(" ", "")

    @property
    def content_key(self) -> tuple[str, ...]:
        return tuple(s for s, _ in self.content)


def _phrase(text: str) -> _Phrase:
    tokens = tokenize(text)
    words = tuple(t.norm for t in tokens)
    stems = []
    for t in tokens:
        stems.append(stem(t.norm[:-1]) if _ACRONYM_PLURAL.fullmatch(t.text) else t.stem)
    acronym = ""
    if len(tokens) == 1 and (
        _ACRONYM.fullmatch(tokens[0].text) or _ACRONYM_PLURAL.fullmatch(tokens[0].text)
    ):
        acronym = tokens[0].norm.rstrip("s") if tokens[0].text.endswith("s") else tokens[0].norm
    content = sorted((s, w) for w, s in zip(words, stems, strict=True) if w not in LINK_WORDS)
    return _Phrase(" ".join(words), words, tuple(stems), acronym, tuple(content))


@dataclass(frozen=True, slots=True)
class _Label:
    entry: Entry
    owner: int  # position of the entry in the matcher's entries
    source: str  # the label as the ontology writes it
    phrase: _Phrase
    initials: str  # first letters of its content words, when there are three or more
    preferred: bool


def _initials(phrase: _Phrase) -> str:
    content = [w for w in phrase.words if w not in STOP_WORDS]
    return "".join(w[0] for w in content) if len(content) >= 3 else ""


def _derived(a: str, b: str) -> bool:
    """Whether one word is the other plus a regular ending, allowing for a dropped final "e"
    and "y" -> "i" ("leaders"/"leader", "managing"/"manage", "trustworthiness"/"trustworthy");
    "managment" and "manager" share a stem but neither is the other with an ending."""
    for longer, shorter in ((a, b), (b, a)):
        roots = {shorter}
        if shorter.endswith("e"):
            roots.add(shorter[:-1])
        if shorter.endswith("y"):
            roots.add(shorter[:-1] + "i")
        for root in roots:
            if len(root) >= 3 and longer.startswith(root) and longer[len(root) :] in _ENDINGS:
                return True
    return False


@dataclass(frozen=True, slots=True)
class _Facets:
    """Facet vectors grouped by entry: group k starts at row starts[k] and belongs to entry
    owners[k]; label_rows[r] is the row of the r-th label of the matcher."""

    vectors: Vectors
    starts: npt.NDArray[np.int64]
    owners: npt.NDArray[np.int64]
    label_rows: npt.NDArray[np.int64]


class ConceptMatcher:
    """Matches short texts against the labels, definitions and description vectors of the
    entries of one loaded index. Build once per index; safe to share between threads."""

    def __init__(
        self,
        index: Index,
        embedder: Embedder,
        curated: Sequence[Entry],
        candidates: Sequence[Entry],
    ) -> None:
        self.index = index
        self._embedder = embedder
        self.curated: tuple[Entry, ...] = tuple(curated)
        self.candidates: tuple[Entry, ...] = tuple(candidates)
        self._entries = (*self.curated, *self.candidates)
        self._labels: list[_Label] = []
        for owner, entry in enumerate(self._entries):
            for i, text in enumerate((entry.label, *entry.alt_labels, *entry.hidden_labels)):
                phrase = _phrase(text)
                if phrase.words:
                    self._labels.append(
                        _Label(entry, owner, text, phrase, _initials(phrase), i == 0)
                    )
        # which labels a query can match, so that a lookup looks at those only
        self._by_key: dict[tuple[str, ...], list[int]] = defaultdict(list)
        self._by_length: dict[int, list[int]] = defaultdict(list)
        self._by_compact: dict[str, list[int]] = defaultdict(list)
        self._by_acronym: dict[str, list[int]] = defaultdict(list)
        words: set[tuple[str, int]] = set()
        for row, label in enumerate(self._labels):
            lp = label.phrase
            for key in {lp.words, lp.stems, ("", *lp.content_key)}:
                self._by_key[key].append(row)
            self._by_length[len(lp.words)].append(row)
            self._by_compact[lp.compact].append(row)
            for acronym in {label.initials, lp.acronym} - {""}:
                self._by_acronym[acronym].append(row)
            words.update((w, row) for w in lp.words)
        self._words = sorted(words)  # (label word, label row): prefixes by bisection
        self._longest = max((len(label.phrase.words) for label in self._labels), default=0)
        self._concept_rows = {uri: row for row, uri in enumerate(index.concept_order)}
        self._lock = threading.Lock()
        self._facet_cache: _Facets | None = None
        self._known_cache: frozenset[str] | None = None

    # --- the API answer --------------------------------------------------------------------

    def lookup(
        self,
        q: str | None,
        *,
        limit: int,
        offset: int,
        include_candidates: bool,
        include_weak: bool = False,
        max_k: int,
        max_chars: int,
    ) -> ConceptList:
        """The page `offset:offset+limit` of the matches of `q` (of every concept, in label
        order, when `q` is None); `total` counts every match listed before paging."""
        if not 1 <= limit <= max_k:
            raise Unprocessable(f"limit: must be between 1 and {max_k} (max_k), got {limit}")
        if offset < 0:
            raise Unprocessable("offset: must be 0 or more")
        if q is None:
            entries = [*self.curated, *(self.candidates if include_candidates else ())]
            items = [_hit(e, 1.0, "all", weak=False) for e in entries]
            return ConceptList(items=items[offset : offset + limit], total=len(items))
        if is_blank(q):
            raise Unprocessable("q: must not be blank; leave it out to list every concept")
        if len(q) > max_chars:
            raise Unprocessable(f"q: at most {max_chars} characters (max_text_chars), got {len(q)}")
        curated, mined = self.rank(q)
        pool = _ordered([*curated, *mined]) if include_candidates else curated
        shown = [m for m in pool if include_weak or not m.weak]
        pointed = [m.entry.ref for m in mined if not m.weak][:CANDIDATES_POINTED]
        return ConceptList(
            items=[_hit(m.entry, m.score, m.kind, weak=m.weak) for m in shown][
                offset : offset + limit
            ],
            total=len(shown),
            candidates=pointed,
            weak_omitted=len(pool) - len(shown),
        )

    # --- ranking ---------------------------------------------------------------------------

    def match(
        self, q: str, *, include_candidates: bool = False, include_weak: bool = False
    ) -> list[Match]:
        """The matches of `q`, best first, as `lookup` lists them."""
        curated, mined = self.rank(q)
        pool = _ordered([*curated, *mined]) if include_candidates else curated
        return [m for m in pool if include_weak or not m.weak]

    def rank(self, q: str) -> tuple[list[Match], list[Match]]:
        """Matches of `q` among curated concepts and among candidate terms, each best first
        (score, then label, then id), weak ones included and flagged."""
        query = _phrase(q)
        best: dict[int, Match] = {}
        for row in sorted(self._candidate_rows(query)):
            label = self._labels[row]
            scored = self._lexical(query, label)
            if scored is not None:
                previous = best.get(label.owner)
                if previous is None or scored[0] > previous.score:
                    best[label.owner] = Match(label.entry, round(scored[0], 4), scored[1])
        contained = self._contained_rows(query)
        n_curated = len(self.curated)
        strong = {False: False, True: False}  # per population: an exact or prefix match
        for owner, m in best.items():
            if m.kind in ("exact", "prefix"):
                strong[owner >= n_curated] = True
        if not (strong[False] and strong[True]):
            for owner, cosine in self._semantic(
                q, contained, skip_curated=strong[False], skip_mined=strong[True]
            ):
                if owner not in best:
                    best[owner] = Match(
                        self._entries[owner],
                        round(SEMANTIC_SCALE * min(1.0, cosine), 4),
                        "semantic",
                        weak=cosine < SEMANTIC_MIN_COSINE,
                        cosine=round(cosine, 4),
                    )
        curated = _ordered(m for owner, m in best.items() if owner < n_curated)
        mined = _ordered(m for owner, m in best.items() if owner >= n_curated)
        return curated, mined

    def _candidate_rows(self, q: _Phrase) -> set[int]:
        """Rows of every label `_lexical` can match for `q` (and some it cannot)."""
        if not q.words:
            return set()
        rows: set[int] = set()
        for key in (q.words, q.stems, ("", *q.content_key)):
            rows.update(self._by_key.get(key, ()))
        rows.update(self._by_acronym.get(q.acronym, ()) if q.acronym else ())
        rows.update(self._by_compact.get(q.compact, ()))
        rows.update(self._by_length.get(len(q.words), ()))  # typos keep the number of words
        if len(q.text) >= MIN_PREFIX_CHARS:
            first = q.words[0]
            at = bisect.bisect_left(self._words, (first, -1))
            while at < len(self._words) and self._words[at][0].startswith(first):
                rows.add(self._words[at][1])
                at += 1
        return rows

    def _contained_rows(self, q: _Phrase) -> list[int]:
        """Rows of the labels whose words are a run of the query's, the query having more."""
        out: list[int] = []
        n = len(q.stems)
        for i in range(n):
            for j in range(i + 1, min(n, i + self._longest) + 1):
                if j - i < n:
                    out.extend(self._by_key.get(q.stems[i:j], ()))
        return out

    def _lexical(self, q: _Phrase, label: _Label) -> tuple[float, MatchKind] | None:
        """The best exact / prefix / fuzzy score of query `q` for one label."""
        if not q.words:
            return None
        exact = self._exact(q, label)
        if exact is not None:
            return exact, "exact"
        penalty = 0.0 if label.preferred else ALT_PENALTY
        text = label.phrase.text
        if len(q.text) >= MIN_PREFIX_CHARS and len(q.words) <= len(label.phrase.words):
            start = _word_prefix(q.words, label.phrase.words)
            if start is not None:
                coverage = len(q.text) / len(text)
                if start == 0:
                    return PREFIX_BASE + PREFIX_SPAN * coverage - penalty, "prefix"
                return WORD_PREFIX_BASE + WORD_PREFIX_SPAN * coverage - penalty, "prefix"
        edits = self._typos(q, label.phrase)
        if edits is not None:
            share = 1.0 - edits / (FUZZY_MAX_EDITS + 1)
            return FUZZY_BASE + FUZZY_SPAN * share - penalty, "fuzzy"
        return None

    def _exact(self, q: _Phrase, label: _Label) -> float | None:
        lp = label.phrase
        score = EXACT_PREF if label.preferred else EXACT_ALT
        if q.words == lp.words:
            return score
        if q.stems == lp.stems and self._same_words(zip(q.words, lp.words, strict=True)):
            return score
        reordered = EXACT_REORDERED - (0.0 if label.preferred else ALT_PENALTY / 2)
        if (
            q.content
            and q.content_key == lp.content_key
            and self._same_words(
                (a, b) for (_, a), (_, b) in zip(q.content, lp.content, strict=True)
            )
        ):
            return reordered
        if q.acronym and (q.acronym == label.initials or q.acronym == lp.acronym):
            return reordered
        return None

    def _same_words(self, pairs: Iterable[tuple[str, str]]) -> bool:
        """Whether each (query word, label word) of the same stem is one word: equal, or the
        other plus a regular ending, or a word of its own in the corpus. A stem shared with a
        word nobody writes is a typo ("engagment" and "engagement" both stem to "engag")."""
        known = self._known_words()
        for a, b in pairs:
            if a != b and not _derived(a, b) and a not in known:
                return False
        return True

    def _typos(self, q: _Phrase, lp: _Phrase) -> int | None:
        """Edits that turn the query into the label if they are typos, else None."""
        if len(q.words) != len(lp.words):
            # spaces dropped or added: "team work" / "teamwork"
            return 1 if len(q.compact) >= FUZZY_MIN_CHARS and q.compact == lp.compact else None
        known = self._known_words()
        edits = 0
        for a, sa, b, sb in zip(q.words, q.stems, lp.words, lp.stems, strict=True):
            if a == b or (sa == sb and self._same_words([(a, b)])):
                continue
            if abs(len(a) - len(b)) > 2 or a in known:
                return None  # too far apart; or a real word: another word, not a misspelling
            shorter = min(len(a), len(b))
            bound = 0 if shorter < FUZZY_MIN_CHARS else 1 if shorter <= FUZZY_ONE_EDIT_CHARS else 2
            if bound == 0:
                return None
            distance = OSA.distance(a, b, score_cutoff=bound)
            if distance > bound:
                return None
            edits += distance
        return edits if 0 < edits <= FUZZY_MAX_EDITS else None

    def _semantic(
        self, q: str, contained: Sequence[int], *, skip_curated: bool, skip_mined: bool
    ) -> list[tuple[int, float]]:
        """(entry position, cosine of its closest facet) of every entry reaching
        WEAK_FLOOR_COSINE, leaving out the label facets the query contains."""
        facets = self._facets()
        if not len(facets.owners):
            return []
        vector = self._embedder.encode([q])[0]
        # inner product of L2-normalised vectors is cosine similarity
        cosines = facets.vectors @ vector
        if contained:
            cosines[facets.label_rows[np.asarray(contained, dtype=np.int64)]] = -1.0
        # facets are grouped by entry: the best of each group in one pass
        best = np.maximum.reduceat(cosines, facets.starts)
        n_curated = len(self.curated)
        out = []
        for owner, cosine in zip(facets.owners.tolist(), best.tolist(), strict=True):
            if (skip_curated and owner < n_curated) or (skip_mined and owner >= n_curated):
                continue
            if cosine >= WEAK_FLOOR_COSINE:
                out.append((owner, float(cosine)))
        return out

    # --- lazily built tables ---------------------------------------------------------------

    def _facets(self) -> _Facets:
        """Every entry's facets: its labels, its definition and its description vector from the
        index. Labels and definitions are embedded on first use, because a query often matches
        one label or the definition better than the whole description ("bouncing back from
        setbacks": 0.31 to Resilience's description, 0.48 to its definition, in the ontology of
        49 concepts)."""
        if self._facet_cache is None:
            # concurrent first lookups wait for one computation rather than each embedding every
            # label (bench.load, 8 clients on a cold index: /concepts p95 16 s before, 0.2 s after)
            with self._lock:
                if self._facet_cache is None:
                    self._facet_cache = self._embed_facets()
        return self._facet_cache

    def _embed_facets(self) -> _Facets:
        texts = [label.source for label in self._labels]
        owners = [label.owner for label in self._labels]
        rows: list[int] = []
        row_owners: list[int] = []
        for owner, e in enumerate(self._entries):
            if e.definition:
                texts.append(e.definition)
                owners.append(owner)
            if e.uri in self._concept_rows:
                rows.append(self._concept_rows[e.uri])
                row_owners.append(owner)
        # the build embedded these (Index.facet_vector); only what it lacks is encoded here
        built = [self.index.facet_vector(text) for text in texts]
        missing = [i for i, vector in enumerate(built) if vector is None]
        encoded = self._embedder.encode([texts[i] for i in missing]) if missing else None
        parts: list[npt.NDArray[np.float32]] = []
        if texts:
            matrix = np.zeros((len(texts), self._embedder.dimension), dtype=np.float32)
            for i, vector in enumerate(built):
                if vector is not None:
                    matrix[i] = vector
            if encoded is not None:
                matrix[missing] = encoded
            parts.append(matrix)
        if rows:
            parts.append(np.asarray(self.index.concept_vectors.vectors[rows]))
        if not parts:
            empty = np.zeros(0, dtype=np.int64)
            return _Facets(np.zeros((0, 1), dtype=np.float32), empty, empty, empty)
        vectors = np.concatenate(parts).astype(np.float32)
        owner_of = np.asarray(owners + row_owners, dtype=np.int64)
        order = np.argsort(owner_of, kind="stable")
        position = np.empty_like(order)
        position[order] = np.arange(len(order))
        sorted_owners = owner_of[order]
        starts = np.flatnonzero(np.r_[True, sorted_owners[1:] != sorted_owners[:-1]])
        return _Facets(
            vectors[order],
            starts.astype(np.int64),
            sorted_owners[starts],
            position[: len(self._labels)],  # labels came first
        )

    def _known_words(self) -> frozenset[str]:
        """Normalised words of every label and definition, and those written at least twice in
        the corpus: a query word among them is a word, not a typo."""
        if self._known_cache is None:
            with self._lock:
                if self._known_cache is None:
                    self._known_cache = self._collect_known_words()
        return self._known_cache

    def _collect_known_words(self) -> frozenset[str]:
        raw: Counter[str] = Counter()
        for document in self.index.documents.values():
            raw.update(split_words(document.text)[1::2])
        counts: Counter[str] = Counter()
        for word, count in raw.items():
            counts[normalize(word)] += count
        known = {w for w, c in counts.items() if c >= KNOWN_WORD_MIN_COUNT}
        for entry in self._entries:
            for text in (entry.label, *entry.alt_labels, entry.definition):
                known.update(t.norm for t in tokenize(text))
        return frozenset(known)


def _word_prefix(query: Sequence[str], label: Sequence[str]) -> int | None:
    """The first label word from which each query word starts the next label word, or None."""
    n = len(query)
    for start in range(len(label) - n + 1):
        if all(label[start + i].startswith(query[i]) for i in range(n)):
            return start
    return None


def _ordered(matches: Iterable[Match]) -> list[Match]:
    return sorted(matches, key=lambda m: (-m.score, m.entry.label.casefold(), m.entry.id))


def _hit(entry: Entry, score: float, kind: Literal[MatchKind, "all"], *, weak: bool) -> ConceptHit:
    return ConceptHit(
        id=entry.id,
        uri=entry.uri,
        label=entry.label,
        alt_labels=list(entry.alt_labels),
        definition=entry.definition,
        score=score,
        match=kind,
        candidate=entry.candidate,
        weak=weak,
    )

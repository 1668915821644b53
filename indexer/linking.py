"""Concept linking: which curated concepts a passage (or a query) speaks of.

Two methods, recorded on every `Mention`:

- **lexical**: a concept label (prefLabel or altLabel) occurs in the text, compared on stems
  (`indexer.text.tokenize`), so case, plural and inflection, hyphenation and typographic quotes
  do not matter. One mention per occurrence, with its exact span. A weak label
  (`Concept.weak_labels`, lg:weakLabel: "results", "values") links only where the same text
  also names its concept or a broader, narrower or related one by its prefLabel or by a label
  of several words.
- **semantic**: the concept a sentence of the passage (or the passage, or the query) is about:
  the closest concept vector (`Concept.embedding_text`), with a cosine of at least
  `semantic_threshold` and `semantic_margin` above that of each broader concept; only for
  concepts with no lexical mention in that passage.

Candidate concepts (`Concept.candidate`) are never linked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate

import numpy as np
import numpy.typing as npt

from .embedder import Embedder, Vectors
from .models import Concept, LinkMethod, Mention, Passage
from .text import label_key, split_words, stem, tokenize, word_forms

# Calibrated for all-MiniLM-L6-v2 with the 224-concept ontology on hand labels of the
# development set (tests/data/leadership_dev_mentions.jsonl: 1,030 lexical and 624 semantic
# mentions judged right or wrong, and 48 sentences labelled exhaustively for recall), printed by
# `python -m bench.mention_eval --index DIR --sweep`. The former rule, every concept within
# 0.55 of the best sentence (at most 5 a passage), was right for 65 of 148 semantic mentions
# (0.44): a sentence about leading comes out at 0.5..0.67 with every leadership style and model,
# and no threshold alone reached 0.8 with more than 6 mentions. With the concept required to be
# the sentence's closest and to beat its broader concepts, at sentence level, margin 0.08..0.12
# give the same links from 0.55 to 0.58 (16/20 right at 0.55 down to 13/16 at 0.58); 0.55 keeps
# the most, and at passage level (no sentence vectors, large corpora) 0.55 with margin 0.12 is
# right for 11 of 13 (margin 0.10: 11/14). Both were chosen on all the labels: per half of the
# documents the sentence-level figure is 8/11 and 8/9. On the bundled corpus's gold pairs
# (tests/indexer/linking_gold.py) the rule links 3 passages semantically, BridgeRole among them,
# for P 1.00, R 0.89 (the former rule: 70 semantic mentions, P 0.97, R 0.86).
DEFAULT_SEMANTIC_THRESHOLD = 0.55
DEFAULT_SEMANTIC_MARGIN = 0.12  # over the cosine of every broader concept
DEFAULT_MAX_SEMANTIC = 5  # semantic concepts kept per passage (best cosine first)

PREF_LABEL_SCORE = 1.0
ALT_LABEL_SCORE = 0.9
GENERIC_ALT_LABEL_SCORE = 0.8
WEAK_LABEL_SCORE = 0.7  # lg:weakLabel, linked only in context (see LexicalMatcher)

# What may separate the words of a multi-word label in running text: spaces, hyphens and
# dashes, quotes. Anything else (",", ".", ";", "(", ...) ends the phrase.
_JOINER = re.compile(r"[\s\-‐‑‒–—'\"‘’“”]*")


@dataclass(frozen=True, slots=True)
class LexicalMatch:
    concept_uri: str
    start: int  # absolute offsets: `offset` given to `find` plus the local offset
    end: int
    surface: str  # == text[start - offset:end - offset]
    score: float


@dataclass(frozen=True, slots=True)
class _Label:
    concept_uri: str
    words: tuple[str, ...]  # normalised words of the label
    score: float
    forms: frozenset[str] | None  # one-word labels: the word forms it matches; else None
    weak: bool  # an lg:weakLabel
    anchor: bool  # a prefLabel or a label of several words: it gives weak labels context


_VOWELS = frozenset("aeiou")


def _singular(word: str) -> str:
    """A plural noun's singular by the regular rules ("strategies" -> "strategy")."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def _forms(word: str) -> frozenset[str]:
    """The regular inflections of a one-word label: plural and possessive, and for a word that is
    not itself a plural the verb forms -s, -ed, -ing ("manager" -> "managers", "manager's";
    "inspire" -> "inspires", "inspired", "inspiring"). Derivations are not forms: "organizing"
    does not match "organization", nor "meaning" "means"."""
    singular = _singular(word)
    if singular.endswith("y") and singular[-2:-1] not in _VOWELS:
        plural = singular[:-1] + "ies"
    elif singular.endswith(("s", "sh", "ch", "x")):
        plural = singular + "es"
    else:
        plural = singular + "s"
    forms = {word, singular, plural, singular + "'s"}
    if singular == word:  # verb forms only from a word that is not a plural
        if word.endswith("e"):
            forms.update({word + "d", word[:-1] + "ing"})
        elif word.endswith("y") and word[-2:-1] not in _VOWELS:
            forms.update({word[:-1] + "ied", word + "ing"})
        else:
            forms.update({word + "ed", word + "ing"})
            if len(word) > 2 and word[-1] not in _VOWELS and word[-2] in _VOWELS:
                forms.update({word + word[-1] + "ed", word + word[-1] + "ing"})  # plan: planned
    return frozenset(forms)


class LexicalMatcher:
    """Finds concept labels in text, on stem sequences, longest match first.

    Rules:

    - A multi-word label matches where the stems of consecutive words equal the stems of its
      words, the words separated only by spaces, hyphens, dashes or quotes ("decision-making" =
      "Decision making", `the “why”` = "the why"); any other punctuation ends a phrase.
    - A one-word label matches its own regular inflections only (plural, possessive, -s, -ed,
      -ing: "Leaders", "manager's", "inspiring"), not every word sharing its stem: Snowball gives
      "organization" the stem of "organizing" and "means" the stem of "meaning".
    - If an occurrence still fits labels of several concepts, it goes to the concept whose label
      has these very words; if that leaves no single concept, it stays unlinked, not guessed.
    - Articles inside a multi-word phrase are skipped on both sides ("bridge between leaders and
      the workforce" matches the label "bridge between leaders and workforce").
    - Where matches overlap, the one with more words wins ("leadership mindset" over
      "leadership"), then the earlier one.
    - A weak label (`Concept.weak_labels`, lg:weakLabel: "results", "values", "direction")
      matches only in context: where the same text also has a match, by a prefLabel or a label
      of several words, of its concept or of a concept broader (up to two levels), narrower or
      related to it (a
      one-word altLabel gives no context: "target" and "culture" are as loose on medical text
      as any weak label). "Results" alone
      links nothing; beside "organizational success" or "productivity" it links
      OrganizationalSuccess. The text is the context: a passage when linking passages, the
      query when linking a query.

    Scores: 1.0 for a prefLabel, 0.9 for a multi-word altLabel, 0.8 for a one-word altLabel
    (one-word synonyms such as "culture" or "boss" are the loosest), 0.7 for a weak label.
    """

    def __init__(self, concepts: Iterable[Concept]) -> None:
        labels: dict[tuple[str, ...], list[_Label]] = {}
        label_keys: set[tuple[str, ...]] = set()
        # per concept with weak labels: the concepts whose non-weak mention lets them link
        self._context: dict[str, frozenset[str]] = {}
        concepts = list(concepts)
        broader = {c.uri: c.broader for c in concepts}
        for concept in concepts:
            if concept.weak_labels:
                # its neighbours, and the broader concepts of its broader ones: a passage on
                # Schein's "artifacts" may name only "organizational culture", two levels up
                grandparents = {g for b in concept.broader for g in broader.get(b, ())}
                self._context[concept.uri] = concept.neighbours | grandparents | {concept.uri}
            named = [(label, i == 0, False) for i, label in enumerate(concept.labels)]
            named += [(label, False, True) for label in concept.weak_labels]
            for label, pref, weak in named:
                key = label_key(label)
                if not key:
                    continue
                label_keys.add(key)
                words = _without_inner_articles(tuple(t.norm for t in tokenize(label)))
                if len(words) > 1:
                    key = tuple(stem(w) for w in words)
                if weak:
                    score = WEAK_LABEL_SCORE
                elif pref:
                    score = PREF_LABEL_SCORE
                else:
                    score = GENERIC_ALT_LABEL_SCORE if len(key) == 1 else ALT_LABEL_SCORE
                keys: set[tuple[str, ...]]
                if len(key) == 1:
                    forms = _forms(words[0])
                    entry = _Label(concept.uri, words, score, forms, weak, pref and not weak)
                    keys = {(stem(form),) for form in forms}
                else:
                    entry = _Label(concept.uri, words, score, None, weak, not weak)
                    keys = {key}
                for k in keys:
                    labels.setdefault(k, []).append(entry)
        self._labels: dict[tuple[str, ...], tuple[_Label, ...]] = {
            key: tuple(sorted(entries, key=lambda e: (e.concept_uri, -e.score, e.words)))
            for key, entries in labels.items()
        }
        self._max_words = max((len(key) for key in self._labels), default=0)
        # every leading part of a label key: a run of words that is none cannot grow into a label
        self._prefixes = frozenset(key[:n] for key in self._labels for n in range(1, len(key) + 1))
        self._first_stems = frozenset(key[0] for key in self._labels)
        self._label_keys = frozenset(label_keys)

    @property
    def label_keys(self) -> frozenset[tuple[str, ...]]:
        """The key (`text.label_key`) of every label the matcher knows, weak ones included."""
        return self._label_keys

    def find(self, text: str, offset: int = 0) -> list[LexicalMatch]:
        """Non-overlapping label occurrences in `text`, in text order, weak labels only in the
        context of `text`; offsets are `offset` + local, so
        `text[m.start - offset:m.end - offset] == m.surface`."""
        # the words of `text` at the odd places of `parts`, the gaps between them at the even
        # ones (the words `tokenize` finds, without making a Token of each: this runs on every
        # passage and sentence of a corpus, and most of their words begin no label)
        parts = split_words(text)
        forms = [word_forms(word) for word in parts[1::2]]
        first_stems = self._first_stems
        if first_stems.isdisjoint([word_stem for _, word_stem in forms]):
            return []
        # (first word, words spanned, label words matched, label)
        found: list[tuple[int, int, int, _Label]] = []
        for i, (_, first) in enumerate(forms):
            if first not in first_stems:
                continue
            words: list[int] = []  # the words matched, articles inside the phrase skipped
            j = i
            while j < len(forms) and len(words) < self._max_words:
                if j > i:
                    if not _JOINER.fullmatch(parts[2 * j]):  # the gap before word j
                        break
                    if forms[j][0] in _ARTICLES:  # "leaders and the workforce"
                        j += 1
                        continue
                words.append(j)
                key = tuple(forms[w][1] for w in words)
                if key not in self._prefixes:
                    break
                entries = self._labels.get(key)
                if entries is not None:
                    label = _choose(entries, tuple(forms[w][0] for w in words))
                    if label is not None:
                        found.append((i, j - i + 1, len(words), label))
                j += 1
        if not found:
            return []
        if any(label.weak for *_, label in found):
            # the context is what the text names by a prefLabel or a label of several words: a
            # one-word synonym ("target", "culture") is as loose on other text as a weak label
            named = {
                label.concept_uri
                for _, _, label in _resolve(found, len(forms), weak=False)
                if label.anchor
            }
            found = [
                f
                for f in found
                if not f[3].weak or not self._context[f[3].concept_uri].isdisjoint(named)
            ]
        chosen = _resolve(found, len(forms))
        ends = list(accumulate(map(len, parts)))  # word k spans ends[2k] to ends[2k + 1]
        matches = []
        for i, n, label in chosen:
            start, end = ends[2 * i], ends[2 * (i + n - 1) + 1]
            matches.append(
                LexicalMatch(
                    label.concept_uri, offset + start, offset + end, text[start:end], label.score
                )
            )
        return matches


_ARTICLES = frozenset({"the", "a", "an"})


def _resolve(
    found: Iterable[tuple[int, int, int, _Label]], words: int, *, weak: bool = True
) -> list[tuple[int, int, _Label]]:
    """Non-overlapping matches (first word, words spanned, label) among `found` (first word,
    words spanned, label words, label) over a text of `words` words, in text order: more label
    words first, then the earlier one. `weak=False` leaves weak labels out."""
    taken = [False] * words
    chosen: list[tuple[int, int, _Label]] = []
    for i, n, _, label in sorted(found, key=lambda f: (-f[2], f[0])):
        if (label.weak and not weak) or any(taken[i : i + n]):
            continue
        taken[i : i + n] = [True] * n
        chosen.append((i, n, label))
    chosen.sort(key=lambda f: f[0])
    return chosen


def _without_inner_articles(words: tuple[str, ...]) -> tuple[str, ...]:
    """`words` without articles after the first word: "bridge between leaders and the
    workforce" and "bridge between leaders and workforce" name the same thing."""
    return words[:1] + tuple(w for w in words[1:] if w not in _ARTICLES)


def _choose(entries: tuple[_Label, ...], words: tuple[str, ...]) -> _Label | None:
    """The label an occurrence of `words` (normalised) stands for, or None (see the rules of
    LexicalMatcher)."""
    same = [e for e in entries if e.words == words]
    matching = [
        e for e in entries if (e.forms is None or (len(words) == 1 and words[0] in e.forms))
    ]
    for group in (same, matching):
        uris = {e.concept_uri for e in group}
        if len(uris) > 1:
            return None
        if uris:
            (uri,) = uris
            return max((e for e in matching if e.concept_uri == uri), key=lambda e: e.score)
    return None


class ConceptLinker:
    """Links passages and queries to curated concepts, lexically and semantically.

    `concept_vectors`, when given, are the embeddings of `c.embedding_text()` for `concepts` in
    the same order (the build computes them once for the concept index too); otherwise they are
    computed here with `embedder`. Candidate concepts among `concepts` are ignored.

    A text (a sentence, a passage or a query) is linked semantically to at most one concept: the
    curated concept its vector is closest to, where that cosine reaches `semantic_threshold` and
    exceeds the cosine of every concept broader than it (transitively) by `semantic_margin`. The
    first condition asks that the text be about the concept rather than merely near it (the
    closest may be a concept the text names, and then nothing is added); the second that it be
    about the concept rather than its broader topic (a sentence about leading in general comes
    out near every leadership style, and about as near Leadership). See
    DEFAULT_SEMANTIC_THRESHOLD for the figures.
    """

    def __init__(
        self,
        concepts: Sequence[Concept],
        embedder: Embedder | None,
        *,
        semantic_threshold: float = DEFAULT_SEMANTIC_THRESHOLD,
        semantic_margin: float = DEFAULT_SEMANTIC_MARGIN,
        concept_vectors: Vectors | None = None,
        max_semantic: int = DEFAULT_MAX_SEMANTIC,
    ) -> None:
        keep = [i for i, c in enumerate(concepts) if not c.candidate]
        self.concepts: tuple[Concept, ...] = tuple(concepts[i] for i in keep)
        if concept_vectors is None:
            if embedder is None:
                raise ValueError("ConceptLinker needs an embedder or precomputed concept_vectors")
            vectors = embedder.encode([c.embedding_text() for c in self.concepts])
        else:
            if len(concept_vectors) != len(concepts):
                raise ValueError(
                    f"concept_vectors has {len(concept_vectors)} rows for {len(concepts)} concepts"
                )
            vectors = concept_vectors[keep]
        self._vectors = np.asarray(vectors, dtype=np.float32)
        self._uris = [c.uri for c in self.concepts]
        self._ancestors = _ancestor_rows(self.concepts)
        self.matcher = LexicalMatcher(self.concepts)
        self.semantic_threshold = semantic_threshold
        self.semantic_margin = semantic_margin
        self.max_semantic = max_semantic

    def link(
        self,
        passages: Sequence[Passage],
        passage_vectors: Vectors,
        *,
        sentence_vectors: Vectors | None = None,
    ) -> list[Mention]:
        """Mentions of every passage, in passage order: its lexical mentions in text order, then
        its semantic ones, best cosine first (ties by concept URI), at most `max_semantic`.

        Semantically, a passage mentions the concept its vector is about (see the class), or,
        when `sentence_vectors` are given (one row per text of `sentence_texts(passages)`), the
        concepts its sentences are about, each scored by its best sentence; concepts the passage
        names lexically are left out. Sentences are the sharper signal: in a corpus about
        leadership every passage resembles every leadership concept a little, while a sentence
        resembles the concept it is about.
        """
        if len(passage_vectors) != len(passages):
            raise ValueError(f"{len(passage_vectors)} vectors for {len(passages)} passages")
        if sentence_vectors is None:
            owners = list(range(len(passages)))
            concepts, scores = self._about(passage_vectors)
        else:
            owners = [row for row, p in enumerate(passages) for _ in _sentence_spans(p)]
            if len(sentence_vectors) != len(owners):
                raise ValueError(
                    f"{len(sentence_vectors)} sentence vectors for {len(owners)} sentences"
                )
            concepts, scores = self._about(sentence_vectors)
        about: list[dict[str, float]] = [{} for _ in passages]
        for row, j, score in zip(owners, concepts.tolist(), scores.tolist(), strict=True):
            if j >= 0:
                uri = self._uris[j]
                about[row][uri] = max(score, about[row].get(uri, -1.0))
        mentions: list[Mention] = []
        for row, passage in enumerate(passages):
            lexical = self.matcher.find(passage.text, offset=passage.start)
            mentions.extend(
                Mention(passage.id, m.concept_uri, m.score, "lexical", m.start, m.end, m.surface)
                for m in lexical
            )
            linked = {m.concept_uri for m in lexical}
            mentions.extend(
                Mention(passage.id, uri, score, "semantic")
                for uri, score in self._best(about[row], exclude=linked)
            )
        return mentions

    def link_query(
        self, text: str, query_vector: Vectors | None = None
    ) -> list[tuple[str, float, LinkMethod]]:
        """Concepts a query speaks of, each once: lexical matches in text order (a weak label
        only beside a label of its concept or of a neighbour), then the concept the query is
        about semantically (see the class), if any and not already named. `query_vector` (one
        row or 1-D) may be omitted to link lexically only."""
        out: list[tuple[str, float, LinkMethod]] = []
        seen: set[str] = set()
        for m in self.matcher.find(text):
            if m.concept_uri not in seen:
                seen.add(m.concept_uri)
                out.append((m.concept_uri, m.score, "lexical"))
        if query_vector is not None:
            vector = np.asarray(query_vector, dtype=np.float32).reshape(1, -1)
            concepts, scores = self._about(vector)
            if concepts[0] >= 0:
                hit = {self._uris[int(concepts[0])]: float(scores[0])}
                out.extend((uri, score, "semantic") for uri, score in self._best(hit, exclude=seen))
        return out

    def _about(self, vectors: Vectors) -> tuple[npt.NDArray[np.int64], Vectors]:
        """Per row of `vectors`, the concept row it is semantically about and the cosine, or -1
        (and the best cosine) where none passes the threshold and the margin over its broader
        concepts."""
        if not len(self._uris) or not len(vectors):
            return np.full(len(vectors), -1, dtype=np.int64), np.zeros(len(vectors), np.float32)
        sims = self._similarities(vectors)
        best = sims.argmax(axis=1)
        top = sims[np.arange(len(sims)), best]
        ancestors = self._ancestors[best]  # rows x most ancestors, -1 padded
        if ancestors.shape[1]:
            above = np.take_along_axis(sims, np.maximum(ancestors, 0), axis=1)
            above = np.where(ancestors >= 0, above, -np.inf).max(axis=1)
        else:
            above = np.full(len(sims), -np.inf, dtype=np.float32)
        ok = (top >= self.semantic_threshold) & (top - above >= self.semantic_margin)
        return np.where(ok, best, -1), top

    def _similarities(self, vectors: Vectors) -> Vectors:
        # inner product of L2-normalised vectors is cosine similarity
        sims: Vectors = np.asarray(vectors, dtype=np.float32) @ self._vectors.T
        return sims

    def _best(self, scores: dict[str, float], *, exclude: set[str]) -> list[tuple[str, float]]:
        hits = [(uri, score) for uri, score in scores.items() if uri not in exclude]
        hits.sort(key=lambda h: (-h[1], h[0]))
        return [(uri, min(1.0, round(score, 6))) for uri, score in hits[: self.max_semantic]]


def _ancestor_rows(concepts: Sequence[Concept]) -> npt.NDArray[np.int64]:
    """Per concept, the rows of the concepts broader than it, transitively, padded with -1 to
    one width (0 columns when no concept has a broader one)."""
    row = {c.uri: i for i, c in enumerate(concepts)}
    broader = [[row[b] for b in c.broader if b in row] for c in concepts]
    ancestors: list[list[int]] = []
    for i in range(len(concepts)):
        seen: set[int] = set()
        frontier = list(broader[i])
        while frontier:  # a cycle in a hand-edited ontology must not hang the build
            j = frontier.pop()
            if j != i and j not in seen:
                seen.add(j)
                frontier.extend(broader[j])
        ancestors.append(sorted(seen))
    width = max((len(a) for a in ancestors), default=0)
    table = np.full((len(concepts), width), -1, dtype=np.int64)
    for i, a in enumerate(ancestors):
        table[i, : len(a)] = a
    return table


def _sentence_spans(passage: Passage) -> list[tuple[int, int]]:
    """The passage's sentences clipped to it, as offsets into `passage.text`."""
    spans = []
    for span in passage.sentences:
        start, end = max(span.start, passage.start), min(span.end, passage.end)
        if start < end:
            spans.append((start - passage.start, end - passage.start))
    return spans


def sentence_texts(passages: Sequence[Passage]) -> list[str]:
    """The sentences of every passage, in passage order: the texts to embed for
    `ConceptLinker.link(..., sentence_vectors=...)`."""
    return [p.text[start:end] for p in passages for start, end in _sentence_spans(p)]

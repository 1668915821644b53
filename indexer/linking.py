"""Concept linking: which curated concepts a passage (or a query) speaks of.

Two methods, recorded on every `Mention`:

- **lexical**: a concept label (prefLabel or altLabel) occurs in the text, compared on stems
  (`indexer.text.tokenize`), so case, plural and inflection, hyphenation and typographic quotes
  do not matter. One mention per occurrence, with its exact span.
- **semantic**: the cosine of the concept vector (`Concept.embedding_text`) with the passage
  vector, or better with the best-matching sentence of the passage, reaches
  `semantic_threshold`, for concepts with no lexical mention in that passage.

Candidate concepts (`Concept.candidate`) are never linked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate

import numpy as np

from .embedder import Embedder, Vectors
from .models import Concept, LinkMethod, Mention, Passage
from .text import label_key, split_words, stem, tokenize, word_forms

# Calibrated for all-MiniLM-L6-v2 on the bundled corpus (chunk_corpus with the model's token
# counter, max_tokens=200: 34 passages) against tests/indexer/linking_gold.py (57 sentence/concept
# pairs, 36 positive). A gold pair counts as linked when the concept has a lexical mention inside
# the sentence or a semantic mention on the passage holding it. Thresholds 0.30..0.79 were swept
# in steps of 0.01 and the one maximising the linker's F1 kept (lexical links alone: P 1.00,
# R 0.86, F1 0.925; they miss e.g. the bridge sentence, which names no BridgeRole label).
# - sentence-level scores (`sentence_vectors` given): F1 peaks at 0.53..0.57 (P 0.97, R 0.92,
#   F1 0.943); the threshold is the middle of that plateau. 0.59..0.69 scores F1 0.941
#   (P 1.00, R 0.89); above 0.69 the bridge sentence (cosine 0.69 with BridgeRole) is lost.
# - passage-level scores: no threshold beats lexical-only linking (every passage of this corpus
#   resembles Leader, LeadershipMindset, Synergy... at 0.45..0.66); at 0.55 P 0.91, R 0.89,
#   F1 0.901, and the bridge passage still gets BridgeRole (0.57). Prefer sentence vectors.
DEFAULT_SEMANTIC_THRESHOLD = 0.55
DEFAULT_MAX_SEMANTIC = 5  # semantic concepts kept per passage (best cosine first)

PREF_LABEL_SCORE = 1.0
ALT_LABEL_SCORE = 0.9
GENERIC_ALT_LABEL_SCORE = 0.8

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

    Scores: 1.0 for a prefLabel, 0.9 for a multi-word altLabel, 0.8 for a one-word altLabel
    (one-word synonyms such as "direction", "meaning" or "culture" are the loosest).
    """

    def __init__(self, concepts: Iterable[Concept]) -> None:
        labels: dict[tuple[str, ...], list[_Label]] = {}
        label_keys: set[tuple[str, ...]] = set()
        for concept in concepts:
            for i, label in enumerate(concept.labels):
                key = label_key(label)
                if not key:
                    continue
                label_keys.add(key)
                words = _without_inner_articles(tuple(t.norm for t in tokenize(label)))
                if len(words) > 1:
                    key = tuple(stem(w) for w in words)
                if i == 0:
                    score = PREF_LABEL_SCORE
                else:
                    score = GENERIC_ALT_LABEL_SCORE if len(key) == 1 else ALT_LABEL_SCORE
                keys: set[tuple[str, ...]]
                if len(key) == 1:
                    forms = _forms(words[0])
                    entry = _Label(concept.uri, words, score, forms)
                    keys = {(stem(form),) for form in forms}
                else:
                    entry = _Label(concept.uri, words, score, None)
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
        """The key (`text.label_key`) of every label the matcher knows."""
        return self._label_keys

    def find(self, text: str, offset: int = 0) -> list[LexicalMatch]:
        """Non-overlapping label occurrences in `text`, in text order; offsets are `offset` + local,
        so `text[m.start - offset:m.end - offset] == m.surface`."""
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
        found.sort(key=lambda f: (-f[2], f[0]))
        taken = [False] * len(forms)
        chosen: list[tuple[int, int, _Label]] = []
        for i, n, _, label in found:
            if any(taken[i : i + n]):
                continue
            taken[i : i + n] = [True] * n
            chosen.append((i, n, label))
        chosen.sort(key=lambda f: f[0])
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
    """

    def __init__(
        self,
        concepts: Sequence[Concept],
        embedder: Embedder | None,
        *,
        semantic_threshold: float = DEFAULT_SEMANTIC_THRESHOLD,
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
        self.matcher = LexicalMatcher(self.concepts)
        self.semantic_threshold = semantic_threshold
        self.max_semantic = max_semantic

    def link(
        self,
        passages: Sequence[Passage],
        passage_vectors: Vectors,
        *,
        sentence_vectors: Vectors | None = None,
    ) -> list[Mention]:
        """Mentions of every passage, in passage order: its lexical mentions in text order, then
        its semantic ones, best cosine first (ties by concept URI).

        The semantic score of a concept is its cosine with the passage vector, or, when
        `sentence_vectors` are given (one row per text of `sentence_texts(passages)`), with the
        passage's best-matching sentence. Sentences are the sharper signal: in a corpus about
        leadership every passage resembles every leadership concept a little, while a sentence
        resembles the concept it is about (see DEFAULT_SEMANTIC_THRESHOLD).
        """
        if len(passage_vectors) != len(passages):
            raise ValueError(f"{len(passage_vectors)} vectors for {len(passages)} passages")
        if sentence_vectors is None:
            sims = self._similarities(passage_vectors)
        else:
            sims = self._best_sentence(passages, sentence_vectors)
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
                for uri, score in self._semantic(sims[row], exclude=linked)
            )
        return mentions

    def _best_sentence(self, passages: Sequence[Passage], sentence_vectors: Vectors) -> Vectors:
        """Per passage and concept, the highest cosine of one of the passage's sentences."""
        owners = [row for row, p in enumerate(passages) for _ in _sentence_spans(p)]
        if len(sentence_vectors) != len(owners):
            raise ValueError(
                f"{len(sentence_vectors)} sentence vectors for {len(owners)} sentences"
            )
        best = np.full((len(passages), len(self._uris)), -1.0, dtype=np.float32)
        if owners:
            np.maximum.at(best, np.asarray(owners), self._similarities(sentence_vectors))
        return best

    def link_query(
        self, text: str, query_vector: Vectors | None = None
    ) -> list[tuple[str, float, LinkMethod]]:
        """Concepts a query speaks of, each once: lexical matches in text order, then semantic
        ones above the threshold, best first. `query_vector` (one row or 1-D) may be omitted to
        link lexically only."""
        out: list[tuple[str, float, LinkMethod]] = []
        seen: set[str] = set()
        for m in self.matcher.find(text):
            if m.concept_uri not in seen:
                seen.add(m.concept_uri)
                out.append((m.concept_uri, m.score, "lexical"))
        if query_vector is not None:
            vector = np.asarray(query_vector, dtype=np.float32).reshape(1, -1)
            for uri, score in self._semantic(self._similarities(vector)[0], exclude=seen):
                out.append((uri, score, "semantic"))
        return out

    def _similarities(self, vectors: Vectors) -> Vectors:
        if not len(self._uris):
            return np.zeros((len(vectors), 0), dtype=np.float32)
        # inner product of L2-normalised vectors is cosine similarity
        sims: Vectors = np.asarray(vectors, dtype=np.float32) @ self._vectors.T
        return sims

    def _semantic(self, sims: Vectors, *, exclude: set[str]) -> list[tuple[str, float]]:
        hits = [
            (self._uris[j], float(s))
            for j, s in enumerate(sims.tolist())
            if s >= self.semantic_threshold and self._uris[j] not in exclude
        ]
        hits.sort(key=lambda h: (-h[1], h[0]))
        return [(uri, min(1.0, round(score, 6))) for uri, score in hits[: self.max_semantic]]


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

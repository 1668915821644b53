"""Extractive question answering: answer with one span of the corpus, quoted exactly, or abstain.

1. Retrieve the top-k passages (hybrid search) and read the question (`answers.read_question`):
   its kind, its salient terms, its named terms.
2. Make the candidate spans of those passages (`answers.candidates`): sentences, a sentence
   with the one that continues it, a sentence announcing a list with its items.
3. Score every candidate with the ranker of the answer model (`answer_model`) over its
   features: cosine with the question, coverage of the question's terms (IDF-weighted, stems,
   names and numbers included), the passage's retrieval score and rank, whether the span has the
   shape the question asks for (a number, a person, a list...), its length and place.
4. The best candidate is the answer, from one document only; up to two more non-overlapping
   candidates from other passages that score nearly as well are cited beside it as support.
5. The confidence model turns the best candidate's scores, its lead over its rivals, and whether
   the evidence holds the question's named terms into a calibrated probability of being right.
   Below the threshold (`Settings.answer_threshold`, or the request's `min_confidence`) the
   service abstains, and says why: what the corpus does not mention, or that nothing fits.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from leadgraph.indexer.namespaces import short_id
from leadgraph.indexer.store import Index
from leadgraph.indexer.text import analyze

from ..errors import Unprocessable
from ..schemas import AskResponse, Citation, ConceptDefinition, SearchMode
from .answer_model import AnswerModel, shares, summarize
from .answers import (
    Candidate,
    Encoded,
    Evidence,
    PassageScore,
    Question,
    Unit,
    Vocabulary,
    candidates,
    content_tokens,
    features,
    missing_named,
    read_question,
    units_of,
)
from .search import QueryConcepts, Ranked, SearchService

MAX_SUPPORT = 2  # citations beside the answer
SUPPORT_LOGIT_GAP = 1.0  # a supporting span scores within this of the answer (ranker logits)
CACHE_MAX = 50_000  # sentence stems kept per loaded index
# sentences whose vectors and token vectors are kept (about 25 kB each with all-MiniLM-L6-v2)
CACHE_UNITS = 20_000

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _Bounded(Generic[K, V]):
    """A least-recently-used cache of at most `size` values, made by `make` on a miss; safe to
    share between the threads that serve requests (a value may be made twice, never lost)."""

    def __init__(self, make: Callable[[K], V], size: int) -> None:
        self._make = make
        self._size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, key: K) -> V:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = self._make(key)
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value


@dataclass(frozen=True)
class Analysis:
    """Everything `ask` knows of a question before deciding: the features of every candidate
    (what the answer model is fitted on, by `bench.qa_eval`)."""

    question: Question
    linked: QueryConcepts
    ranked: list[Ranked]
    candidates: list[Candidate]
    features: np.ndarray  # one row of answers.FEATURES per candidate
    missing: list[str]  # named terms of the question that no retrieved document holds
    named_missing_all: float  # their share of the question's named terms
    cos_passage_best: float


class QAService:
    """Answers questions over one loaded index. Build once per index."""

    def __init__(
        self,
        index: Index,
        search: SearchService,
        *,
        model: AnswerModel | None = None,
        threshold: float = 0.5,
    ) -> None:
        self.index = index
        self.search = search
        self.model = model or AnswerModel.load()
        self.threshold = threshold
        self._unit_vectors: OrderedDict[tuple[str, int, int], Encoded] = OrderedDict()
        self._unit_lock = threading.Lock()
        self._unit_stems = _Bounded[tuple[str, int, int], tuple[str, ...]](
            lambda key: tuple(analyze(self.index.documents[key[0]].text[key[1] : key[2]])),
            CACHE_MAX,
        )
        self._vocabulary = _Bounded[str, Vocabulary](self._vocabulary_of, 4096)
        self._units = _Bounded[int, tuple[list[Unit], int]](self._units_from, CACHE_MAX)
        self._title_counts = _Bounded[str, int](search.embedder.count_tokens, 4096)

    def adopt(self, previous: QAService) -> int:
        """Takes over the sentence vectors `previous` (the service over the index version
        served before) made for documents whose title and text this index has unchanged, as
        the same text encodes to the same vectors; returns how many. Without them, every
        question right after an update re-encoded its passages' sentences (10x a warm one)."""
        if previous.search.embedder is not self.search.embedder:
            return 0  # other vectors for the same text
        same = {
            document_id
            for document_id, document in self.index.documents.items()
            if (before := previous.index.documents.get(document_id)) is not None
            and before.title == document.title
            and before.text == document.text
        }
        with previous._unit_lock:
            kept = [(key, value) for key, value in previous._unit_vectors.items() if key[0] in same]
        with self._unit_lock:
            for key, value in kept:
                self._unit_vectors.setdefault(key, value)
            while len(self._unit_vectors) > CACHE_UNITS:
                self._unit_vectors.popitem(last=False)
        return len(kept)

    def ask(self, question: str, *, k: int, min_confidence: float | None = None) -> AskResponse:
        answer, _ = self.ask_ranked(question, k=k, min_confidence=min_confidence)
        return answer

    def ask_ranked(
        self, question: str, *, k: int, min_confidence: float | None = None
    ) -> tuple[AskResponse, list[Ranked]]:
        """`ask`, with the passages it retrieved (the hybrid ranking of the question), so that a
        caller quoting them (`ContextService`) does not retrieve them again."""
        if min_confidence is not None and not 0.0 <= min_confidence <= 1.0:
            raise Unprocessable(f"min_confidence: must be between 0 and 1, got {min_confidence}")
        threshold = self.threshold if min_confidence is None else min_confidence
        analysis = self.analyze(question, k=k)
        return self._answer(analysis, threshold), analysis.ranked

    def _answer(self, analysis: Analysis, threshold: float) -> AskResponse:
        concepts = self._definitions(analysis.linked)
        if analysis.question.named and analysis.named_missing_all == 1.0:
            # every name, acronym or figure of the question is absent: whatever sentence comes
            # closest is about something else ("the four stages" of another model)
            reason = "the corpus does not mention " + ", ".join(analysis.missing)
            return _abstain(0.0, concepts, analysis.missing, reason)
        if not analysis.candidates:
            return _abstain(0.0, concepts, analysis.missing, "no sentence of the corpus fits")
        logits = self.model.ranker.logit(analysis.features)
        best, summary = summarize(
            [(c.passage_row, c.start, c.end) for c in analysis.candidates],
            analysis.features,
            logits,
            named_missing_all=analysis.named_missing_all,
            cos_passage_best=analysis.cos_passage_best,
            kind=analysis.question.kind,
        )
        confidence = float(self.model.confidence.probability(summary[None, :])[0])
        if confidence < threshold:
            reason = (
                "the corpus does not mention " + ", ".join(analysis.missing)
                if analysis.missing
                else "no passage answers this confidently enough"
            )
            return _abstain(confidence, concepts, analysis.missing, reason)
        chosen = [best, *self._support(analysis.candidates, logits, best)]
        share = shares(logits)
        citations = [
            self._citation(
                analysis.candidates[i], float(share[i]), role="answer" if n == 0 else "support"
            )
            for n, i in enumerate(chosen)
        ]
        return AskResponse(
            answer=citations[0].quote,
            abstained=False,
            confidence=round(confidence, 4),
            citations=citations,
            concepts=concepts,
            missing=analysis.missing,
            reason=None,
        )

    def analyze(self, question: str, *, k: int) -> Analysis:
        """Retrieval, candidates and their features for `question` (checked as `ask` checks)."""
        text = self.search.check_text(question, "question")
        self.search.check_k(k)
        vector = self.search.embed(text)
        (asked,) = self.search.embedder.encode_tokens([text])
        linked = self.search.query_concepts(text, vector)
        ranked = self.search.rank(text, k, SearchMode.hybrid, vector=vector, query_concepts=linked)
        read = read_question(text, self.search.lexical.idf)
        passages: dict[int, PassageScore] = {}
        found: list[Candidate] = []
        for rank, r in enumerate(ranked):
            # answers are read by the loaded version's passage positions (its own caches key
            # on them); the rankings carry ids
            row = self.index.passage_rows[r.passage_id]
            passage = self.index.passages[row]
            dense = r.dense if r.dense is not None else 0.0
            passages[row] = PassageScore(r.score, dense, rank, passage.ordinal)
            units, own = self._units(row)
            document = self.index.documents[passage.document_id].text
            found.extend(candidates(passage.document_id, document, own, units))
        vectors = self._embed([u for c in found for u in (*c.units, *c.neighbours)])
        evidence = Evidence(
            read,
            vector,
            content_tokens(asked),
            vectors,
            passages,
            {row: self.index.passages[row].document_id for row in passages},
            self._vocabulary,
            lambda u: self._unit_stems(
                (self.index.passages[u.passage_row].document_id, u.span.start, u.span.end)
            ),
            frozenset(uri for uri, _, _ in linked),
            self._lexical_mentions,
        )
        retrieved = [
            self._vocabulary(d)
            for d in dict.fromkeys(
                self.search.catalogue.passage(r.passage_id).document_id for r in ranked
            )
        ]
        missing = missing_named(read, retrieved)
        named_words = set(read.named.values())
        share = (
            len([w for w in named_words if w in missing]) / len(named_words) if named_words else 0.0
        )
        best_cosine = max((p.dense for p in passages.values()), default=0.0)
        return Analysis(
            read, linked, ranked, found, features(found, evidence), missing, share, best_cosine
        )

    def _units_from(self, row: int) -> tuple[list[Unit], int]:
        """The units of passage `row`, then those of the next passage of its document (a list
        may run on into it), and how many are the passage's own."""
        passage = self.index.passages[row]
        document = self.index.documents[passage.document_id].text
        units = units_of(document, passage.sentences, row)
        own = len(units)
        following = row + 1
        if (
            following < len(self.index.passages)
            and self.index.passages[following].document_id == passage.document_id
        ):
            after = self.index.passages[following]
            units += [
                u
                for u in units_of(document, after.sentences, following)
                if u.span.start >= passage.end
            ]
        return units, own

    def _lexical_mentions(self, row: int) -> list[tuple[str, int]]:
        passage = self.index.passages[row]
        return [
            (m.concept_uri, m.start)
            for m in self.index.mentions_by_passage.get(passage.id, ())
            if m.start is not None
        ]

    def _vocabulary_of(self, document_id: str) -> Vocabulary:
        document = self.index.documents[document_id]
        return Vocabulary.of(f"{document.title}\n{document.text}")

    def _embed(self, units: list[Unit]) -> dict[tuple[str, int, int], Encoded]:
        """Vectors and token vectors of `units` by (document, start, end), encoding only those
        not held from an earlier question (at most CACHE_UNITS are held)."""
        keys = [
            (self.index.passages[u.passage_row].document_id, u.span.start, u.span.end)
            for u in units
        ]
        out: dict[tuple[str, int, int], Encoded] = {}
        missing: dict[tuple[str, int, int], tuple[str, int]] = {}  # key -> (text, title tokens)
        with self._unit_lock:
            for key in keys:
                if key in self._unit_vectors:
                    self._unit_vectors.move_to_end(key)
                    out[key] = self._unit_vectors[key]
        for key, unit in zip(keys, units, strict=True):
            if key not in out and key not in missing:
                # a sentence is read under its document's title, which often names what its
                # "they" and "this" stand for; the title's own tokens are left out of MaxSim
                title = f"{self.index.documents[key[0]].title.strip()}."
                missing[key] = (f"{title} {unit.text}", self._title_counts(title))
        if missing:
            texts = [text for text, _ in missing.values()]
            encoded = self.search.embedder.encode_tokens(texts)
            made = {
                key: Encoded.of(tokens, skip=skip)
                for (key, (_, skip)), tokens in zip(missing.items(), encoded, strict=True)
            }
            out.update(made)
            with self._unit_lock:
                self._unit_vectors.update(made)
                while len(self._unit_vectors) > CACHE_UNITS:
                    self._unit_vectors.popitem(last=False)
        return out

    def _support(self, found: list[Candidate], logits: np.ndarray, best: int) -> list[int]:
        """Up to MAX_SUPPORT candidates from other passages than the answer's, scoring within
        SUPPORT_LOGIT_GAP of it, overlapping neither it nor each other."""
        chosen = [best]
        floor = float(logits[best]) - SUPPORT_LOGIT_GAP
        for i in np.argsort(-logits).tolist():
            if len(chosen) > MAX_SUPPORT or float(logits[i]) < floor:
                break
            c = found[i]
            if any(
                c.passage_row == found[j].passage_row
                or (
                    c.document_id == found[j].document_id
                    and c.start < found[j].end
                    and found[j].start < c.end
                )
                for j in chosen
            ):
                continue
            chosen.append(i)
        return chosen[1:]

    def _citation(self, candidate: Candidate, score: float, *, role: str) -> Citation:
        passage = self.index.passages[candidate.passage_row]
        return Citation(
            document_id=candidate.document_id,
            passage_id=passage.id,
            source=self.index.documents[candidate.document_id].source,
            quote=candidate.text,
            start=candidate.start,
            end=candidate.end,
            score=round(score, 4),
            role=role,
        )

    def _definitions(self, linked: QueryConcepts) -> list[ConceptDefinition]:
        out = []
        for uri, _, _ in linked:
            concept = self.index.concepts.get(uri)
            if concept is not None:
                out.append(
                    ConceptDefinition(
                        id=short_id(uri), label=concept.pref_label, definition=concept.definition
                    )
                )
        return out


def _abstain(
    confidence: float, concepts: list[ConceptDefinition], missing: list[str], reason: str
) -> AskResponse:
    return AskResponse(
        answer=None,
        abstained=True,
        confidence=round(confidence, 4),
        citations=[],
        concepts=concepts,
        missing=missing,
        reason=reason,
    )

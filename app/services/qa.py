"""Extractive question answering: answer with sentences of the corpus, quoted exactly, or abstain.

1. Retrieve the top-k passages (hybrid search).
2. Split them into their sentences (`Passage.sentences`), trimming leading bullets and emoji.
3. Score each sentence: its own cosine with the question (the embedder), plus a little of its
   passage's retrieval score and of the question's concepts it mentions.
4. Answer with the best sentence, and up to two more that score nearly as well and say something
   else (not near-duplicates of one already chosen), each cited with exact offsets.
5. Abstain when even the best sentence is not similar enough to the question.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from indexer.embedder import Vectors
from indexer.models import Span
from indexer.namespaces import short_id
from indexer.store import Index

from ..schemas import AskResponse, Citation, ConceptDefinition, SearchMode
from .search import QueryConcepts, SearchService

SENTENCE_WEIGHT = 0.75  # cosine of sentence and question
PASSAGE_WEIGHT = 0.15  # fused retrieval score of the sentence's passage (0..1)
CONCEPT_WEIGHT = 0.10  # share of the question's concepts named in the sentence
# Abstention: answer only when the best sentence's cosine with the question reaches this.
# Measured with all-MiniLM-L6-v2 on the bundled corpus, k=5 (cosine of the sentence ranked first):
#   10 in-domain questions: 0.69..0.87 (bridge between leaders and the workforce 0.75, what
#     does management do 0.69, what is psychological safety 0.71, trust 0.75, strategic
#     alignment 0.83, leadership mindset in management 0.87)
#   10 out-of-domain questions: 0.02..0.28 (capital of France 0.02, sourdough bread 0.09,
#     2018 World Cup 0.09, boiling point of water 0.07, sorting a list in Python 0.09,
#     vaccines 0.13, "Who is the CEO of Apple?" 0.28, the highest: it shares business words)
# 0.45 sits in the gap, nearer the off-topic side so loosely worded in-domain questions still
# get an answer; the confidence is 0.5 at the threshold.
ANSWER_MIN_COSINE = 0.45
CONFIDENCE_SCALE = 0.06  # logistic slope of the confidence around the threshold
MAX_SENTENCES = 3
EXTRA_MARGIN = 0.08  # further sentences must score within this of the best
REDUNDANT_COSINE = 0.80  # a sentence this close to a chosen one adds nothing
MIN_SENTENCE_WORDS = 4
SENTENCE_CACHE_MAX = 50_000

# Leading characters that are no part of what the sentence says: bullets, emoji, markup.
_LEAD = re.compile(r"[^\w\"'“‘(]+")
_WORD = re.compile(r"\w+")
# A statement ends in . ! or … (maybe inside quotes or brackets); headings and titles end in a
# word, questions in "?", and neither answers a question.
_STATEMENT_END = re.compile(r"[.!…][\"'”’)\]]*$")


@dataclass(frozen=True, slots=True)
class _Sentence:
    passage_row: int
    span: Span
    text: str


@dataclass(frozen=True, slots=True)
class _Scored:
    sentence: _Sentence
    cosine: float
    score: float
    vector: Vectors


class QAService:
    """Answers questions over one loaded index. Build once per index."""

    def __init__(self, index: Index, search: SearchService) -> None:
        self.index = index
        self.search = search
        self._vectors: dict[tuple[int, int, int], Vectors] = {}

    def ask(self, question: str, *, k: int) -> AskResponse:
        text = self.search.check_text(question, "question")
        self.search.check_k(k)
        vector = self.search.embed(text)
        linked = self.search.query_concepts(text, vector)
        ranked = self.search.rank(text, k, SearchMode.hybrid, vector=vector, query_concepts=linked)
        concepts = self._definitions(linked)
        retrieval = {r.row: r.score for r in ranked}
        sentences = [s for row in retrieval for s in self._sentences(row)]
        scored = self._score(sentences, vector, retrieval, linked)
        if not scored or scored[0].cosine < ANSWER_MIN_COSINE:
            best = scored[0].cosine if scored else 0.0
            return AskResponse(
                answer=None,
                abstained=True,
                confidence=_confidence(best),
                citations=[],
                concepts=concepts,
            )
        chosen = self._choose(scored)
        citations = []
        for s in chosen:
            passage = self.index.passages[s.sentence.passage_row]
            citations.append(
                Citation(
                    document_id=passage.document_id,
                    passage_id=passage.id,
                    source=self.index.documents[passage.document_id].source,
                    quote=s.sentence.text,
                    start=s.sentence.span.start,
                    end=s.sentence.span.end,
                    score=round(s.score, 4),
                )
            )
        return AskResponse(
            answer=" ".join(c.quote for c in citations),
            abstained=False,
            confidence=_confidence(chosen[0].cosine),
            citations=citations,
            concepts=concepts,
        )

    def _sentences(self, row: int) -> list[_Sentence]:
        passage = self.index.passages[row]
        document = self.index.documents[passage.document_id].text
        out = []
        for span in passage.sentences or (Span(passage.start, passage.end),):
            start, end = span.start, span.end
            lead = _LEAD.match(document, start, end)
            if lead is not None:
                start = lead.end()
            while end > start and document[end - 1].isspace():
                end -= 1
            text = document[start:end]
            if len(_WORD.findall(text)) >= MIN_SENTENCE_WORDS and _STATEMENT_END.search(text):
                out.append(_Sentence(row, Span(start, end), text))
        return out

    def _embed(self, sentences: list[_Sentence]) -> Vectors:
        keys = [(s.passage_row, s.span.start, s.span.end) for s in sentences]
        missing = [i for i, key in enumerate(keys) if key not in self._vectors]
        if missing:
            if len(self._vectors) > SENTENCE_CACHE_MAX:
                self._vectors.clear()
            encoded = self.search.embedder.encode([sentences[i].text for i in missing])
            for i, vec in zip(missing, encoded, strict=True):
                self._vectors[keys[i]] = vec
        if not keys:
            return np.zeros((0, self.search.embedder.dimension), dtype=np.float32)
        stacked: Vectors = np.stack([self._vectors[key] for key in keys]).astype(np.float32)
        return stacked

    def _score(
        self,
        sentences: list[_Sentence],
        question: Vectors,
        retrieval: dict[int, float],
        linked: QueryConcepts,
    ) -> list[_Scored]:
        if not sentences:
            return []
        vectors = self._embed(sentences)
        # inner product of L2-normalised vectors is cosine similarity
        cosines = (vectors @ question).tolist()
        weights = {uri: score for uri, score, _ in linked}
        total = sum(weights.values())
        out = []
        for s, cosine, vec in zip(sentences, cosines, vectors, strict=True):
            overlap = self._concept_share(s, weights) / total if total else 0.0
            score = (
                SENTENCE_WEIGHT * cosine
                + PASSAGE_WEIGHT * retrieval[s.passage_row]
                + CONCEPT_WEIGHT * overlap
            )
            out.append(_Scored(s, float(cosine), float(score), vec))
        out.sort(key=lambda x: (-x.score, x.sentence.passage_row, x.sentence.span.start))
        return out

    def _concept_share(self, sentence: _Sentence, weights: dict[str, float]) -> float:
        """Weight of the question's concepts named (lexically) inside the sentence."""
        passage = self.index.passages[sentence.passage_row]
        named = {
            m.concept_uri
            for m in self.index.mentions_by_passage.get(passage.id, ())
            if m.concept_uri in weights
            and m.start is not None
            and m.end is not None
            and sentence.span.start <= m.start
            and m.end <= sentence.span.end
        }
        return sum(weights[uri] for uri in named)

    def _choose(self, scored: list[_Scored]) -> list[_Scored]:
        """The best sentence and up to MAX_SENTENCES - 1 close, non-redundant runners-up."""
        best = scored[0]
        chosen = [best]
        for s in scored[1:]:
            if len(chosen) == MAX_SENTENCES:
                break
            if s.cosine < ANSWER_MIN_COSINE or s.score < best.score - EXTRA_MARGIN:
                continue
            if any(float(s.vector @ c.vector) >= REDUNDANT_COSINE for c in chosen):
                continue
            chosen.append(s)
        return chosen

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


def _confidence(cosine: float) -> float:
    """0.5 at the abstention threshold, towards 1 above it and 0 below."""
    return round(1.0 / (1.0 + math.exp(-(cosine - ANSWER_MIN_COSINE) / CONFIDENCE_SCALE)), 4)

"""Grounding bundles for chatbot backends: the passages, concepts and extractive answer for a
question, and one text block quoting them as numbered sources, within a token budget.

Tokens are counted with the embedding model's own tokenizer (`Embedder.count_tokens`; WordPiece
for all-MiniLM-L6-v2), not estimated from words. A chat model's tokenizer counts English text
within roughly ±15% of it, so callers keep some headroom in their prompt.

The budget is spent in order of value per token: the extractive answer (its first sentence if
the whole does not fit), up to `MAX_CONCEPTS` definitions (at most `CONCEPT_SHARE` of the
budget), then the passages best first. The first passage that does not fit whole is cut at its
last fitting sentence (or word) and ends the sources, so they stay in rank order.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from leadgraph.indexer.models import Passage
from leadgraph.indexer.store import Index

from ..errors import Unprocessable
from ..schemas import (
    CONTEXT_MAX_TOKENS,
    CONTEXT_MIN_TOKENS,
    Citation,
    ConceptDefinition,
    ContextPassage,
    ContextResponse,
    SourceCitation,
)
from .qa import QAService
from .search import Ranked, SearchService

MAX_CONCEPTS = 3
CONCEPT_SHARE = 0.25  # of the budget, at most, for concept definitions
MIN_CUT_TOKENS = 12  # a source cut shorter than this says too little to be worth its header
ELLIPSIS = " …"  # marks a source cut by the budget; not part of the quote

_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class _Source:
    ranked: Ranked
    passage: Passage
    title: str  # of the passage's document
    start: int
    end: int  # the quoted span, document offsets, end exclusive
    cut: bool


class ContextService:
    """Builds grounding bundles over one loaded index. Build once per index."""

    def __init__(self, index: Index, search: SearchService, qa: QAService) -> None:
        self.index = index
        self.search = search
        self.qa = qa
        self._count: Callable[[str], int] = search.embedder.count_tokens

    def build(self, question: str, *, k: int, max_tokens: int) -> ContextResponse:
        """The bundle for `question`; Unprocessable naming the field for a bad argument."""
        text = self.search.check_text(question, "question")
        self.search.check_k(k)
        if not CONTEXT_MIN_TOKENS <= max_tokens <= CONTEXT_MAX_TOKENS:
            raise Unprocessable(
                f"max_tokens: must be between {CONTEXT_MIN_TOKENS} and {CONTEXT_MAX_TOKENS}, "
                f"got {max_tokens}"
            )
        asked, ranked = self.qa.ask_ranked(text, k=k)  # the passages the answer was read from

        answer = [c for c in asked.citations if c.role == "answer"]
        if answer and self._count(_answer_block(answer, [])) > max_tokens:
            answer = answer[:1]
            if self._count(_answer_block(answer, [])) > max_tokens:
                answer = []
        used = self._count(_answer_block(answer, []))

        concepts: list[ConceptDefinition] = []
        concept_budget = min(max_tokens - used, int(CONCEPT_SHARE * max_tokens))
        for concept in asked.concepts[:MAX_CONCEPTS]:
            if self._count(_concept_block([*concepts, concept])) <= concept_budget:
                concepts.append(concept)
        used += self._count(_concept_block(concepts))

        sources: list[_Source] = []
        for r in ranked:
            left = max_tokens - used - self._count(_sources_block(sources, with_heading=True))
            source = self._fit(r, len(sources) + 1, left)
            if source is None:
                break
            sources.append(source)
            if source.cut:
                break

        # the parts were counted one by one; the block as a whole decides
        context = _render(answer, concepts, sources)
        while self._count(context) > max_tokens and (sources or concepts or answer):
            if sources:
                sources.pop()
            elif concepts:
                concepts.pop()
            else:
                answer.pop()
            context = _render(answer, concepts, sources)

        return ContextResponse(
            question=text,
            passages=[self._passage(s) for s in sources],
            concepts=concepts,
            answer=asked.answer,
            context=context,
            token_count=self._count(context),
        )

    def _fit(self, ranked: Ranked, number: int, budget: int) -> _Source | None:
        """The passage as source `number`: whole if it fits in `budget` tokens, else cut at its
        last fitting sentence end, else at a word; None when not even a cut fits."""
        passage = self.search.catalogue.passage(ranked.passage_id)
        document = self.index.documents[passage.document_id]
        header = self._count(_source_header(number, document.title, document.id)) + 1
        room = budget - header
        text = document.text
        end = _trim(text, passage.start, passage.end)
        if self._count(text[passage.start : end]) <= room:
            return _Source(ranked, passage, document.title, passage.start, end, cut=False)
        room -= self._count(ELLIPSIS)
        if room < MIN_CUT_TOKENS:
            return None
        best: int | None = None
        for sentence in passage.sentences:
            cut = _trim(text, passage.start, sentence.end)
            if cut <= passage.start or cut >= end:
                continue
            if self._count(text[passage.start : cut]) > room:
                break
            best = cut
        if best is None:
            best = self._cut_at_word(text, passage.start, end, room)
        if best is None:
            return None
        return _Source(ranked, passage, document.title, passage.start, best, cut=True)

    def _cut_at_word(self, text: str, start: int, end: int, room: int) -> int | None:
        """The end of the longest run of whole words from `start` within `room` tokens."""
        ends = [m.start() for m in _SPACE.finditer(text, start, end) if m.start() > start]
        lo, hi, best = 0, len(ends) - 1, None
        while lo <= hi:  # token counts grow with the prefix, so bisect
            mid = (lo + hi) // 2
            if self._count(text[start : ends[mid]]) <= room:
                best, lo = ends[mid], mid + 1
            else:
                hi = mid - 1
        return best

    def _passage(self, source: _Source) -> ContextPassage:
        passage = source.passage
        document = self.index.documents[passage.document_id]
        return ContextPassage(
            passage_id=passage.id,
            document_id=document.id,
            document_title=document.title,
            text=passage.text,
            score=round(source.ranked.score, 6),
            citation=SourceCitation(
                document_id=document.id,
                passage_id=passage.id,
                source=document.source,
                quote=document.text[source.start : source.end],
                start=source.start,
                end=source.end,
            ),
        )


def _trim(text: str, start: int, end: int) -> int:
    """`end` moved back over trailing whitespace."""
    while end > start and text[end - 1].isspace():
        end -= 1
    return end


def _source_header(number: int, title: str, document_id: str) -> str:
    return f"[{number}] {title} ({document_id})"


def _answer_block(citations: Sequence[Citation], sources: Sequence[_Source]) -> str:
    """Each answer sentence followed by the number of the source quoting it (or, when no source
    does, its document id)."""
    if not citations:
        return ""
    parts = []
    for c in citations:
        number = next(
            (
                i
                for i, s in enumerate(sources, start=1)
                if s.passage.id == c.passage_id and s.start <= c.start and c.end <= s.end
            ),
            None,
        )
        parts.append(f"{c.quote} [{number}]" if number else f"{c.quote} ({c.document_id})")
    return "Answer, quoted from the sources: " + " ".join(parts)


def _concept_block(concepts: Sequence[ConceptDefinition]) -> str:
    if not concepts:
        return ""
    return "Concepts:\n" + "\n".join(f"- {c.label}: {c.definition}" for c in concepts)


def _sources_block(sources: Sequence[_Source], *, with_heading: bool = False) -> str:
    lines = ["Sources:"] if sources or with_heading else []
    for number, s in enumerate(sources, start=1):
        document = s.passage.document_id
        text = s.passage.text[: s.end - s.passage.start]
        lines.append(_source_header(number, s.title, document))
        lines.append(text + (ELLIPSIS if s.cut else ""))
    return "\n".join(lines)


def _render(
    answer: Sequence[Citation],
    concepts: Sequence[ConceptDefinition],
    sources: Sequence[_Source],
) -> str:
    blocks = [_answer_block(answer, sources), _concept_block(concepts), _sources_block(sources)]
    return "\n\n".join(b for b in blocks if b)

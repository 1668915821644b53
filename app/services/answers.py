"""Answer candidates: the spans of retrieved passages that could answer a question, and the
features an answer model (`app.services.answer_model`) scores them on.

A candidate is one span of one document, quoted exactly (`document.text[start:end]`):

- a sentence that states something (it ends in . ! or …, and has a few words);
- that sentence and the one that continues it in the same paragraph or list;
- a sentence that announces a list (it ends in a colon, or speaks of "the following") with the
  list items after it, which may run into the next passage of the same document.

Spans never join two documents, so an answer is never stitched from unrelated articles.

What the question asks for is read from its words (`read_question`): its kind (a number, a
person, a list, a definition, a reason, a manner...), its salient terms weighted by their IDF in
the corpus, and its *named* terms (names, acronyms, figures: "Herzberg", "RACI", "Q12", "1999"),
which an answer's document must contain for the answer to be about what was asked.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from leadgraph.indexer.embedder import TokenVectors, Vectors
from leadgraph.indexer.models import Span
from leadgraph.indexer.text import STOP_WORDS, analyze, tokenize

QuestionKind = Literal[
    "quantity",
    "person",
    "list",
    "definition",
    "reason",
    "manner",
    "time",
    "place",
    "yes-no",
    "other",
]

MIN_STATEMENT_WORDS = 4  # a shorter "sentence" is a heading, a label or a fragment
MAX_CONTINUATION = 1  # sentences a span may add after its first, outside lists
MAX_LIST_ITEMS = 8
LIST_ITEM_MAX_WORDS = 40  # a longer line is a paragraph, not an item
CONTEXT_UNITS = 2  # units before a span whose words count as its context

# Each feature an answer model sees, in the order of the vectors `features` returns.
FEATURES: tuple[str, ...] = (
    "cos_span",  # cosine of question and span (the normalised sum of its sentence vectors)
    "cos_first",  # cosine of question and the span's first sentence
    "cos_rel",  # cos_span less the best cos_span among this question's candidates
    "cos_rank",  # 1 / (1 + rank of cos_span among this question's candidates)
    "cos_passage",  # cosine of question and the span's passage
    "retrieval",  # hybrid retrieval score of the passage, 0..1
    "rank",  # 1 / (1 + rank of the passage)
    "doc_rank",  # 1 / (1 + rank of the passage's document among the retrieved documents)
    "maxsim",  # mean over the question's tokens of the best cosine with a token of the span
    "maxsim_rel",  # maxsim less the best maxsim among this question's candidates
    "maxsim_span",  # mean over the span's tokens of the best cosine with a question token
    "cos_window",  # cosine of question and the span with the units around it
    "cov_span",  # IDF-weighted share of the question's salient terms in the span
    "cov_first",  # the same share in the span's first sentence
    "cov_gain",  # what the sentences after the first add to cov_span
    "cov_rel",  # cov_span less the best cov_span among this question's candidates
    "cov_context",  # the same share in the two units before the span (a heading, a lead-in)
    "cov_doc",  # the same share in the whole document and its title
    "bigrams",  # share of the question's adjacent salient-term pairs adjacent in the span
    "concepts",  # share of the question's concepts the span names (by any of their labels)
    "focus",  # the question's first salient term (what it asks about) is in the span
    "count_match",  # the question asks for n things and the span lists n, or names the number
    "defines",  # definition questions: the span's first sentence names the term, then defines it
    "new_name",  # who-questions: the span names someone the question does not
    "new_number",  # how-many questions: the span gives a figure the question does not
    "named_span",  # share of the question's named terms in the span (0 when it names none)
    "named_missing",  # share of the question's named terms missing from the document
    "shape_fit",  # 1 when the span has the shape the question kind asks for
    "sentences",  # sentences in the span (list items count one each)
    "log_words",  # ln(1 + words of the span)
    "ends_colon",  # the span ends with a colon: it announces what it does not say
    "announces",  # the first sentence announces what follows ("here's why", "as follows")
    "dangling",  # the unit after the span leans on it ("This...", "However,..."): cut short
    "leaning",  # the span's own later sentences lean on its first: it is a whole
    "is_list",  # the span holds list items
    "lead",  # the span lies in the document's first passage (introductions rarely answer)
)

# Words of a question that say what kind of answer is wanted, or nothing of the topic.
_ASKING = frozenset(
    """according accord answer ask call describ defin differ exampl explain give help kind
    list mean name tell term thing type way word""".split()
)
_NUMBER_WORDS = frozenset(
    """one two three four five six seven eight nine ten eleven twelve fifteen twenty thirty
    forty fifty hundred thousand million billion percent per cent half third quarter dozen
    majority minority most""".split()
)
_NUMBER_STEMS = frozenset(analyze(" ".join(_NUMBER_WORDS)))
_ROLE_WORDS = frozenset(
    """author boss ceo coach consultant director employee executive expert founder head leader
    manager mentor officer president professor psychologist researcher scientist supervisor
    worker writer""".split()
)
_QUANTITY = re.compile(
    r"^(how (many|much|often|long|common|big|large|far|frequent)|what (percentage|percent|"
    r"proportion|share|number|fraction)|what is the (number|percentage|share))\b"
)
_LIST = re.compile(
    r"\b(what|which) ((are|were|do|does) )?(the )?((\S+ ){0,3})(stages|steps|phases|components|"
    r"parts|elements|principles|characteristics|traits|qualities|types|styles|levels|pillars|"
    r"factors|ways|kinds|modes|letters|things|benefits|signs|causes|groups|categories|"
    r"behaviours|behaviors|skills|practices|areas|dimensions|questions|rules|tips|fears|"
    r"reasons)\b|\b(list|name|enumerate)\b|\b(three|four|five|six|seven|eight|nine|ten|\d+) "
    r"\w+"
)
_DEFINITION = re.compile(
    r"^(what (is|are|was|were) (a |an |the )?[\w'’-]+( [\w'’-]+){0,3}\??$"
    r"|what does .+ (mean|stand for)"
    r"|define |definition of |what is meant by |what do (we|you) mean by )"
)
# The term a definition question asks about.
_DEFINED = re.compile(
    r"^(?:what (?:is|are|was|were) (?:a |an |the )?(?P<term>[^?]+?)\??$"
    r"|what does (?:the )?(?P<term2>.+?) (?:mean|stand for)"
    r"|(?:define|definition of|what is meant by|what do (?:we|you) mean by) (?:a |an |the )?"
    r"(?P<term3>[^?]+?)\??$)"
)
_DEFINING_CUES = frozenset(
    "is are means meant refers refer describes describe defined stands stand involves "
    "involve consists consist denotes".split()
)
_YES_NO = re.compile(r"^(does|do|did|is|are|was|were|can|could|should|would|will|has|have)\b")

_STATEMENT_END = re.compile(r"[.!…][\"'”’)\]]*$")
_LEAD = re.compile(r"[^\w\"'“‘(]+")  # bullets, emoji and markup before a sentence
_BULLET = re.compile(r"^\s*(?:[-*•·▪►✓✔–—]|\d{1,2}[.)]|[a-z][.)]|\(\w\)|[^\w\s\"'“‘(])")
_WORD = re.compile(r"\w+")
_DIGIT = re.compile(r"\d")
_NAME = re.compile(r"(?<=[\w,;:] )[A-Z][\w’'-]+(?: [A-Z][\w’'-]+)*")
_ANNOUNCES = re.compile(
    r":$|\b(the following|as follows|these are|include|includes|consists? of|are:)\b",
    re.IGNORECASE,
)
_TEASER = re.compile(
    r"(:$|\?$|\b(let['’]s|here['’]s|here is|here are|as follows|the following|below|"
    r"look at|take a look|we['’]ll|will explain|explains? this|clarif(y|ies) this)\b)",
    re.IGNORECASE,
)
# A sentence opening with one of these leans on the one before it.
_LEANS = re.compile(
    r"^(this|these|that|those|it|its|they|their|them|such|however|but|yet|so|thus|therefore|"
    r"hence|also|instead|otherwise|then|finally|furthermore|moreover|in addition|in contrast|"
    r"for example|for instance|because|as a result|similarly|likewise|on the other hand|and|"
    r"or|which|both|each|the latter|the former|he|she|his|her)\b",
    re.IGNORECASE,
)
_COUNTS = {
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "both": 2,
}
_REASON = re.compile(
    r"\b(because|since|so that|as a result|due to|leads? to|lead to|in order to|helps?|"
    r"allows?|enables?|reason|therefore|thus|means that|otherwise|risk|without|result in|"
    r"results in|so they|so you|which is why|why)\b",
    re.IGNORECASE,
)
_MANNER = re.compile(
    r"\b(by|through|should|must|need to|needs to|can|start|try|make sure|ensure|ask|use|"
    r"using|via|show|set|give|focus|avoid|way to|steps?|first|then)\b",
    re.IGNORECASE,
)
_DEFINES = re.compile(
    r"\b(is|are|means|meant|refers? to|defined as|describes?|stands? for|is called|known as|"
    r"literally)\b",
    re.IGNORECASE,
)
_TIME = re.compile(
    r"\b(\d{4}|\d{1,2}(st|nd|rd|th)|january|february|march|april|may|june|july|august|"
    r"september|october|november|december|year|years|decade|century|week|month|day|before|"
    r"after|during|when|until|stage|phase|early|late)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Question:
    """What a question asks for."""

    text: str
    kind: QuestionKind
    terms: dict[str, float]  # salient stems -> IDF weight
    bigrams: frozenset[tuple[str, str]]  # adjacent salient stems
    named: dict[str, str]  # stem of each named term -> the term as the question writes it
    focus: str | None = None  # the first salient stem: what the question asks about
    count: int | None = None  # n of "what n things", "the three components"
    subject: tuple[str, ...] = ()  # stems of the term a definition question asks about
    words: frozenset[str] = frozenset()  # every normalised word of the question


def read_question(text: str, idf: Callable[[str], float]) -> Question:
    """The kind, salient terms and named terms of `text`; `idf` weighs a stem."""
    lowered = " ".join(text.lower().split())
    stems = [s for s in analyze(text) if s not in _ASKING]
    terms = {s: idf(s) for s in stems}
    pairs = frozenset(zip(stems, stems[1:], strict=False))
    count = next((_COUNTS[w] for w in re.findall(r"[a-z]+", lowered) if w in _COUNTS), None)
    if count is None:
        digits = re.search(r"\b(\d{1,2})\b", lowered)
        count = int(digits.group(1)) if digits and 1 < int(digits.group(1)) <= 12 else None
    focus = next((s for s in stems if s not in _NUMBER_STEMS), None)
    kind = _kind(lowered)
    subject: tuple[str, ...] = ()
    if kind == "definition":
        match = _DEFINED.search(lowered)
        if match is not None:
            term = next(g for g in match.groups() if g)
            subject = tuple(s for s in analyze(term) if s not in _ASKING)
    words = frozenset(t.norm for t in tokenize(text))
    return Question(text, kind, terms, pairs, _named(text), focus, count, subject, words)


def _kind(q: str) -> QuestionKind:
    if _QUANTITY.search(q):
        return "quantity"
    if re.match(r"^(who|whom|whose)\b", q) or re.search(r"\b(who|whom) (is|was|are|were)\b", q):
        return "person"
    if q.startswith("why") or re.search(r"\bwhy\b", q):
        return "reason"
    if re.match(
        r"^(when (is|was|are|were|do|does|did|will|would|should|can|could|has|have|"
        r"must)|what year|in what year|how long ago)\b",
        q,
    ):
        return "time"
    if q.startswith("where"):
        return "place"
    if _LIST.search(q):
        return "list"
    if _DEFINITION.search(q):
        return "definition"
    if q.startswith("how") or re.match(r"^(in what way|by what means|what steps)", q):
        return "manner"
    if _YES_NO.match(q):
        return "yes-no"
    return "other"


def _named(text: str) -> dict[str, str]:
    """Names, acronyms and figures of a question: capitalised words after its first word,
    words with digits, and quoted words. Stems of each, mapped to the word as written."""
    named: dict[str, str] = {}
    tokens = tokenize(text)
    for i, token in enumerate(tokens):
        word = token.text
        quoted = token.start > 0 and text[token.start - 1] in "'‘\"“"
        capital = i > 0 and word[:1].isupper() and word.lower() not in STOP_WORDS
        if word == "I" or not (capital or quoted or _DIGIT.search(word)):
            continue
        for stem in analyze(word):
            named[stem] = word.removesuffix("'s").removesuffix("’s")
    return named


_ACRONYM = re.compile(r"^[A-Z][A-Z0-9&]{1,5}s?$")
_CAPITALISED_RUN = re.compile(r"[A-Z][\w’'-]*(?:\s+(?:of|for|and|the|&)?\s*[A-Z][\w’'-]*)+")
NEAR_NAME_CHARS = 5  # names this long match a word one edit away ("Druker" -> "Drucker")


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The words a document holds, as named terms of a question are looked up in it."""

    stems: frozenset[str]
    words: frozenset[str]  # normalised words
    acronyms: frozenset[str]  # initials of its capitalised phrases ("Harvard Business Review")

    @classmethod
    def of(cls, text: str) -> Vocabulary:
        acronyms = set()
        for run in _CAPITALISED_RUN.finditer(text):
            words = [w for w in run.group().split() if w[:1].isupper()]
            acronyms.add("".join(w[0] for w in words))
            if words[0] in ("The", "A", "An"):  # "The International Coaching Federation"
                acronyms.add("".join(w[0] for w in words[1:]))
        return cls(
            frozenset(analyze(text)), frozenset(t.norm for t in tokenize(text)), frozenset(acronyms)
        )

    def holds(self, stem: str, word: str) -> bool:
        """Whether the document names `word` (a named term of a question, `stem` its stem): by
        stem, as the initials of one of its phrases (an acronym), or a long name one edit away
        (a misspelling)."""
        if stem in self.stems:
            return True
        if _ACRONYM.match(word) and word.rstrip("s") in self.acronyms:
            return True
        if len(word) >= NEAR_NAME_CHARS:
            near = process.extractOne(
                word.lower(), self.words, scorer=Levenshtein.distance, score_cutoff=1
            )
            return near is not None
        return False


@dataclass(frozen=True, slots=True)
class Unit:
    """A sentence or list item of a document, trimmed of bullets and markup."""

    span: Span
    text: str
    words: int
    statement: bool  # ends like a sentence and has a few words
    item: bool  # begins a line with a bullet or number, or is a short line of a list
    bullet: bool  # begins a line with a bullet or number
    passage_row: int


@dataclass(frozen=True, slots=True)
class Candidate:
    """A span that may answer: `units` of one document, `passage_row` the passage it starts in."""

    document_id: str
    units: tuple[Unit, ...]
    start: int
    end: int
    text: str  # == document.text[start:end]
    is_list: bool
    context: tuple[Unit, ...]  # the units just before it in its passage: a heading, a lead-in
    after: Unit | None  # the unit just after it, if any

    @property
    def neighbours(self) -> tuple[Unit, ...]:
        """The units around the span: its context and the unit after it."""
        return (*self.context, *((self.after,) if self.after is not None else ()))

    @property
    def passage_row(self) -> int:
        return self.units[0].passage_row


def units_of(document: str, spans: Sequence[Span], passage_row: int) -> list[Unit]:
    """The sentences `spans` of `document` as units, leading bullets and markup trimmed."""
    out = []
    for span in spans:
        start, end = span.start, span.end
        line_start = start == 0 or document[start - 1] == "\n"
        bulleted = line_start and _BULLET.match(document, start, end) is not None
        lead = _LEAD.match(document, start, end)
        if lead is not None:
            start = lead.end()
        while end > start and document[end - 1].isspace():
            end -= 1
        if start >= end:
            continue
        text = document[start:end]
        words = len(_WORD.findall(text))
        statement = words >= MIN_STATEMENT_WORDS and _STATEMENT_END.search(text) is not None
        item = line_start and (bulleted or words <= LIST_ITEM_MAX_WORDS)
        out.append(Unit(Span(start, end), text, words, statement, item, bulleted, passage_row))
    return out


def candidates(document_id: str, document: str, own: int, units: Sequence[Unit]) -> list[Candidate]:
    """The candidates that start in the first `own` of `units` (the retrieved passage's; the
    rest continue the document and may only complete a span begun in it)."""
    out: list[Candidate] = []

    def add(parts: Sequence[Unit], is_list: bool) -> None:
        start, end = parts[0].span.start, parts[-1].span.end
        i = units.index(parts[0])
        j = i + len(parts)
        context = tuple(units[max(0, i - CONTEXT_UNITS) : i])
        after = units[j] if j < len(units) else None
        out.append(
            Candidate(
                document_id, tuple(parts), start, end, document[start:end], is_list, context, after
            )
        )

    for i in range(min(own, len(units))):
        first = units[i]
        if not first.statement and not _announces(first):
            continue
        if first.statement:
            add([first], False)
            for n in range(1, MAX_CONTINUATION + 1):
                following = units[i + 1 : i + 1 + n]
                if len(following) < n or not all(
                    u.statement and _continues(document, units[i + j], u)
                    for j, u in enumerate(following)
                ):
                    break
                add([first, *following], False)
        if _announces(first):
            items: list[Unit] = []
            for u in units[i + 1 : i + 1 + MAX_LIST_ITEMS]:
                before = items[-1] if items else first
                if not u.item or (items and items[0].bullet and not u.bullet):
                    break
                if items and not _continues(document, before, u):
                    break
                items.append(u)
            if len(items) >= 2:
                add([first, *items], True)
    return out


def _announces(unit: Unit) -> bool:
    return unit.words >= 2 and _ANNOUNCES.search(unit.text) is not None


def _continues(document: str, before: Unit, after: Unit) -> bool:
    """Whether `after` continues `before`: no blank line between them, or both are items of one
    list, which is often written with blank lines between its items: both bulleted, or both
    lines opening with the same word ("Fear that ... / Fear that ...")."""
    if document.count("\n", before.span.end, after.span.start) < 2:
        return True
    if before.bullet and after.bullet:
        return True
    first = before.text.split(maxsplit=1)[0].lower()
    return before.item and after.item and after.text.split(maxsplit=1)[0].lower() == first


def shape_fit(kind: QuestionKind, candidate: Candidate) -> bool:
    """Whether the span has the form the kind of question asks for."""
    text = candidate.text
    if kind == "quantity":
        words = {w.lower() for w in _WORD.findall(text)}
        return bool(_DIGIT.search(text)) or not _NUMBER_WORDS.isdisjoint(words) or "%" in text
    if kind == "person":
        words = {w.lower().removesuffix("s") for w in _WORD.findall(text)}
        return _NAME.search(text) is not None or not _ROLE_WORDS.isdisjoint(words)
    if kind == "list":
        return candidate.is_list or text.count(",") >= 2 or (":" in text and text.count(",") >= 1)
    if kind == "definition":
        return _DEFINES.search(text) is not None
    if kind == "reason":
        return _REASON.search(text) is not None
    if kind == "manner":
        return _MANNER.search(text) is not None
    if kind == "time":
        return _TIME.search(text) is not None
    if kind == "place":
        return _NAME.search(text) is not None
    return True


# Tokens that say nothing of a sentence's topic: stop words and the words questions are asked in.
_FUNCTION_TOKENS = STOP_WORDS | {"what", "which", "who", "whom", "whose", "why", "how", "when"}


@dataclass(frozen=True, slots=True)
class Encoded:
    """A unit's vector and the vectors of its content tokens (no stop words, no punctuation)."""

    vector: Vectors
    tokens: Vectors

    @classmethod
    def of(cls, encoded: TokenVectors, *, skip: int = 0) -> Encoded:
        """`encoded`'s vector and content tokens, its first `skip` tokens left out (a prefix
        that was encoded only as context)."""
        return cls(encoded.vector, content_tokens(encoded, skip=skip))


def content_tokens(encoded: TokenVectors, *, skip: int = 0) -> Vectors:
    """The rows of `encoded.tokens` for tokens that carry content, from token `skip` on: word
    pieces of words that are no stop word, and no punctuation (all of them when none is
    left)."""
    keep = []
    word_is_content = False
    for i, piece in enumerate(encoded.pieces[skip:], start=skip):
        if piece.startswith("##"):
            if word_is_content:
                keep.append(i)
            continue
        word_is_content = piece[:1].isalnum() and piece.lower() not in _FUNCTION_TOKENS
        if word_is_content:
            keep.append(i)
    if not keep:
        return np.ascontiguousarray(
            encoded.tokens[skip:] if skip < len(encoded.pieces) else encoded.tokens
        )
    return np.ascontiguousarray(encoded.tokens[keep])


def _mean_best(similarity: Vectors, *, axis: int) -> float:
    """The mean over one side's tokens of their best match on the other side; 0 when either
    side has no token left (a word the tokenizer only knows as [UNK], such as one of more than
    100 characters, leaves none)."""
    if similarity.size == 0:
        return 0.0
    return float(similarity.max(axis=axis).mean())


@dataclass(frozen=True, slots=True)
class PassageScore:
    retrieval: float  # hybrid score, 0..1
    dense: float  # cosine with the question
    rank: int  # 0 for the best passage
    ordinal: int  # of the passage in its document


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the features of one question's candidates are computed from."""

    question: Question
    question_vector: Vectors
    question_tokens: Vectors  # content token vectors of the question
    unit_vectors: dict[tuple[str, int, int], Encoded]  # by (document, start, end)
    passages: dict[int, PassageScore]  # by passage row: the retrieved passages
    passage_documents: dict[int, str]  # by passage row: its document id
    vocabulary: Callable[[str], Vocabulary]  # of a document, title included
    unit_stems: Callable[[Unit], tuple[str, ...]]  # a unit's stems in order
    question_concepts: frozenset[str] = frozenset()  # URIs of the concepts the question names
    # by passage row: (concept URI, start offset) of each lexical mention in the passage
    concept_mentions: Callable[[int], Sequence[tuple[str, int]]] = lambda row: ()


def features(candidates_: Sequence[Candidate], evidence: Evidence) -> np.ndarray:
    """One row of FEATURES per candidate."""
    q = evidence.question
    total = sum(q.terms.values()) or 1.0

    def coverage(stems: set[str] | frozenset[str]) -> float:
        return sum(w for t, w in q.terms.items() if t in stems) / total

    document_order: dict[str, int] = {}
    for row, _ in sorted(evidence.passages.items(), key=lambda item: item[1].rank):
        document_order.setdefault(evidence.passage_documents[row], len(document_order))
    rows: list[dict[str, float]] = []
    for c in candidates_:
        encoded = [evidence.unit_vectors[_key(c.document_id, u)] for u in c.units]
        vectors = [e.vector for e in encoded]
        summed = np.sum(vectors, axis=0)
        # late interaction: each question token's best match among the span's tokens
        similarity = evidence.question_tokens @ np.vstack([e.tokens for e in encoded]).T
        norm = float(np.linalg.norm(summed)) or 1.0
        ordered = [s for u in c.units for s in evidence.unit_stems(u)]
        present = set(ordered)
        vocabulary = evidence.vocabulary(c.document_id)
        doc = vocabulary.stems
        adjacent = set(zip(ordered, ordered[1:], strict=False))
        before = {s for u in c.context for s in evidence.unit_stems(u)}
        first = set(evidence.unit_stems(c.units[0]))
        window = np.sum(
            [summed, *(evidence.unit_vectors[_key(c.document_id, u)].vector for u in c.neighbours)],
            axis=0,
        )
        passage = evidence.passages[c.passage_row]
        words = sum(u.words for u in c.units)
        rows.append(
            {
                # inner product of L2-normalised vectors is cosine similarity
                "cos_span": float(summed @ evidence.question_vector) / norm,
                "cos_first": float(vectors[0] @ evidence.question_vector),
                "cos_passage": passage.dense,
                "retrieval": passage.retrieval,
                "rank": 1.0 / (1.0 + passage.rank),
                "doc_rank": 1.0 / (1.0 + document_order.get(c.document_id, len(document_order))),
                "maxsim": _mean_best(similarity, axis=1),
                "maxsim_span": _mean_best(similarity, axis=0),
                "cos_window": float(window @ evidence.question_vector)
                / (float(np.linalg.norm(window)) or 1.0),
                "cov_span": coverage(present),
                "cov_first": coverage(first),
                "cov_context": coverage(before),
                "cov_doc": coverage(doc),
                "bigrams": len(q.bigrams & adjacent) / len(q.bigrams) if q.bigrams else 0.0,
                "concepts": _concept_share(c, evidence),
                "focus": float(q.focus is not None and q.focus in present),
                "count_match": float(_count_match(q.count, c)),
                "defines": float(q.kind == "definition" and _defines(q.subject, c.units[0])),
                "new_name": float(q.kind == "person" and _new_name(q, c.text)),
                "new_number": float(q.kind == "quantity" and _new_number(q, c.text)),
                "named_span": (
                    sum(1 for t in q.named if t in present) / len(q.named) if q.named else 0.0
                ),
                "named_missing": (
                    sum(1 for t, w in q.named.items() if not vocabulary.holds(t, w)) / len(q.named)
                    if q.named
                    else 0.0
                ),
                "shape_fit": float(shape_fit(q.kind, c)),
                "sentences": float(len(c.units)),
                "log_words": math.log1p(words),
                "ends_colon": float(c.text.rstrip().endswith(":")),
                "announces": float(_TEASER.search(c.units[0].text) is not None),
                "dangling": float(c.after is not None and _LEANS.match(c.after.text) is not None),
                "leaning": float(any(_LEANS.match(u.text) for u in c.units[1:])),
                "is_list": float(c.is_list),
                "lead": float(passage.ordinal == 0),
            }
        )
    if not rows:
        return np.zeros((0, len(FEATURES)), dtype=np.float64)
    best_cos = max(r["cos_span"] for r in rows)
    best_maxsim = max(r["maxsim"] for r in rows)
    best_cov = max(r["cov_span"] for r in rows)
    order = sorted(range(len(rows)), key=lambda i: -rows[i]["cos_span"])
    for rank, i in enumerate(order):
        rows[i]["cos_rank"] = 1.0 / (1.0 + rank)
    for r in rows:
        r["cos_rel"] = r["cos_span"] - best_cos
        r["cov_rel"] = r["cov_span"] - best_cov
        r["cov_gain"] = r["cov_span"] - r["cov_first"]
        r["maxsim_rel"] = r["maxsim"] - best_maxsim
    return np.asarray([[r[name] for name in FEATURES] for r in rows], dtype=np.float64)


def _concept_share(candidate: Candidate, evidence: Evidence) -> float:
    """Share of the question's concepts that the span names lexically: a synonym the question
    did not use ("staff" for "workforce") still counts."""
    wanted = evidence.question_concepts
    if not wanted:
        return 0.0
    rows = {u.passage_row for u in candidate.units}
    named = {
        uri
        for row in rows
        for uri, start in evidence.concept_mentions(row)
        if uri in wanted and candidate.start <= start < candidate.end
    }
    return len(named) / len(wanted)


def _key(document_id: str, unit: Unit) -> tuple[str, int, int]:
    return (document_id, unit.span.start, unit.span.end)


def _defines(subject: tuple[str, ...], unit: Unit) -> bool:
    """Whether `unit` names every stem of `subject` and, within four words after the last of
    them, says what it is ("Psychological safety is ...", "... SBI model describes ...")."""
    if not subject:
        return False
    tokens = tokenize(unit.text)
    wanted = set(subject)
    for i, token in enumerate(tokens):
        wanted.discard(token.stem)
        if not wanted:
            return any(t.norm in _DEFINING_CUES for t in tokens[i + 1 : i + 5])
    return False


def _new_name(question: Question, text: str) -> bool:
    """Whether `text` names a person or body (capitalised words inside a sentence) that the
    question does not name."""
    for match in _NAME.finditer(text):
        if any(
            w.lower().removesuffix("’s").removesuffix("'s") not in question.words
            for w in match.group().split()
        ):
            return True
    return False


def _new_number(question: Question, text: str) -> bool:
    """Whether `text` gives a figure (digits or a number word) the question does not."""
    for word in _WORD.findall(text):
        lowered = word.lower()
        if (_DIGIT.search(word) or lowered in _NUMBER_WORDS) and lowered not in question.words:
            return True
    return "%" in text


def _count_match(count: int | None, candidate: Candidate) -> bool:
    """Whether a span answers "what n things": it lists n items, or names n things in a row
    ("autonomy, mastery and purpose"), or says the number."""
    if count is None:
        return False
    if candidate.is_list and len(candidate.units) - 1 == count:
        return True
    text = candidate.text
    words = {w.lower() for w in _WORD.findall(text)}
    if str(count) in words or any(_COUNTS.get(w) == count for w in words):
        return True
    series = max((part.count(",") for part in re.split(r"[.;:]", text)), default=0)
    return series + 1 == count and re.search(r",? (and|or) ", text) is not None


def missing_named(question: Question, vocabularies: Sequence[Vocabulary]) -> list[str]:
    """The question's named terms, as written, that none of `vocabularies` holds."""
    return sorted(
        {
            word
            for stem, word in question.named.items()
            if not any(v.holds(stem, word) for v in vocabularies)
        }
    )

"""Split documents into sentences and into passages of about one paragraph each.

A passage is the unit that is embedded, searched and quoted, so it must fit the model
(`max_tokens`) and stay focused: headings travel with the paragraph they introduce, tiny blocks
(a title, a one-line bullet) join their closest neighbour, and long paragraphs are cut at
sentence boundaries into pieces of similar size. Every offset is exact: `text[start:end]`.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .models import Document, Passage, Span

MIN_TOKENS = 24  # blocks smaller than this join a neighbour

# Lower-cased words that end in a period without ending a sentence.
ABBREVIATIONS = frozenset(
    """e.g. i.e. mr. mrs. ms. dr. prof. sr. jr. st. vs. etc. inc. ltd. co. corp. no. nos. fig.
    figs. al. approx. cf. ca. dept. est. gen. gov. jan. feb. mar. apr. jun. jul. aug. sep.
    sept. oct. nov. dec. mt. op. p. pp. vol. vols. ed. eds. rev. ref. refs. resp. viz. vs.
    u.s. u.k. e.u. u.n. ph.d. a.m. p.m.""".split()
)

# Sentence-final punctuation, optional closing quotes/brackets, then whitespace.
_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)")
_DOTTED = re.compile(r"^(?:[a-z]\.){2,}$")  # U.S., e.g., a.m.
# What numbers a list item at the start of its line: "1.", "12.", "a.", "iv." ("1. The Situation:
# ..." is one item, not a sentence "1." and another).
_ENUMERATOR = re.compile(r"^(?:\d{1,3}|[a-z]|[ivx]{1,5})\.$")
_OPENERS = frozenset("\"'“‘([")
_WORD = re.compile(r"\S+")
_TERMINAL = re.compile(r"[.!?…][\"'”’)\]]*$")
_HEADING_WORDS = 15
_HEADING_CHARS = 120

TokenCounter = Callable[[str], int]
# the counts of many texts in one call (a Rust tokenizer spreads a batch over the cores)
BatchCounter = Callable[[Sequence[str]], list[int]]


# --- sentences ------------------------------------------------------------------------------


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Sentence spans of `text[start:end]` as absolute offsets, trimmed and never empty.

    Every non-whitespace character of the range lies in exactly one span. Lines are split
    apart; within a line a sentence ends at . ! ? or … followed by whitespace and an
    uppercase letter, digit, quote or symbol, except after a known abbreviation or an initial.
    """
    end = len(text) if end is None else min(end, len(text))
    spans: list[Span] = []
    line_start = start
    while line_start < end:
        newline = text.find("\n", line_start, end)
        line_end = end if newline < 0 else newline
        _split_line(text, line_start, line_end, spans)
        line_start = line_end + 1
    return spans


def _split_line(text: str, start: int, end: int, spans: list[Span]) -> None:
    start, end = _trim(text, start, end)
    if start >= end:
        return
    sentence_start = start
    for match in _END.finditer(text, start, end):
        following = match.end()
        while following < end and text[following].isspace():
            following += 1
        if following >= end or not _starts_sentence(text[following]):
            continue
        if _is_abbreviation(text, sentence_start, match):
            continue
        spans.append(Span(sentence_start, match.end()))
        sentence_start = following
    spans.append(Span(sentence_start, end))


def _starts_sentence(char: str) -> bool:
    if char.isupper() or char.isdigit() or char in _OPENERS:
        return True
    return unicodedata.category(char) in ("So", "Sk", "Cs") or ord(char) >= 0x1F000


def _is_abbreviation(text: str, sentence_start: int, match: re.Match[str]) -> bool:
    if match.group() != ".":
        return False
    word_start = match.start()
    while word_start > sentence_start and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start : match.end()].lstrip("\"'“‘([").lower()
    if word in ABBREVIATIONS or _DOTTED.match(word):
        return True
    if word_start == sentence_start and _ENUMERATOR.match(word):
        return True
    # a single capital before the period is an initial: "J. Smith"
    return len(word) == 2 and text[match.start() - 1].isupper()


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


# --- passages -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Item:
    """A span that is never cut when packing: a line, a sentence or (last resort) a word."""

    start: int
    end: int
    tokens: int
    parts: list[_Item] | None = None  # its sentences, where they were counted instead of it


@dataclass(slots=True)
class _Unit:
    """A passage in the making."""

    items: list[_Item]
    tokens: int
    heading_first: bool  # begins with a heading: a strong boundary before it
    blank_before: bool  # a blank line separates it from the previous unit

    @property
    def start(self) -> int:
        return self.items[0].start

    @property
    def end(self) -> int:
        return self.items[-1].end


@dataclass(slots=True)
class _Block:
    start: int
    end: int
    tokens: int
    heading: bool
    blank_before: bool
    parts: list[_Item] | None = None


def chunk_document(
    doc: Document,
    count_tokens: TokenCounter,
    *,
    max_tokens: int = 200,
    min_tokens: int = MIN_TOKENS,
    count_batch: BatchCounter | None = None,
) -> list[Passage]:
    """Passages of `doc` in order, each within `max_tokens`, ids `f"{doc.id}:p{ordinal}"`.
    `count_batch`, when given, counts as `count_tokens` does, many texts at a time.

    Together the passages hold every non-whitespace character of the text exactly once.
    """
    if max_tokens < 1:
        raise ValueError("max_tokens must be positive")
    count = _counter(count_tokens, count_batch)
    text = doc.text
    units = _merge_small(
        _units(text, _blocks(text, count, max_tokens), count, max_tokens),
        max_tokens,
        min_tokens,
    )
    passages: list[Passage] = []
    for unit in units:
        for start, end, tokens in _fit_items(text, unit.items, count, max_tokens):
            body = text[start:end]
            ordinal = len(passages)
            passages.append(
                Passage(
                    id=f"{doc.id}:p{ordinal}",
                    document_id=doc.id,
                    ordinal=ordinal,
                    start=start,
                    end=end,
                    text=body,
                    sentences=tuple(split_sentences(text, start, end)),
                    token_count=tokens,
                    text_hash=hashlib.sha256(body.encode("utf-8")).hexdigest(),
                )
            )
    return passages


def chunk_corpus(
    documents: Sequence[Document],
    count_tokens: TokenCounter,
    *,
    max_tokens: int = 200,
    min_tokens: int = MIN_TOKENS,
    count_batch: BatchCounter | None = None,
) -> list[Passage]:
    """The passages of every document, in document order (see `chunk_document`)."""
    count = _counter(count_tokens, count_batch)
    return [
        passage
        for doc in documents
        for passage in chunk_document(doc, count, max_tokens=max_tokens, min_tokens=min_tokens)
    ]


class _Counter:
    """`count_tokens` behind a cache. Word-piece tokenizers split at whitespace first, so the
    count of a passage is the sum of the counts of its sentences; that is checked on the first
    passages, and only then are sums trusted, saving a second pass over the text."""

    _CHECKS = 16

    def __init__(self, count_tokens: TokenCounter, count_batch: BatchCounter | None) -> None:
        self._count_tokens = count_tokens
        self._count_batch = count_batch
        self._cache: dict[str, int] = {}
        self._agreed = 0  # sums that matched the exact count; -1 once one did not

    def __call__(self, text: str) -> int:
        tokens = self._cache.get(text)
        if tokens is None:
            tokens = self._cache[text] = self._count_tokens(text)
        return tokens

    def many(self, texts: Sequence[str]) -> list[int]:
        """The counts of `texts`, those not yet cached counted in one batch."""
        cache = self._cache
        missing = list({text: None for text in texts if text not in cache})
        if missing:
            if self._count_batch is None:
                counts = [self._count_tokens(text) for text in missing]
            else:
                counts = self._count_batch(missing)
                if len(counts) != len(missing):
                    raise ValueError(f"{len(counts)} token counts for {len(missing)} texts")
            cache.update(zip(missing, counts, strict=True))
        return [cache[text] for text in texts]

    def total(self, text: str, parts: int) -> int:
        """Tokens of `text`, whose parts (split at whitespace) count `parts` together."""
        if self._agreed >= self._CHECKS:
            return parts
        tokens = self._count_tokens(text)
        if self._agreed >= 0:
            self._agreed = self._agreed + 1 if tokens == parts else -1
        return tokens


def _counter(count_tokens: TokenCounter, count_batch: BatchCounter | None = None) -> _Counter:
    if isinstance(count_tokens, _Counter):
        return count_tokens
    return _Counter(count_tokens, count_batch)


def _blocks(text: str, count: _Counter, max_tokens: int) -> list[_Block]:
    """Non-blank lines; a soft-wrapped line (the previous has no end punctuation and this one
    starts in lower case) continues the block before it. A block long enough to need
    splitting is counted by its sentences, so that no text is tokenized twice."""
    spans: list[list[int]] = []  # [start, end, blank_before]
    blank_before = False
    position, length = 0, len(text)
    while position <= length:
        newline = text.find("\n", position)
        line_end = length if newline < 0 else newline
        start, end = _trim(text, position, line_end)
        position = line_end + 1
        if start >= end:
            blank_before = bool(spans)
            continue
        if (
            spans
            and not blank_before
            and text[start].islower()
            and not _TERMINAL.search(text[spans[-1][0] : spans[-1][1]])
        ):
            spans[-1][1] = end
        else:
            spans.append([start, end, blank_before])
        blank_before = False
    blocks: list[_Block] = []
    for start, end, blank in spans:
        parts = None
        if end - start > 2 * max_tokens:  # a token rarely has fewer than 2 characters
            sentences = split_sentences(text, start, end)
            if len(sentences) > 1:
                parts = _items(text, sentences, count)
        tokens = count(text[start:end]) if parts is None else sum(x.tokens for x in parts)
        heading = _is_heading(text, start, end)
        blocks.append(_Block(start, end, tokens, heading, bool(blank), parts))
    return blocks


def _items(text: str, spans: Sequence[Span], count: _Counter) -> list[_Item]:
    counts = count.many([text[x.start : x.end] for x in spans])
    return [_Item(x.start, x.end, tokens) for x, tokens in zip(spans, counts, strict=True)]


def _is_heading(text: str, start: int, end: int) -> bool:
    """A short single line without sentence-final punctuation, or a Markdown heading."""
    line = text[start:end]
    if "\n" in line:
        return False
    if line.startswith("#") and line.lstrip("#")[:1] == " ":
        return True
    return (
        len(line) <= _HEADING_CHARS
        and len(line.split()) <= _HEADING_WORDS
        and not _TERMINAL.search(line)
    )


def _units(text: str, blocks: list[_Block], count: _Counter, max_tokens: int) -> list[_Unit]:
    """One unit per paragraph, headings joined to the paragraph that follows them, and
    paragraphs over `max_tokens` packed from their sentences into similar-sized pieces."""
    units: list[_Unit] = []
    pending: list[_Item] = []  # heading lines waiting for their paragraph
    pending_blank = False

    def emit(items: list[_Item], heading_first: bool, blank_before: bool) -> None:
        tokens = sum(item.tokens for item in items)
        if tokens <= max_tokens:
            units.append(_Unit(items, tokens, heading_first, blank_before))
            return
        expanded = [piece for item in items for piece in _split_item(text, item, count, max_tokens)]
        for index, piece in enumerate(_pack(expanded, max_tokens)):
            units.append(
                _Unit(
                    piece,
                    sum(item.tokens for item in piece),
                    heading_first and index == 0,
                    blank_before and index == 0,
                )
            )

    for block in blocks:
        item = _Item(block.start, block.end, block.tokens, block.parts)
        if block.heading:
            if not pending:
                pending_blank = block.blank_before
            pending.append(item)
            continue
        if pending:
            emit([*pending, item], True, pending_blank)
            pending = []
        else:
            emit([item], False, block.blank_before)
    if pending:
        emit(pending, True, pending_blank)
    return units


def _split_item(text: str, item: _Item, count: _Counter, max_tokens: int) -> list[_Item]:
    """`item` as sentences, and a sentence over `max_tokens` as words (or, for a single
    enormous word, runs of characters)."""
    if item.tokens <= max_tokens:
        return [item]
    parts = item.parts
    if parts is None:
        sentences = split_sentences(text, item.start, item.end)
        if len(sentences) > 1:
            parts = _items(text, sentences, count)
    if parts is not None:
        return [piece for part in parts for piece in _split_item(text, part, count, max_tokens)]
    words = [(m.start(), m.end()) for m in _WORD.finditer(text, item.start, item.end)]
    if len(words) > 1:
        out = []
        for start, end in words:
            out.extend(
                _split_item(text, _Item(start, end, count(text[start:end])), count, max_tokens)
            )
        return out
    return _split_word(text, item, count, max_tokens)


def _split_word(text: str, item: _Item, count: _Counter, max_tokens: int) -> list[_Item]:
    out: list[_Item] = []
    start = item.start
    while start < item.end:
        size = max(1, (item.end - start) * max_tokens // max(item.tokens, 1))
        end = min(item.end, start + size)
        while end - start > 1 and count(text[start:end]) > max_tokens:
            end = start + (end - start) // 2
        out.append(_Item(start, end, count(text[start:end])))
        start = end
    return out


def _pack(items: list[_Item], max_tokens: int) -> list[list[_Item]]:
    """Consecutive groups of `items`, each within `max_tokens`, as few as greedy packing
    needs and as even in size as that count allows (no stub of a sentence at the end)."""
    target = len(_greedy(items, max_tokens))
    low = max(max(item.tokens for item in items), -(-sum(i.tokens for i in items) // target))
    high = max_tokens
    while low < high:  # the smallest cap that still needs no more groups
        middle = (low + high) // 2
        if len(_greedy(items, middle)) <= target:
            high = middle
        else:
            low = middle + 1
    return _greedy(items, low)


def _greedy(items: list[_Item], cap: int) -> list[list[_Item]]:
    groups: list[list[_Item]] = []
    current: list[_Item] = []
    tokens = 0
    for item in items:
        if current and tokens + item.tokens > cap:
            groups.append(current)
            current, tokens = [], 0
        current.append(item)
        tokens += item.tokens
    if current:
        groups.append(current)
    return groups


def _merge_small(units: list[_Unit], max_tokens: int, min_tokens: int) -> list[_Unit]:
    """Join each unit under `min_tokens` to the neighbour across the weaker boundary
    (same paragraph < blank line < heading), else to the smaller neighbour, within the limit."""
    units = list(units)
    index = 0
    while index < len(units):
        unit = units[index]
        if unit.tokens >= min_tokens:
            index += 1
            continue
        options: list[tuple[int, int, int]] = []  # (boundary strength, size, left index)
        if index > 0 and units[index - 1].tokens + unit.tokens <= max_tokens:
            options.append((_boundary(unit), units[index - 1].tokens + unit.tokens, index - 1))
        if index + 1 < len(units) and unit.tokens + units[index + 1].tokens <= max_tokens:
            following = units[index + 1]
            options.append((_boundary(following), unit.tokens + following.tokens, index))
        if not options:
            index += 1
            continue
        left = min(options)[2]
        first, second = units[left], units[left + 1]
        units[left : left + 2] = [
            _Unit(
                first.items + second.items,
                first.tokens + second.tokens,
                first.heading_first,
                first.blank_before,
            )
        ]
        index = left
    return units


def _boundary(unit: _Unit) -> int:
    """How strongly `unit` is separated from the unit before it."""
    return 2 if unit.heading_first else 1 if unit.blank_before else 0


def _fit_items(
    text: str, items: list[_Item], count: _Counter, max_tokens: int
) -> list[tuple[int, int, int]]:
    """(start, end, exact token count) of passages over `items`. Counts of the parts add up
    for word-piece tokenizers; should a tokenizer disagree, the items are halved until they fit."""
    start, end = items[0].start, items[-1].end
    if len(items) == 1 and items[0].parts is None:
        return [(start, end, items[0].tokens)]
    tokens = count.total(text[start:end], sum(item.tokens for item in items))
    if tokens <= max_tokens:
        return [(start, end, tokens)]
    if len(items) == 1:
        assert items[0].parts is not None
        return _fit_items(text, items[0].parts, count, max_tokens)
    # halve by tokens, keeping at least one item on each side
    half, running, middle = sum(item.tokens for item in items) / 2, 0, 1
    while middle < len(items) - 1 and running + items[middle - 1].tokens < half:
        running += items[middle - 1].tokens
        middle += 1
    return _fit_items(text, items[:middle], count, max_tokens) + _fit_items(
        text, items[middle:], count, max_tokens
    )

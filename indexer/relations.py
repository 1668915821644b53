"""Statistics and textual evidence for the concept graph's edges.

- `cooccurrence`: which concepts are mentioned in the same passages, measured by NPMI.
- `relation_evidence`: sentences that support a typed relation asserted in the ontology.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from itertools import combinations

from .linking import LexicalMatch, LexicalMatcher
from .models import Concept, Cooccurrence, Mention, Passage, PropertyDef, RelationEvidence
from .text import label_key, tokenize

STAND_IN_FACTOR = 0.9  # a practice found through its role ("leaders" for leadership) counts less
CUE_OUTSIDE_FACTOR = 0.8  # the cue word is not between the two mentions


def cooccurrence(
    mentions: Sequence[Mention], passage_count: int, *, min_count: int = 2
) -> list[Cooccurrence]:
    """Concept pairs mentioned together (any method) in at least `min_count` passages.

    Probabilities are over passages: p(a) = passages mentioning a / `passage_count`.
    npmi = log(p(a,b) / (p(a) p(b))) / -log p(a,b), and 1.0 when p(a,b) = 1 (both everywhere).
    Sorted by npmi, then count, descending; then by URIs. In each pair a < b.
    """
    if passage_count <= 0:
        return []
    concepts_by_passage: dict[str, set[str]] = defaultdict(set)
    for m in mentions:
        concepts_by_passage[m.passage_id].add(m.concept_uri)
    if len(concepts_by_passage) > passage_count:
        raise ValueError(
            f"mentions name {len(concepts_by_passage)} passages, more than {passage_count}"
        )
    single: Counter[str] = Counter()
    pairs: Counter[tuple[str, str]] = Counter()
    for uris in concepts_by_passage.values():
        single.update(uris)
        pairs.update(combinations(sorted(uris), 2))
    out = []
    for (a, b), count in pairs.items():
        if count < min_count:
            continue
        p_ab = count / passage_count
        if p_ab >= 1.0:
            npmi = 1.0
        else:
            pmi = math.log(p_ab / ((single[a] / passage_count) * (single[b] / passage_count)))
            npmi = pmi / -math.log(p_ab)
        out.append(Cooccurrence(a, b, count, round(npmi, 6)))
    out.sort(key=lambda c: (-c.npmi, -c.count, c.a, c.b))
    return out


def role_stand_ins(concepts: Iterable[Concept]) -> dict[str, frozenset[str]]:
    """Practice concept URI -> URIs of the role concepts that speak for it in a sentence.

    A role stands in for a practice when the two are `related` (either way round), both
    prefLabels are one word, and the role's is the shorter and its stem begins the practice's
    (leader -> leadership, manager -> management): "leaders provide vision" is evidence that
    leadership does.
    """
    by_uri = {c.uri: c for c in concepts}
    out: dict[str, set[str]] = defaultdict(set)
    for practice in by_uri.values():
        practice_key = label_key(practice.pref_label)
        if len(practice_key) != 1:
            continue
        for role in by_uri.values():
            if role.uri == practice.uri or not (
                role.uri in practice.related or practice.uri in role.related
            ):
                continue
            role_key = label_key(role.pref_label)
            if (
                len(role_key) == 1
                and len(role.pref_label) < len(practice.pref_label)
                and practice_key[0].startswith(role_key[0])
            ):
                out[practice.uri].add(role.uri)
    return {k: frozenset(v) for k, v in sorted(out.items())}


def relation_evidence(
    passages: Sequence[Passage],
    matcher: LexicalMatcher,
    concepts: Sequence[Concept],
    properties: Sequence[PropertyDef],
    *,
    stand_ins: Mapping[str, Iterable[str]] | None = None,
) -> list[RelationEvidence]:
    """Sentences evidencing the typed relations asserted in the ontology.

    For each asserted `subject -predicate-> object` (Concept.relations), a sentence of a passage
    is evidence when it mentions both concepts lexically (`matcher`; a practice may also be
    mentioned through its role, see `role_stand_ins`, the default for `stand_ins`) and contains
    one of the predicate's cue words, compared on stems ("provides" = "providing").

    Evidence is attached to the asserted triple only: the reverse reading (the inverse property)
    is the same sentence and is left to whoever reads the graph. Word order is not parsed.

    Score in [0, 1]: the mean label score of the two mentions (1.0 prefLabel, 0.9/0.8 altLabel),
    times 0.9 per mention found through a stand-in, times 0.8 when no cue word lies between the
    two mentions. Ordered by passage (as given), sentence, subject, predicate, object.
    """
    cues = {p.uri: [key for key in (label_key(c) for c in p.cue_words) if key] for p in properties}
    if stand_ins is None:
        stand_ins = role_stand_ins(concepts)
    speaks_for: dict[str, list[str]] = defaultdict(list)  # role -> practices it stands in for
    for practice, roles in stand_ins.items():
        for role in roles:
            speaks_for[role].append(practice)
    asserted = [
        (c.uri, r.predicate, r.target)
        for c in concepts
        for r in c.relations
        if cues.get(r.predicate) and r.target != c.uri
    ]
    out: list[RelationEvidence] = []
    for passage in passages:
        for span in passage.sentences:
            start, end = max(span.start, passage.start), min(span.end, passage.end)
            if start >= end:
                continue
            sentence = passage.text[start - passage.start : end - passage.start]
            found = _mentions(matcher.find(sentence, offset=start), speaks_for)
            if len(found) < 2:
                continue
            stems = [(t.stem, start + t.start) for t in tokenize(sentence)]
            for subject, predicate, obj in asserted:
                if subject not in found or obj not in found:
                    continue
                cue_at = _cue_positions(stems, cues[predicate])
                if not cue_at:
                    continue
                out.append(
                    RelationEvidence(
                        subject=subject,
                        predicate=predicate,
                        object=obj,
                        passage_id=passage.id,
                        start=start,
                        end=end,
                        quote=sentence,
                        score=_score(found[subject], found[obj], cue_at),
                    )
                )
    order = {p.id: i for i, p in enumerate(passages)}
    out.sort(key=lambda e: (order[e.passage_id], e.start, e.subject, e.predicate, e.object))
    return out


_Found = list[tuple[int, int, float]]  # (start, end, score) of each mention of a concept


def _mentions(
    matches: Sequence[LexicalMatch], speaks_for: Mapping[str, Sequence[str]]
) -> dict[str, _Found]:
    found: dict[str, _Found] = defaultdict(list)
    for m in matches:
        found[m.concept_uri].append((m.start, m.end, m.score))
    for role, practices in speaks_for.items():
        for practice in practices:
            if practice not in found and role in found:
                found[practice] = [(s, e, score * STAND_IN_FACTOR) for s, e, score in found[role]]
    return found


def _cue_positions(stems: Sequence[tuple[str, int]], cues: Sequence[tuple[str, ...]]) -> list[int]:
    """Character offsets where one of the cue phrases (stem sequences) starts."""
    words = [s for s, _ in stems]
    at = []
    for i in range(len(words)):
        if any(tuple(words[i : i + len(cue)]) == cue for cue in cues):
            at.append(stems[i][1])
    return at


def _score(subject: _Found, obj: _Found, cue_at: Sequence[int]) -> float:
    specificity = (max(s for _, _, s in subject) + max(s for _, _, s in obj)) / 2
    between = any(
        min(a_end, b_end) <= cue < max(a_start, b_start)
        for a_start, a_end, _ in subject
        for b_start, b_end, _ in obj
        for cue in cue_at
    )
    return round(min(1.0, specificity * (1.0 if between else CUE_OUTSIDE_FACTOR)), 4)

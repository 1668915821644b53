"""The build pipeline: corpus + ontology → a published index version.

read_corpus → chunk → embed passages (reusing vectors of unchanged text) → embed concepts
→ link concepts → co-occurrence, relation evidence, candidates → BM25 + FAISS → RDF graph
→ write a version folder → publish it atomically (see `store`)
"""

from __future__ import annotations

import gc
import hashlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from .candidates import mine_candidates
from .chunking import chunk_corpus
from .corpus import FrontMatterLimits, corpus_fingerprint, read_corpus
from .embedder import Embedder, Vectors
from .graph import build_graph
from .lexical import LexicalIndex
from .linking import DEFAULT_SEMANTIC_THRESHOLD, ConceptLinker, sentence_texts
from .models import Document, Passage
from .ontology import DEFAULT_ONTOLOGY, load_ontology
from .relations import cooccurrence, relation_evidence
from .store import IndexContents, Manifest, build_lock, cached_vectors, text_key, write_index
from .vectors import HNSW_THRESHOLD, VectorIndex

DEFAULT_MAX_TOKENS = 200  # passage size; leaves room for a title prefix in MiniLM's 256 window

Reporter = Callable[[str], None]


# Sentence vectors make semantic linking more precise (F1 0.943 against 0.901 on the
# hand-labelled set, see indexer/linking.py) but cost a second pass of the encoder over every
# sentence, about as much again as the passages. Curated corpora are small and get them; large
# collections (a BEIR set) link on passage vectors and keep the build near bare encoding time.
SENTENCE_VECTORS_MAX_PASSAGES = 5_000


@dataclass(frozen=True)
class BuildReport:
    manifest: Manifest
    path: Path  # the published version folder
    embedded: int  # passages embedded in this build
    reused: int  # passages whose vectors came from the previous version
    seconds: float
    stages: dict[str, float]  # seconds per stage, in order: read, chunk, embed, link, ...


class _Stopwatch:
    def __init__(self) -> None:
        self.stages: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.stages[stage] = self.stages.get(stage, 0.0) + round(now - self._last, 3)
        self._last = now


def passage_input(document: Document, passage: Passage) -> str:
    """The text embedded and BM25-indexed for a passage: its own text, with the document
    title in front of the first passage when the body does not already start with it
    (BEIR-style records keep title and text apart)."""
    if passage.ordinal == 0 and document.title and not passage.text.startswith(document.title):
        return f"{document.title}\n{passage.text}"
    return passage.text


def build_index(
    sources: Sequence[Path],
    out: Path,
    *,
    embedder: Embedder,
    ontology_path: Path = DEFAULT_ONTOLOGY,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    semantic_threshold: float = DEFAULT_SEMANTIC_THRESHOLD,
    hnsw_threshold: int = HNSW_THRESHOLD,
    sentence_vectors: bool | None = None,
    base: Path | None = None,
    front_matter: FrontMatterLimits = FrontMatterLimits(),  # noqa: B008 - frozen, immutable
    progress: bool = False,
    report: Reporter | None = None,
) -> BuildReport:
    """Builds an index of `sources` under `out` and publishes it. `sentence_vectors`: embed
    every sentence for linking (None: only up to SENTENCE_VECTORS_MAX_PASSAGES). Raises CorpusError,
    OntologyError or ModelError naming what is wrong; then the published index is untouched."""
    with _rare_young_collections():
        return _build(
            sources,
            out,
            embedder=embedder,
            ontology_path=ontology_path,
            max_tokens=max_tokens,
            semantic_threshold=semantic_threshold,
            hnsw_threshold=hnsw_threshold,
            sentence_vectors=sentence_vectors,
            base=base,
            front_matter=front_matter,
            progress=progress,
            say=report or (lambda _message: None),
        )


def _build(
    sources: Sequence[Path],
    out: Path,
    *,
    embedder: Embedder,
    ontology_path: Path,
    max_tokens: int,
    semantic_threshold: float,
    hnsw_threshold: int,
    sentence_vectors: bool | None,
    base: Path | None,
    front_matter: FrontMatterLimits,
    progress: bool,
    say: Reporter,
) -> BuildReport:
    started = datetime.now(UTC)
    clock = time.perf_counter()
    watch = _Stopwatch()
    max_tokens = min(max_tokens, embedder.max_tokens - 8)

    documents = read_corpus(sources, base=base, front_matter=front_matter)
    say(f"read {len(documents)} documents")
    ontology = load_ontology(ontology_path)
    concepts = list(ontology.concepts)
    say(f"loaded {len(concepts)} concepts and {len(ontology.properties)} relations")
    watch.lap("read")

    with build_lock(out):
        passages = chunk_corpus(
            documents,
            embedder.count_tokens,
            max_tokens=max_tokens,
            count_batch=embedder.count_tokens_batch,
        )
        say(f"chunked into {len(passages)} passages")
        by_id = {d.id: d for d in documents}
        inputs = [passage_input(by_id[p.document_id], p) for p in passages]
        watch.lap("chunk")

        keys = [_input_key(p, text) for p, text in zip(passages, inputs, strict=True)]
        passage_vectors, embedded = _embed(
            keys, inputs, embedder, cached_vectors(out, embedder.name), progress=progress
        )
        say(f"embedded {embedded} passages, reused {len(passages) - embedded}")
        if sentence_vectors is None:
            sentence_vectors = len(passages) <= SENTENCE_VECTORS_MAX_PASSAGES
        sentences = sentence_texts(passages) if sentence_vectors else []
        sentence_keys = [_digest(text) for text in sentences]
        sentence_matrix, embedded_sentences = _embed(
            sentence_keys,
            sentences,
            embedder,
            cached_vectors(out, embedder.name, kind="sentences") if sentences else {},
            progress=progress,
        )
        if sentences:
            reused_sentences = len(sentences) - embedded_sentences
            say(f"embedded {embedded_sentences} sentences, reused {reused_sentences}")
        # 224 concepts' labels and definitions: 4 s a build on two idle cores, so every update
        # re-encoded them while holding the update lock; they change only with the ontology
        concept_texts = [c.embedding_text() for c in concepts]
        concept_keys = [text_key(text) for text in concept_texts]
        concept_vectors, embedded_concepts = _embed(
            concept_keys,
            concept_texts,
            embedder,
            cached_vectors(out, embedder.name, kind="concepts"),
            progress=progress,
        )
        if embedded_concepts:
            say(f"embedded {embedded_concepts} concepts of {len(concepts)}")
        watch.lap("embed")

        linker = ConceptLinker(
            concepts,
            embedder,
            semantic_threshold=semantic_threshold,
            concept_vectors=concept_vectors,
        )
        mentions = linker.link(
            passages, passage_vectors, sentence_vectors=sentence_matrix if sentences else None
        )
        cooccurrences = cooccurrence(mentions, len(passages))
        evidence = relation_evidence(passages, linker.matcher, concepts, ontology.properties)
        candidates = mine_candidates(passages, linker.matcher)
        say(
            f"linked {len(mentions)} mentions, {len(cooccurrences)} co-occurrences, "
            f"{len(evidence)} relation evidences, {len(candidates)} candidates"
        )
        watch.lap("link")

        # what concept lookup compares queries with, embedded here rather than on the first
        # lookup of a served index (1,751 texts for 224 concepts: 30 s on a busy machine)
        facets = sorted(
            {t for c in concepts for t in c.facet_texts()} | {c.label for c in candidates}
        )
        facet_keys = [text_key(text) for text in facets]
        facet_matrix, embedded_facets = _embed(
            facet_keys,
            facets,
            embedder,
            cached_vectors(out, embedder.name, kind="facets"),
            progress=progress,
        )
        say(f"embedded {embedded_facets} concept labels and definitions of {len(facets)}")
        watch.lap("embed")  # every encode of a build counts in its embed stage

        lexical = LexicalIndex.build(inputs)
        vectors = VectorIndex.build(passage_vectors, hnsw_threshold=hnsw_threshold)
        concept_index = VectorIndex.build(concept_vectors)
        watch.lap("search indexes")

        version_hint = started.strftime("%Y%m%dT%H%M%SZ")
        graph = build_graph(
            ontology.graph,
            documents,
            passages,
            mentions,
            cooccurrences,
            evidence,
            candidates,
            version=version_hint,
            model=embedder.name,
            started=started,
        )
        turtle = graph.turtle()
        say(f"graph of {len(graph)} triples")
        watch.lap("graph")

        contents = IndexContents(
            documents=documents,
            passages=passages,
            concepts=concepts,
            properties=list(ontology.properties),
            mentions=mentions,
            cooccurrences=cooccurrences,
            evidence=evidence,
            candidates=candidates,
            passage_vectors=vectors,
            concept_vectors=concept_index,
            lexical=lexical,
            graph_turtle=turtle,
            embedding_keys=keys,
            sentence_vectors=sentence_matrix,
            sentence_keys=sentence_keys,
            facet_vectors=facet_matrix,
            facet_keys=facet_keys,
            concept_keys=concept_keys,
        )
        seconds = time.perf_counter() - clock
        manifest = write_index(
            out,
            contents,
            {
                "model": embedder.name,
                "dimension": embedder.dimension,
                "counts": {
                    "documents": len(documents),
                    "passages": len(passages),
                    "concepts": len(concepts),
                    "candidate_concepts": len(candidates),
                    "mentions": len(mentions),
                    "cooccurrences": len(cooccurrences),
                    "relation_evidence": len(evidence),
                    "triples": len(graph),
                },
                "corpus_fingerprint": corpus_fingerprint(documents),
                "ontology_fingerprint": _file_digest(ontology_path),
                "settings": {
                    "max_tokens": max_tokens,
                    "semantic_threshold": semantic_threshold,
                    "vector_index": vectors.kind,
                    "sentence_vectors": bool(sentences),
                },
                "built_at": started.isoformat(timespec="seconds"),
                "build_seconds": round(seconds, 3),
            },
        )
    watch.lap("write")
    return BuildReport(
        manifest, out / manifest.version, embedded, len(passages) - embedded, seconds, watch.stages
    )


# CPython runs a collection of its youngest generation every 700 net allocations. A build makes
# millions of small objects that live to its end (tokens, phrase keys, triples), and at that
# pace the collector took a fifth of SciFact's non-encode time; every 50,000 it takes almost
# none, and cycles are still collected.
YOUNG_COLLECTION_EVERY = 50_000
_collections_lock = threading.Lock()
_collections_before: list[tuple[int, int, int]] = []  # one entry per build running


@contextmanager
def _rare_young_collections() -> Iterator[None]:
    """Collects the youngest generation every YOUNG_COLLECTION_EVERY allocations while any
    build of the process runs (the threshold is process-wide), then restores the thresholds."""
    with _collections_lock:
        before = _collections_before[0] if _collections_before else gc.get_threshold()
        _collections_before.append(before)
        gc.set_threshold(max(before[0], YOUNG_COLLECTION_EVERY), *before[1:])
    try:
        yield
    finally:
        with _collections_lock:
            _collections_before.pop()
            if not _collections_before:
                gc.set_threshold(*before)


def _embed(
    keys: Sequence[str],
    texts: Sequence[str],
    embedder: Embedder,
    cache: Mapping[str, Vectors],
    *,
    progress: bool,
) -> tuple[Vectors, int]:
    """Vectors for `texts`: taken from `cache` by key where the embedded text is unchanged,
    computed for the rest. Returns (vectors, how many were computed)."""
    missing = [i for i, key in enumerate(keys) if key not in cache]
    vectors = np.zeros((len(keys), embedder.dimension), dtype=np.float32)
    for i, key in enumerate(keys):
        if key in cache:
            vectors[i] = cache[key]
    if missing:
        vectors[missing] = embedder.encode([texts[i] for i in missing], show_progress=progress)
    return vectors, len(missing)


def _input_key(passage: Passage, text: str) -> str:
    """The cache key of a passage's vector: the hash of exactly the text that was embedded."""
    return passage.text_hash if text == passage.text else _digest(text)


def _digest(text: str) -> str:
    return text_key(text)


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()

"""What the service holds while it runs: the loaded index and the objects built from it.

Built in the lifespan (`load_resources`), reached by handlers through `app.deps`, and replaced
whole by `app.hotswap` when a new index version is published.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox
from rdflib import Graph

from indexer.embedder import Embedder
from indexer.errors import IndexMismatch, LeadgraphError
from indexer.linking import DEFAULT_SEMANTIC_THRESHOLD, ConceptLinker
from indexer.onnx_embedder import with_onnx
from indexer.rdfio import load_store, rdflib_graph, turtle_prefixes
from indexer.store import Index, load_index

from .config import Settings

log = logging.getLogger("leadgraph")


@dataclass
class Resources:
    settings: Settings
    index: Index
    embedder: Embedder
    graph: Graph
    linker: ConceptLinker
    sparql_store: ox.Store | None = None  # the same graph in Oxigraph, for sparql_engine oxigraph


@dataclass
class AppState:
    """Mutable holder on `app.state.leadgraph`: `resources` is None until an index is loaded,
    and `problem` then says why (shown by /ready and in 503 bodies).

    `resources` is only ever replaced by one assignment, never changed in place: a request
    that took it keeps a consistent index to the end, whatever is published meanwhile."""

    settings: Settings
    resources: Resources | None = None
    problem: str | None = field(default="index not loaded yet")
    embedder: Embedder | None = None  # kept for rebuilds, even when no index could be loaded
    reload_lock: threading.Lock = field(default_factory=threading.Lock)  # one load at a time
    services_lock: threading.Lock = field(default_factory=threading.Lock)  # see app.deps


def query_embedder(embedder: Embedder, settings: Settings) -> Embedder:
    """`embedder` with queries through onnxruntime as `settings` ask (LEADGRAPH_ONNX*), or
    itself when the export is off or does not check out."""
    return with_onnx(
        embedder,
        enabled=settings.onnx,
        cache_dir=settings.onnx_cache,
        threads=settings.onnx_threads,
    )


def load_resources(settings: Settings, embedder: Embedder) -> Resources:
    """Loads the published index under `settings.index`; raises LeadgraphError naming the fix."""
    index = load_index(settings.index, model=embedder.name, verify=settings.verify_checksums)
    graph, store = load_graph(index.graph_path, settings)
    curated = [c for c in index.concepts.values() if not c.candidate]
    rows = [index.concept_order.index(c.uri) for c in curated]
    linker = ConceptLinker(
        curated,
        embedder,
        semantic_threshold=float(
            index.manifest.settings.get("semantic_threshold", DEFAULT_SEMANTIC_THRESHOLD)
        ),
        concept_vectors=index.concept_vectors.vectors[rows],
    )
    return Resources(settings, index, embedder, graph, linker, store)


def load_graph(path: Path, settings: Settings) -> tuple[Graph, ox.Store | None]:
    """graph.ttl as an rdflib graph, and for the Oxigraph engine as an Oxigraph store too (read
    once, by Oxigraph; the rdflib graph is made from the store). IndexMismatch if it does not
    parse: only reachable with verify_checksums off, as the checksum catches a damaged file."""
    try:
        if settings.sparql_engine == "oxigraph":
            store = load_store(path)
            return rdflib_graph(store, turtle_prefixes(path)), store
        return Graph().parse(path, format="turtle"), None
    except Exception as exc:  # rdflib raises many types for a damaged file; all mean "rebuild"
        raise IndexMismatch(
            f"{path}: does not parse ({exc.__class__.__name__}: {exc}); rebuild with "
            f"`leadgraph index corpus --out {settings.index}`"
        ) from exc


def public_problem(message: str, settings: Settings) -> str:
    """`message` as /ready and 503 bodies may show it: the folders of the index, the corpus
    and the ontology named by their last part only, never by the paths that reveal where the
    server keeps its files (the log keeps the whole message)."""
    for folder in (settings.index, settings.corpus, settings.ontology.parent):
        for written in {str(folder.resolve()), str(folder)}:
            if written not in (".", "/") and Path(written).is_absolute():
                message = message.replace(written, folder.resolve().name)
    return message


def try_load(state: AppState, embedder: Embedder) -> None:
    """Loads the published index into `state`, or records and logs why it cannot (then /ready
    answers 503 and the log line says what to run)."""
    state.embedder = embedder
    try:
        state.resources = load_resources(state.settings, embedder)
        state.problem = None
        manifest = state.resources.index.manifest
        log.info("index %s loaded: %s", manifest.version, manifest.counts)
    except LeadgraphError as exc:
        state.resources = None
        state.problem = public_problem(str(exc), state.settings)
        settings = state.settings
        log.error(
            "index not loaded, /ready answers 503: %s. To fix it run `leadgraph reindex "
            "--index %s --corpus %s` (or `leadgraph index`); this service loads the version "
            "published then%s",
            exc,
            settings.index,
            settings.corpus,
            f" within {settings.index_watch_s:g} s" if settings.index_watch_s else " at restart",
        )

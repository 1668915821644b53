"""What the service holds while it runs: the loaded index and the objects built from it.

Built in the lifespan (`load_resources`), reached by handlers through `app.deps`, and replaced
whole by `app.hotswap` when a new index version is published.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox
from rdflib import Graph

from leadgraph.indexer.embedder import Embedder
from leadgraph.indexer.errors import IndexMismatch, LeadgraphError
from leadgraph.indexer.linking import DEFAULT_SEMANTIC_THRESHOLD, ConceptLinker
from leadgraph.indexer.onnx_embedder import with_onnx
from leadgraph.indexer.rdfio import load_store, rdflib_graph, turtle_prefixes
from leadgraph.indexer.store import Index, load_index

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
    graph, store = load_graph(
        index.graph_path, settings, triples=index.manifest.counts.get("triples")
    )
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


def load_graph(
    path: Path, settings: Settings, *, triples: int | None = None
) -> tuple[Graph, ox.Store | None]:
    """graph.ttl as an rdflib graph, and for the Oxigraph engine as an Oxigraph store too (read
    once, by Oxigraph; the rdflib graph is made from the store). IndexMismatch if it does not
    parse, or holds another number of triples than `triples` (the manifest's count): only
    reachable with verify_checksums off, as the checksum catches a damaged file."""
    try:
        store = None
        if settings.sparql_engine == "oxigraph":
            store = load_store(path)
            graph = rdflib_graph(store, turtle_prefixes(path))
        else:
            graph = Graph().parse(path, format="turtle")
    except Exception as exc:  # rdflib raises many types for a damaged file; all mean "rebuild"
        raise IndexMismatch(
            f"{path}: does not parse ({exc.__class__.__name__}: {exc}); rebuild with "
            f"{fix_command(settings)}"
        ) from exc
    if triples is not None and len(graph) != triples:  # cut at a statement's end: it parses
        raise IndexMismatch(
            f"{path}: {len(graph)} triples where {triples} were written, damaged or truncated; "
            f"rebuild with {fix_command(settings)}"
        )
    return graph, store


# the indexer's advice names the folder it read (`leadgraph index corpus --out <root>`), not the
# corpus this service is configured with
_INDEXER_FIX = re.compile(r"(?:rebuild with|run) `leadgraph (?:re)?index\b[^`]*`")


def fix_command(settings: Settings) -> str:
    """The command that builds and publishes the index this service is configured to serve,
    in backquotes: `leadgraph reindex` of its corpus into its index folder."""
    return f"`leadgraph reindex --index {settings.index} --corpus {settings.corpus}`"


def with_fix(message: str, settings: Settings) -> str:
    """`message` (why the index did not load) with the real command that fixes it in place of
    the indexer's generic advice, or after it when it gives none."""
    fixed, count = _INDEXER_FIX.subn(f"run {fix_command(settings)}", message)
    return fixed if count else f"{message}; to fix it run {fix_command(settings)}"


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
        settings = state.settings
        problem = with_fix(str(exc), settings)
        state.problem = public_problem(problem, settings)
        log.error(
            "index not loaded, /ready answers 503: %s; this service loads the version "
            "published then%s",
            problem,
            f" within {settings.index_watch_s:g} s" if settings.index_watch_s else " at restart",
        )

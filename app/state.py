"""What the service holds while it runs: the loaded index and the objects built from it.

Built once in the lifespan (`load_resources`), reached by handlers through `app.deps`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from rdflib import Graph

from indexer.embedder import Embedder
from indexer.errors import LeadgraphError
from indexer.linking import DEFAULT_SEMANTIC_THRESHOLD, ConceptLinker
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


@dataclass
class AppState:
    """Mutable holder on `app.state.leadgraph`: `resources` is None until an index is loaded,
    and `problem` then says why (shown by /ready and in 503 bodies)."""

    settings: Settings
    resources: Resources | None = None
    problem: str | None = field(default="index not loaded yet")


def load_resources(settings: Settings, embedder: Embedder) -> Resources:
    """Loads the published index under `settings.index`; raises LeadgraphError naming the fix."""
    index = load_index(settings.index, model=embedder.name, verify=settings.verify_checksums)
    graph = Graph()
    graph.parse(index.graph_path, format="turtle")
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
    return Resources(settings, index, embedder, graph, linker)


def try_load(state: AppState, embedder: Embedder) -> None:
    try:
        state.resources = load_resources(state.settings, embedder)
        state.problem = None
        manifest = state.resources.index.manifest
        log.info("index %s loaded: %s", manifest.version, manifest.counts)
    except LeadgraphError as exc:
        state.resources = None
        state.problem = str(exc)
        log.error("index not loaded: %s", exc)

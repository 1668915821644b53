"""Typed dependencies, so handlers read like prose: `def search(q, service: SearchDep)`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from .config import Settings
from .errors import IndexNotReady
from .services.concepts import ConceptService
from .services.qa import QAService
from .services.search import SearchService
from .services.sparql import GraphExport, SparqlService
from .state import AppState, Resources


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.leadgraph
    return state


def get_resources(request: Request) -> Resources:
    state = get_state(request)
    if state.resources is None:
        raise IndexNotReady(state.problem or "index not loaded")
    return state.resources


def get_settings(request: Request) -> Settings:
    return get_state(request).settings


StateDep = Annotated[AppState, Depends(get_state)]
ResourcesDep = Annotated[Resources, Depends(get_resources)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


@dataclass(frozen=True)
class Services:
    """The services over one `Resources`, built on first use and kept until the index changes."""

    resources: Resources
    concepts: ConceptService
    search: SearchService
    qa: QAService

    @classmethod
    def build(cls, resources: Resources) -> Services:
        concepts = ConceptService(resources.index, resources.embedder)
        search = SearchService(
            resources.index, resources.embedder, resources.linker, concepts, resources.settings
        )
        return cls(resources, concepts, search, QAService(resources.index, search))


def get_services(request: Request) -> Services:
    resources = get_resources(request)
    services: Services | None = getattr(request.app.state, "services", None)
    if services is None or services.resources is not resources:
        # building twice under concurrent first requests is harmless: the last one is kept
        services = Services.build(resources)
        request.app.state.services = services
    return services


def get_concepts(request: Request) -> ConceptService:
    return get_services(request).concepts


def get_search(request: Request) -> SearchService:
    return get_services(request).search


def get_qa(request: Request) -> QAService:
    return get_services(request).qa


ConceptsDep = Annotated[ConceptService, Depends(get_concepts)]
SearchDep = Annotated[SearchService, Depends(get_search)]
QADep = Annotated[QAService, Depends(get_qa)]


@dataclass(frozen=True)
class GraphServices:
    """SPARQL and the graph download over one `Resources`, built on first use."""

    resources: Resources
    sparql: SparqlService
    export: GraphExport


def get_graph_services(request: Request) -> GraphServices:
    resources = get_resources(request)
    services: GraphServices | None = getattr(request.app.state, "graph_services", None)
    if services is None or services.resources is not resources:
        services = GraphServices(
            resources,
            SparqlService(resources.graph, resources.settings),
            GraphExport(resources.graph, resources.index.graph_path),
        )
        request.app.state.graph_services = services
    return services


def get_sparql(request: Request) -> SparqlService:
    return get_graph_services(request).sparql


def get_graph_export(request: Request) -> GraphExport:
    return get_graph_services(request).export


SparqlDep = Annotated[SparqlService, Depends(get_sparql)]
GraphExportDep = Annotated[GraphExport, Depends(get_graph_export)]

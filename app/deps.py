"""Typed dependencies, so handlers read like prose: `def search(q, service: SearchDep)`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Request

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
    sparql: SparqlService
    export: GraphExport

    @classmethod
    def build(cls, resources: Resources) -> Services:
        concepts = ConceptService(resources.index, resources.embedder)
        search = SearchService(
            resources.index, resources.embedder, resources.linker, concepts, resources.settings
        )
        return cls(
            resources,
            concepts,
            search,
            QAService(resources.index, search),
            SparqlService(resources.graph, resources.settings),
            GraphExport(resources.graph, resources.index.graph_path),
        )


def app_services(app: FastAPI) -> Services:
    """The services over the app's loaded index, shared by the REST handlers and the MCP tools;
    IndexNotReady while there is none."""
    state: AppState = app.state.leadgraph
    resources = state.resources
    if resources is None:
        raise IndexNotReady(state.problem or "index not loaded")
    services: Services | None = getattr(app.state, "services", None)
    if services is None or services.resources is not resources:
        # building twice under concurrent first requests is harmless: the last one is kept
        services = Services.build(resources)
        app.state.services = services
    return services


def get_services(request: Request) -> Services:
    return app_services(request.app)


def get_concepts(request: Request) -> ConceptService:
    return get_services(request).concepts


def get_search(request: Request) -> SearchService:
    return get_services(request).search


def get_qa(request: Request) -> QAService:
    return get_services(request).qa


ConceptsDep = Annotated[ConceptService, Depends(get_concepts)]
SearchDep = Annotated[SearchService, Depends(get_search)]
QADep = Annotated[QAService, Depends(get_qa)]


def get_sparql(request: Request) -> SparqlService:
    return get_services(request).sparql


def get_graph_export(request: Request) -> GraphExport:
    return get_services(request).export


SparqlDep = Annotated[SparqlService, Depends(get_sparql)]
GraphExportDep = Annotated[GraphExport, Depends(get_graph_export)]

"""Typed dependencies, so handlers read like prose: `def search(q, service: SearchDep)`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Request

from .config import Settings
from .errors import IndexNotReady
from .services.answer_model import AnswerModel
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
    def build(cls, resources: Resources, *, model: AnswerModel | None = None) -> Services:
        """The services over `resources`; `model` replaces the shipped answer model."""
        concepts = ConceptService(resources.index, resources.embedder)
        search = SearchService(
            resources.index, resources.embedder, resources.linker, concepts, resources.settings
        )
        return cls(
            resources,
            concepts,
            search,
            QAService(
                resources.index,
                search,
                model=model,
                threshold=resources.settings.answer_threshold,
            ),
            SparqlService(resources.graph, resources.settings, resources.sparql_store),
            GraphExport(resources.graph, resources.index.graph_path),
        )


def app_services(app: FastAPI) -> Services:
    """The services over the app's loaded index, shared by the REST handlers and the MCP tools;
    IndexNotReady while there is none."""
    state: AppState = app.state.leadgraph
    resources = state.resources
    if resources is None:
        raise IndexNotReady(state.problem or "index not loaded")
    return services_for(app, resources)


def services_for(app: FastAPI, resources: Resources) -> Services:
    """The services over `resources`, built once and cached on the app for the resources
    served now and the ones before (which requests in flight across a swap still hold)."""
    for services in _cached(app):
        if services.resources is resources:
            return services
    state: AppState = app.state.leadgraph
    # one build at a time: the SPARQL service's warm-up runs rdflib's parser, which is not
    # thread-safe, and a build per concurrent first request would be wasted anyway
    with state.services_lock:
        cached = _cached(app)
        for services in cached:
            if services.resources is resources:
                return services
        services = Services.build(resources)
        app.state.services = (services, *cached)[:2]  # replaced whole: readers need no lock
    return services


def _cached(app: FastAPI) -> tuple[Services, ...]:
    cached: tuple[Services, ...] = getattr(app.state, "services", ())
    return cached


def get_services(request: Request, resources: ResourcesDep) -> Services:
    # FastAPI resolves `resources` once per request, so every service a handler receives is
    # over the same index version, even when a new one is swapped in meanwhile
    return services_for(request.app, resources)


ServicesDep = Annotated[Services, Depends(get_services)]


def get_concepts(services: ServicesDep) -> ConceptService:
    return services.concepts


def get_search(services: ServicesDep) -> SearchService:
    return services.search


def get_qa(services: ServicesDep) -> QAService:
    return services.qa


ConceptsDep = Annotated[ConceptService, Depends(get_concepts)]
SearchDep = Annotated[SearchService, Depends(get_search)]
QADep = Annotated[QAService, Depends(get_qa)]


def get_sparql(services: ServicesDep) -> SparqlService:
    return services.sparql


def get_graph_export(services: ServicesDep) -> GraphExport:
    return services.export


SparqlDep = Annotated[SparqlService, Depends(get_sparql)]
GraphExportDep = Annotated[GraphExport, Depends(get_graph_export)]

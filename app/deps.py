"""Typed dependencies, so handlers read like prose: `def search(q, service: SearchDep)`.

They are `async def`: FastAPI runs a plain `def` dependency in a worker thread, a hand-off to
and from the event loop for what is an attribute read, five of them per search request. The one
that may block (building the services of a newly loaded index) goes to a thread itself.

`SearchDep`, `QADep` and `ConceptsDep` also hold one of the app's compute slots
(`app.admission`) from the moment the handler starts until its answer is serialised; a request
asking for more than one of them holds one slot.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from starlette.concurrency import run_in_threadpool

from .admission import Admission
from .config import Settings
from .errors import IndexNotReady
from .services.answer_model import AnswerModel
from .services.concepts import ConceptService
from .services.qa import QAService
from .services.search import SearchService
from .services.sparql import GraphExport, SparqlService
from .state import AppState, Resources


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.leadgraph
    return state


async def get_resources(request: Request) -> Resources:
    state: AppState = request.app.state.leadgraph
    if state.resources is None:
        raise IndexNotReady(state.problem or "index not loaded")
    return state.resources


async def get_settings(request: Request) -> Settings:
    state: AppState = request.app.state.leadgraph
    return state.settings


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
    def build(
        cls,
        resources: Resources,
        *,
        model: AnswerModel | None = None,
        previous: Services | None = None,
    ) -> Services:
        """The services over `resources`; `model` replaces the shipped answer model. With the
        services of the version served before (`previous`), what they computed that still
        holds (sentence vectors of unchanged documents) is taken over."""
        concepts = ConceptService(resources.index, resources.embedder)
        search = SearchService(
            resources.index, resources.embedder, resources.linker, concepts, resources.settings
        )
        qa = QAService(
            resources.index,
            search,
            model=model,
            threshold=resources.settings.answer_threshold,
        )
        if previous is not None:
            qa.adopt(previous.qa)
        return cls(
            resources,
            concepts,
            search,
            qa,
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
    served now and the ones before (which requests in flight across a swap still hold);
    blocking when they are not built yet."""
    services = cached_services(app, resources)
    if services is not None:
        return services
    state: AppState = app.state.leadgraph
    # one build at a time: the SPARQL service's warm-up runs rdflib's parser, which is not
    # thread-safe, and a build per concurrent first request would be wasted anyway
    with state.services_lock:
        cached = _cached(app)
        for services in cached:
            if services.resources is resources:
                return services
        services = Services.build(resources, previous=cached[0] if cached else None)
        app.state.services = (services, *cached)[:2]  # replaced whole: readers need no lock
    return services


def cached_services(app: FastAPI, resources: Resources) -> Services | None:
    """The services over `resources` if they are built, without waiting."""
    for services in _cached(app):
        if services.resources is resources:
            return services
    return None


def _cached(app: FastAPI) -> tuple[Services, ...]:
    cached: tuple[Services, ...] = getattr(app.state, "services", ())
    return cached


async def get_services(request: Request, resources: ResourcesDep) -> Services:
    # FastAPI resolves `resources` once per request, so every service a handler receives is
    # over the same index version, even when a new one is swapped in meanwhile
    services = cached_services(request.app, resources)
    if services is None:  # only before the first request of an index served without a swap
        services = await run_in_threadpool(services_for, request.app, resources)
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def compute_slot(request: Request) -> AsyncIterator[None]:
    """Holds one of the app's compute slots (`app.admission`) for the request; Busy when
    none frees up in time or too many requests wait already."""
    admission: Admission = request.app.state.admission
    async with admission.slot():
        yield


# scope "function": the slot is given back once the handler's answer is serialised, before it
# is sent, so a client slow to read its answer holds no slot
ComputeSlot = Annotated[None, Depends(compute_slot, scope="function")]


async def get_concepts(services: ServicesDep, _: ComputeSlot) -> ConceptService:
    return services.concepts


async def get_search(services: ServicesDep, _: ComputeSlot) -> SearchService:
    return services.search


async def get_qa(services: ServicesDep, _: ComputeSlot) -> QAService:
    return services.qa


ConceptsDep = Annotated[ConceptService, Depends(get_concepts)]
SearchDep = Annotated[SearchService, Depends(get_search)]
QADep = Annotated[QAService, Depends(get_qa)]


# SPARQL runs in worker processes of its own, behind its own bounded pool: it takes no slot
async def get_sparql(services: ServicesDep) -> SparqlService:
    return services.sparql


async def get_graph_export(services: ServicesDep) -> GraphExport:
    return services.export


SparqlDep = Annotated[SparqlService, Depends(get_sparql)]
GraphExportDep = Annotated[GraphExport, Depends(get_graph_export)]

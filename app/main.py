"""The FastAPI application: `create_app(settings)` wires settings, lifespan, routers, errors."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route

from leadgraph.indexer.embedder import Embedder, SentenceTransformerEmbedder
from leadgraph.indexer.errors import ModelError

from .admission import Admission, default_slots
from .config import Settings
from .deps import services_for
from .errors import install_handlers
from .hotswap import watch_published
from .limits import BodySizeLimit, document_limits
from .mcp_server import MCPEndpoint, build_mcp, services_of
from .routers import admin, concepts, context, documents, graph, health, qa, search, sparql, web
from .state import AppState, public_problem, query_embedder, try_load


def create_app(settings: Settings | None = None, *, embedder: Embedder | None = None) -> FastAPI:
    """The app over the index at `settings.index`. Tests pass a fake `embedder`; otherwise the
    configured model is loaded in the lifespan, once."""
    settings = settings or Settings()
    state = AppState(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        model = embedder
        if model is None:
            try:
                model = query_embedder(SentenceTransformerEmbedder(settings.model), settings)
            except ModelError as exc:
                state.problem = public_problem(str(exc), settings)
        if model is not None:
            try_load(state, model)
        if state.resources is not None:
            # built now, so that the first requests do not wait for them one behind the other
            await run_in_threadpool(services_for, app, state.resources)
        watcher = None
        if model is not None and settings.index_watch_s > 0:
            # serves versions published by others (`leadgraph add`, `leadgraph index`) too
            watcher = asyncio.create_task(watch_published(app, settings.index_watch_s))
        # MCP's session manager lives inside the app's lifespan, and ends before the index does
        async with mcp.running():
            yield
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        state.resources = None

    app = FastAPI(
        title="leadgraph",
        version="0.1.0",
        summary="Knowledge graph and hybrid semantic search over leadership and management content",
        lifespan=lifespan,
    )
    app.state.leadgraph = state
    app.state.admission = Admission(
        settings.compute_slots or default_slots(),
        queue=settings.compute_queue,
        wait_s=settings.compute_wait_s,
    )
    install_handlers(app)
    app.include_router(health.router)
    app.include_router(concepts.router)
    app.include_router(search.router)
    app.include_router(qa.router)
    app.include_router(documents.router)
    app.include_router(admin.router)
    app.include_router(graph.router)
    app.include_router(sparql.router)
    app.include_router(web.router)
    app.include_router(context.router)
    mcp = MCPEndpoint(build_mcp(services_of(app), settings=settings), host=settings.host)
    app.router.routes.append(Route("/mcp", mcp))
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    document_limits(app, settings)
    if settings.cors_origins:
        # added last, so outermost: refusals (413 too) carry the headers a browser needs to
        # read them; only the public methods, no credentials, no Authorization header
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Accept", "Content-Type"],
            expose_headers=["ETag", "X-Leadgraph-Truncated"],
            max_age=600,
        )
    return app

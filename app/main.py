"""The FastAPI application: `create_app(settings)` wires settings, lifespan, routers, errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.routing import Route

from indexer.embedder import Embedder, SentenceTransformerEmbedder
from indexer.errors import ModelError

from .config import Settings
from .errors import install_handlers
from .mcp_server import MCPEndpoint, build_mcp, services_of
from .routers import concepts, context, documents, graph, health, qa, search, sparql, web
from .state import AppState, try_load


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
                model = SentenceTransformerEmbedder(settings.model)
            except ModelError as exc:
                state.problem = str(exc)
        if model is not None:
            try_load(state, model)
        # MCP's session manager lives inside the app's lifespan, and ends before the index does
        async with mcp.running():
            yield
        state.resources = None

    app = FastAPI(
        title="leadgraph",
        version="0.1.0",
        summary="Knowledge graph and hybrid semantic search over leadership and management content",
        lifespan=lifespan,
    )
    app.state.leadgraph = state
    install_handlers(app)
    app.include_router(health.router)
    app.include_router(concepts.router)
    app.include_router(search.router)
    app.include_router(qa.router)
    app.include_router(documents.router)
    app.include_router(graph.router)
    app.include_router(sparql.router)
    app.include_router(web.router)
    app.include_router(context.router)
    mcp = MCPEndpoint(build_mcp(services_of(app), settings=settings), host=settings.host)
    app.router.routes.append(Route("/mcp", mcp))
    return app

"""Serving a newly published index version without a restart.

A build publishes a version by swapping the `current` symlink (`indexer.store`). The service
then loads that version into new `Resources`, off the event loop, and serves it by one
reference assignment to `AppState.resources`. A request resolves its resources once (see
`app.deps.get_services`), so requests in flight finish on the version they started with and
new ones see the new version; none waits and none fails. The version folder a finished
request read stays on disk (the two newest are kept).

Two paths lead here: the admin endpoints reload right after their own update, and
`watch_published` polls `current` so that a version published by another process (`leadgraph
add`, `leadgraph index`) is picked up too, and a service started on a damaged index recovers
once a good one is published.

An admin update runs through `run_update`: in a thread of its own at a lower CPU priority
(`update_nice`), so that the rebuild, the load and the services' build yield the cores to the
requests served meanwhile, and with the services built before the swap, taking over what the
previous ones had computed (`Services.build(previous=...)`), so that no request after the swap
pays for a cold start.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TypeVar

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from leadgraph.indexer.errors import LeadgraphError
from leadgraph.indexer.store import CURRENT

from .deps import services_for
from .errors import IndexNotReady
from .state import AppState, Resources, load_resources

log = logging.getLogger("leadgraph")

T = TypeVar("T")


def published_version(state: AppState) -> str | None:
    """The folder name `current` points at, or None when nothing is published."""
    try:
        return os.readlink(state.settings.index / CURRENT)
    except OSError:
        return None


def served_version(state: AppState) -> str | None:
    resources = state.resources
    return resources.index.path.name if resources is not None else None


def install(app: FastAPI, resources: Resources) -> None:
    """Serves `resources` from now on; callers that hold the previous ones keep them."""
    state: AppState = app.state.leadgraph
    services_for(app, resources)  # built here, so no request waits for them after the swap
    state.resources = resources  # the swap: one reference assignment
    state.problem = None


def reload_published(app: FastAPI) -> Resources:
    """Loads and serves the published version unless it is already served; blocking, so call
    it from a worker thread. Raises IndexNotReady when the published version cannot be loaded;
    the version served before (if any) then stays served."""
    state: AppState = app.state.leadgraph
    with state.reload_lock:  # loads are serialised, so a slower, older load never wins
        current = state.resources
        if current is not None and current.index.path.name == published_version(state):
            return current
        if state.embedder is None:
            raise IndexNotReady(state.problem or "the embedding model is not loaded")
        try:
            resources = load_resources(state.settings, state.embedder)
        except LeadgraphError as exc:
            log.error(
                "published index not loaded, still serving %s: %s", served_version(state), exc
            )
            raise IndexNotReady(f"the published index cannot be loaded: {exc}") from exc
        install(app, resources)
        manifest = resources.index.manifest
        log.info("now serving index %s: %s", manifest.version, manifest.counts)
        return resources


async def watch_published(app: FastAPI, interval_s: float) -> None:
    """Every `interval_s`, serves a version newly published by anyone; runs until cancelled.
    A version that fails to load is logged once and not tried again."""
    state: AppState = app.state.leadgraph
    seen = published_version(state)  # the lifespan has just tried this one
    while True:
        await asyncio.sleep(interval_s)
        published = published_version(state)
        if published is None or published == seen:
            continue
        seen = published
        if published == served_version(state):
            continue
        try:
            await run_in_threadpool(reload_published, app)
        except IndexNotReady:
            pass  # logged by reload_published; the previous version keeps serving
        except Exception:
            # the watcher must outlive any surprise, or later versions would never be served
            log.exception("loading the published index %s failed", published)


async def run_update(nice: int, update: Callable[[], T]) -> T:
    """The result of `update()` (a rebuild, its publication and its reload), run in a new
    thread `nice` steps below the service's CPU priority. The thread is the update's alone and
    ends with it, so no worker thread that serves requests later keeps the lower priority. A
    cancelled request (the client left) does not stop the update: it runs to its end."""
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="leadgraph-update")
    try:
        future = asyncio.get_running_loop().run_in_executor(
            executor, partial(_at_lower_priority, nice, update)
        )
    finally:
        executor.shutdown(wait=False)  # the thread ends once the update has
    return await asyncio.shield(future)


def _at_lower_priority(nice: int, update: Callable[[], T]) -> T:
    if nice > 0:
        lower_thread_priority(nice)
    return update()


def lower_thread_priority(nice: int) -> bool:
    """Adds `nice` to the calling thread's niceness (Linux, where niceness is per thread; the
    threads it starts, such as torch's, inherit it); False where that cannot be done."""
    if not sys.platform.startswith("linux"):
        return False  # elsewhere PRIO_PROCESS would lower the whole service
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except OSError as exc:
        log.warning("the update runs at the service's priority: %s", exc)
        return False
    return True

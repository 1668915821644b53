"""`app.admission.Admission`: at most N computing, the rest waiting in order for a bounded time;
and its use by the app: a full house answers 503 `busy` while `/health` still answers."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from leadgraph.app.admission import RETRY_AFTER_S, Admission
from leadgraph.app.config import Settings
from leadgraph.app.errors import Busy
from leadgraph.app.main import create_app
from leadgraph.app.services.search import SearchService
from leadgraph.indexer.build import build_index
from tests.conftest import CORPUS
from tests.fakes import HashingEmbedder

T = TypeVar("T")
LIMIT_S = 10.0  # a test that would hang (a leaked slot) fails after this instead


def _run(test: Callable[[], Awaitable[T]]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(test(), LIMIT_S)

    return asyncio.run(bounded())


async def _settle() -> None:
    """Lets every task that can run do so, until each waits on something."""
    for _ in range(20):
        await asyncio.sleep(0)


def test_rejects_impossible_limits() -> None:
    for slots, queue, wait_s in [(0, 1, 1.0), (1, -1, 1.0), (1, 1, 0.0)]:
        with pytest.raises(ValueError, match="slots >= 1"):
            Admission(slots, queue, wait_s)


def test_never_more_than_slots_inside() -> None:
    async def test() -> tuple[int, int, Admission]:
        admission = Admission(3, queue=50, wait_s=5.0)
        inside = most = 0

        async def work() -> None:
            nonlocal inside, most
            async with admission.slot():
                inside += 1
                most = max(most, inside)
                await asyncio.sleep(0.005)
                inside -= 1

        await asyncio.gather(*(work() for _ in range(30)))
        return most, inside, admission

    most, inside, admission = _run(test)
    assert most == 3  # every slot used, none more
    assert inside == 0 and admission.running == 0 and admission.waiting == 0


def test_waiters_enter_in_arrival_order_and_newcomers_queue_behind() -> None:
    async def test() -> list[str]:
        admission = Admission(1, queue=10, wait_s=5.0)
        order: list[str] = []
        gate = asyncio.Event()

        async def enter(name: str) -> None:
            async with admission.slot():
                order.append(name)
                await asyncio.sleep(0)

        async def holder() -> asyncio.Task[None]:
            async with admission.slot():
                await gate.wait()
            # the slot was handed on, its new holder has not run yet: one arriving now waits
            return asyncio.create_task(enter("late"))

        held = asyncio.create_task(holder())
        await _settle()
        waiters = []
        for number in range(5):
            waiters.append(asyncio.create_task(enter(str(number))))
            await _settle()
        assert admission.running == 1 and admission.waiting == 5
        gate.set()
        late = await held
        await asyncio.gather(*waiters, late)
        assert admission.running == 0 and admission.waiting == 0
        return order

    assert _run(test) == ["0", "1", "2", "3", "4", "late"]


def test_full_queue_is_refused_at_once_with_retry_after() -> None:
    async def test() -> None:
        admission = Admission(1, queue=2, wait_s=30.0)
        gate = asyncio.Event()

        async def hold() -> None:
            async with admission.slot():
                await gate.wait()

        tasks = [asyncio.create_task(hold()) for _ in range(3)]  # one inside, two waiting
        await _settle()
        assert admission.running == 1 and admission.waiting == 2
        start = time.monotonic()
        with pytest.raises(Busy) as refused:
            async with admission.slot():
                pytest.fail("admitted beyond the queue")
        assert time.monotonic() - start < 1.0  # not after the 30 s wait
        assert refused.value.status == 503 and refused.value.code == "busy"
        assert refused.value.headers == {"Retry-After": str(RETRY_AFTER_S)}
        assert "compute_queue" in refused.value.detail
        gate.set()
        await asyncio.gather(*tasks)
        assert admission.running == 0 and admission.waiting == 0

    _run(test)


def test_no_queue_refuses_whenever_all_slots_are_taken() -> None:
    async def test() -> None:
        admission = Admission(1, queue=0, wait_s=30.0)
        async with admission.slot():
            with pytest.raises(Busy):
                async with admission.slot():
                    pass
        async with admission.slot():  # free again
            assert admission.running == 1

    _run(test)


def test_wait_longer_than_wait_s_is_refused_and_leaves_nothing_behind() -> None:
    async def test() -> None:
        admission = Admission(1, queue=5, wait_s=0.2)
        gate = asyncio.Event()

        async def hold() -> None:
            async with admission.slot():
                await gate.wait()

        held = asyncio.create_task(hold())
        await _settle()
        start = time.monotonic()
        with pytest.raises(Busy) as refused:
            async with admission.slot():
                pytest.fail("admitted while the only slot was held")
        assert time.monotonic() - start >= 0.2 * 0.9
        assert "compute_wait_s" in refused.value.detail
        assert refused.value.headers == {"Retry-After": str(RETRY_AFTER_S)}
        assert admission.waiting == 0
        gate.set()
        await held
        assert admission.running == 0
        async with admission.slot():  # the slot came back
            assert admission.running == 1

    _run(test)


def test_cancelled_waiter_does_not_keep_a_slot_or_a_place() -> None:
    async def test() -> None:
        admission = Admission(1, queue=5, wait_s=5.0)
        gate = asyncio.Event()
        entered: list[str] = []

        async def enter(name: str) -> None:
            async with admission.slot():
                entered.append(name)
                await gate.wait()

        first = asyncio.create_task(enter("first"))
        await _settle()
        gone = asyncio.create_task(enter("gone"))
        last = asyncio.create_task(enter("last"))
        await _settle()
        assert admission.waiting == 2
        gone.cancel()  # a client that left while waiting
        await _settle()
        assert admission.waiting == 1 and gone.cancelled()
        gate.set()
        await asyncio.gather(first, last)
        assert entered == ["first", "last"]
        assert admission.running == 0 and admission.waiting == 0

    _run(test)


def test_slot_handed_to_a_waiter_cancelled_at_that_moment_is_passed_on() -> None:
    async def test() -> None:
        admission = Admission(1, queue=5, wait_s=5.0)
        gate = asyncio.Event()
        entered: list[str] = []
        tasks: dict[str, asyncio.Task[None]] = {}

        async def enter(name: str) -> None:
            async with admission.slot():
                entered.append(name)
                await gate.wait()

        async def holder() -> tuple[int, int]:
            async with admission.slot():
                await gate.wait()
            # released: the slot is now the unlucky waiter's, which has not run yet, and is
            # cancelled before it can (a client leaving in that very moment)
            handed = (admission.running, admission.waiting)
            tasks["unlucky"].cancel()
            return handed

        held = asyncio.create_task(holder())
        await _settle()
        tasks["unlucky"] = asyncio.create_task(enter("unlucky"))
        await _settle()
        tasks["next"] = asyncio.create_task(enter("next"))
        await _settle()
        assert admission.running == 1 and admission.waiting == 2
        gate.set()
        # handed over, not freed: one slot taken (the unlucky waiter's), one caller waiting
        assert await held == (1, 1)
        await tasks["next"]
        with pytest.raises(asyncio.CancelledError):
            await tasks["unlucky"]
        assert entered == ["next"]
        assert admission.running == 0 and admission.waiting == 0

    _run(test)


# --- the app --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("admission") / "index"
    build_index([CORPUS], root, embedder=HashingEmbedder())
    return root


def test_full_house_answers_busy_while_health_answers(
    index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inside = threading.Event()
    release = threading.Event()
    search = SearchService.search

    def held_search(self: SearchService, *args: Any, **kwargs: Any) -> Any:
        inside.set()
        release.wait(LIMIT_S)  # bounded: a test that fails does not hang
        return search(self, *args, **kwargs)

    monkeypatch.setattr(SearchService, "search", held_search)
    settings = Settings(index=index, index_watch_s=0, compute_slots=1, compute_queue=0)
    app = create_app(settings, embedder=HashingEmbedder())

    async def test() -> None:
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://test") as client,
        ):
            first = asyncio.create_task(client.get("/search", params={"q": "trust"}))
            assert await asyncio.to_thread(inside.wait, LIMIT_S), "search never started"
            try:
                busy = await client.get("/search", params={"q": "vision"})
                assert busy.status_code == 503
                assert busy.json()["error"] == "busy" and busy.json()["detail"]
                assert busy.headers["retry-after"] == str(RETRY_AFTER_S)
                # concept lookup and questions compute too: the same slots
                concepts = await client.get("/concepts", params={"q": "trust"})
                assert concepts.status_code == 503 and concepts.json()["error"] == "busy"
                ask = await client.post("/ask", json={"question": "What is trust?"})
                assert ask.status_code == 503 and ask.json()["error"] == "busy"
                # what does not compute is not held up
                health = await client.get("/health")
                assert health.status_code == 200
                assert (await client.get("/ready")).status_code == 200
            finally:
                release.set()
            assert (await first).status_code == 200
            after = await client.get("/search", params={"q": "vision"})
            assert after.status_code == 200  # the slot was given back
            admission: Admission = app.state.admission
            assert admission.running == 0 and admission.waiting == 0

    asyncio.run(asyncio.wait_for(test(), 60))

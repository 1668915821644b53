"""Admission of the requests that compute: passage search, questions, concept lookup.

Each of them is CPU work from start to end (a query encode, FAISS and BM25, Python scoring).
On two cores, forty worker threads running forty of them at once do not finish sooner than a
few would: they take turns at the GIL with each other and with the event loop that reads and
writes every connection, and their onnxruntime and torch threads fight over the cores. So
throughput fell as clients were added, and every request waited for all the others.

`Admission` lets at most `slots` such requests compute at once. The others wait on the event
loop, in arrival order and holding no thread, at most `queue` of them and for at most `wait_s`
each; a request beyond the queue, or one that waited too long, is refused with 503 `busy` and
`Retry-After`, at once rather than after a timeout on the client's side.

One instance per app (`app.state.admission`, made by `create_app`); it is used from the event
loop only, so its counters need no lock.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from .errors import Busy

RETRY_AFTER_S = 1  # what a refused client is told to wait: about a queue's worth of requests


def default_slots() -> int:
    """One computing request per core this process may use. More let the event loop, which
    reads and answers every connection, wait longer for the GIL behind them: on two cores,
    /search alone at 8, 32 and 128 clients served 185, 178 and 175 requests/s with 2 slots, but
    190, 184 and 105 with 4 and 191, 182 and 96 with 8, p99 at 128 clients 0.8 s against 5.8
    (`bench/load.py`, docs/BENCHMARKS.md)."""
    return max(1, len(os.sched_getaffinity(0)))


class Admission:
    """At most `slots` holders of `slot()` at once; the next `queue` callers wait their turn in
    arrival order, for at most `wait_s` seconds each."""

    def __init__(self, slots: int, queue: int, wait_s: float) -> None:
        if slots < 1 or queue < 0 or wait_s <= 0:
            raise ValueError(f"slots >= 1, queue >= 0, wait_s > 0; got {slots}, {queue}, {wait_s}")
        self.slots = slots
        self.queue = queue
        self.wait_s = wait_s
        self._free = slots
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def running(self) -> int:
        return self.slots - self._free

    @property
    def waiting(self) -> int:
        # a waiter leaves the queue when it is served, times out or is cancelled
        return len(self._waiters)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Holds a slot for the block; Busy when the queue is full or the wait ran out."""
        if self._free > 0 and not self._waiters:
            self._free -= 1
        else:
            await self._wait()
        try:
            yield
        finally:
            self._release()

    async def _wait(self) -> None:
        if self.waiting >= self.queue:
            raise Busy(
                f"the server is at capacity: {self.slots} requests computing and {self.queue} "
                "waiting (compute_slots, compute_queue); retry shortly",
                retry_after=RETRY_AFTER_S,
            )
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(self.wait_s):
                await waiter
        except BaseException as exc:
            # a timeout or a cancelled request (the client left); the slot may have been handed
            # over in the same moment, and then goes on to the next in line
            if waiter.done() and not waiter.cancelled():
                self._release()
            else:
                waiter.cancel()
            if isinstance(exc, TimeoutError):
                raise Busy(
                    f"waited {self.wait_s:g} s for one of {self.slots} compute slots "
                    "(compute_wait_s); the server is overloaded, retry shortly",
                    retry_after=RETRY_AFTER_S,
                ) from None
            raise
        finally:
            try:
                self._waiters.remove(waiter)
            except ValueError:
                pass  # taken off the queue by `_release`

    def _release(self) -> None:
        """Hands the slot to the first caller still waiting, or frees it."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1

"""The HTTP server of `leadgraph serve`: uvicorn over the app, with a deadline on reading every
request and a cap on the size of its headers.

uvicorn times out only a kept-alive connection that stays idle after a response
(`timeout_keep_alive`). A connection that never sends a request, headers that never end and a
body shorter than its `Content-Length` are waited on for ever, and headers may be of any size;
every such connection holds a descriptor and memory, so a few hundred slow clients hold the
server. `DeadlineProtocol` is uvicorn's httptools protocol with three rules more:

- a request's line and headers must arrive within `header_timeout_s`, counted from the opening
  of the connection or from its first byte after a kept-alive pause: else 408, or a plain close
  when nothing of a request arrived;
- its body must arrive within `body_timeout_s` of the end of its headers, whether the app reads
  it or not: else 408 when no answer has started, and the connection is closed;
- a request line and headers of more than `max_header_bytes` are refused with 431, whether
  they arrive in one read or trickle in without ending.

Refusals carry the one error body of `app.errors` and `Connection: close`. This lives in the
protocol rather than in an ASGI middleware because the app sees neither a request whose headers
are incomplete nor the rest of a body it does not read.
"""

from __future__ import annotations

import asyncio
from enum import Enum
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from .config import Settings
from .errors import ErrorBody


class _Reading(Enum):
    IDLE = "idle"  # between requests: nothing of the next one parsed yet
    HEADERS = "headers"  # a request line has begun, its headers have not ended
    BODY = "body"  # headers ended, the body has not


class DeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the deadlines and the header cap of the module
    docstring; `protocol_for(settings)` gives a subclass with the configured values."""

    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    max_header_bytes: int = 64 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._reading = _Reading.IDLE
        self._deadline: asyncio.TimerHandle | None = None
        self._header_bytes = 0
        self._parsed_header_bytes = 0
        self._completed_in_read = False

    # --- connection -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self._arm(self.header_timeout_s, self._headers_late)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._reading is _Reading.IDLE and self._deadline is None:
            # the first byte after a kept-alive pause starts the clock of the next request
            self._arm(self.header_timeout_s, self._headers_late)
        self._completed_in_read = False
        super().data_received(data)
        if self._reading is not _Reading.HEADERS or self.transport.is_closing():
            return
        # a read that also ended the previous request holds some of its bytes: not counted, so
        # the cap is reached at most one read late, never early
        if not self._completed_in_read:
            self._header_bytes += len(data)
        if self._header_bytes > self.max_header_bytes:
            self._headers_too_large()

    # --- parser callbacks -------------------------------------------------------------------
    # After a refusal the parser still goes through the rest of the read it was given: its
    # callbacks are then ignored, so no request of a refused connection reaches the app.

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading = _Reading.HEADERS
        self._header_bytes = 0
        self._parsed_header_bytes = 0
        if self._deadline is None:
            self._arm(self.header_timeout_s, self._headers_late)

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self._measure_headers(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self._measure_headers(len(name) + len(value) + 4)  # ": " and CRLF

    def on_headers_complete(self) -> None:
        if self.transport.is_closing():
            return
        self._reading = _Reading.BODY
        self._arm(self.body_timeout_s, self._body_late)
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self.transport.is_closing():
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self.transport.is_closing():
            return
        self._reading = _Reading.IDLE
        self._completed_in_read = True
        self._disarm()
        super().on_message_complete()

    # --- header cap -------------------------------------------------------------------------

    def _measure_headers(self, size: int) -> None:
        # headers that end within the read that brought them are never seen incomplete by
        # `data_received`: what the parser has taken of them is measured here
        self._parsed_header_bytes += size
        if self._parsed_header_bytes > self.max_header_bytes and not self.transport.is_closing():
            self._headers_too_large()

    def _headers_too_large(self) -> None:
        self._refuse(
            431,
            "headers_too_large",
            f"request line and headers: more than {self.max_header_bytes} bytes "
            "(max_header_bytes, LEADGRAPH_MAX_HEADER_BYTES)",
        )

    # --- deadlines --------------------------------------------------------------------------

    def _arm(self, seconds: float, handler: Any) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, handler)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _answering(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def _headers_late(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._answering():
            # a pipelined request waits behind the answer to the one before it: its clock
            # starts again once that answer is sent
            self._arm(self.header_timeout_s, self._headers_late)
        elif self._reading is _Reading.HEADERS:
            self._refuse(
                408,
                "request_timeout",
                f"request headers: not complete within {self.header_timeout_s:g} s "
                "(header_timeout_s, LEADGRAPH_HEADER_TIMEOUT_S)",
            )
        else:
            self.transport.close()  # connected and sent nothing: nobody to answer

    def _body_late(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_started:
            self._refuse(
                408,
                "request_timeout",
                f"request body: not complete within {self.body_timeout_s:g} s of its headers "
                "(body_timeout_s, LEADGRAPH_BODY_TIMEOUT_S)",
            )
        else:
            # answered (or answering) without the rest of the body: the connection cannot be
            # reused, as the next request would start inside this body
            self.transport.close()

    def _refuse(self, status: int, code: str, detail: str) -> None:
        """Answers `status` with the error body, unless an answer is under way, and closes."""
        if not self._answering() or not self.cycle.response_started:
            body = ErrorBody(error=code, detail=detail).model_dump_json().encode()
            head = [STATUS_LINE[status]]
            for name, value in self.server_state.default_headers:
                head += [name, b": ", value, b"\r\n"]
            head += [
                b"content-type: application/json\r\n",
                b"content-length: %d\r\n" % len(body),
                b"connection: close\r\n\r\n",
            ]
            self.transport.write(b"".join(head) + body)
        if self._answering():
            # the app's answer, if one still comes, is dropped, and a receive() it is waiting
            # on returns http.disconnect
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self.transport.close()


def protocol_for(settings: Settings) -> type[DeadlineProtocol]:
    """`DeadlineProtocol` with the timeouts and the header cap of `settings`."""
    return type(
        "LeadgraphHTTPProtocol",
        (DeadlineProtocol,),
        {
            "header_timeout_s": settings.header_timeout_s,
            "body_timeout_s": settings.body_timeout_s,
            "max_header_bytes": settings.max_header_bytes,
        },
    )


def run(app: FastAPI, settings: Settings, *, log_level: str) -> None:
    """Serves `app` on the host and port of `settings` until interrupted (uvicorn exits 3 when
    it cannot start, e.g. the port is taken)."""
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        http=protocol_for(settings),
        # no endpoint speaks WebSocket: an Upgrade request is answered as plain HTTP, under the
        # deadlines above, rather than handed to a protocol without them
        ws="none",
        timeout_keep_alive=settings.keep_alive_s,
        # X-Forwarded-For/-Proto are believed only from these addresses (a local reverse proxy)
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )

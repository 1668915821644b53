"""The read deadlines and the header cap of `app.server` against raw sockets on 127.0.0.1.

The server is configured by `app.server.run` itself (its call to `uvicorn.run` is captured and
replayed on a `uvicorn.Server` in a thread), so these tests cover the wiring of `leadgraph
serve` as well as `DeadlineProtocol`. Timing asserts are one-sided and generous: "closed within
10 s" of a 1 s deadline, never "within 1.1 s".
"""

from __future__ import annotations

import json
import selectors
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from leadgraph.app import server
from leadgraph.app.config import Settings
from leadgraph.app.main import create_app
from leadgraph.indexer.build import build_index
from tests.conftest import CORPUS
from tests.fakes import HashingEmbedder
from tests.serving import free_port

pytestmark = pytest.mark.server

DEADLINE_S = 1.0  # header_timeout_s and body_timeout_s of the server under test
KEEP_ALIVE_S = 1  # below uvicorn's default (5 s), so the wiring of keep_alive_s shows
MAX_HEADER_BYTES = 4096
WITHIN_S = 10.0  # "never waits forever": how long a test waits for what a deadline promises


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("deadlines") / "index"
    build_index([CORPUS], root, embedder=HashingEmbedder())
    return root


def _run_config(app: Any, settings: Settings) -> dict[str, Any]:
    """The keyword arguments `app.server.run` gives `uvicorn.run`."""
    captured: dict[str, Any] = {}

    def fake_run(target: Any, **kwargs: Any) -> None:
        assert target is app
        captured.update(kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(uvicorn, "run", fake_run)
        server.run(app, settings, log_level="warning")
    return captured


@contextmanager
def serving(index: Path) -> Iterator[int]:
    """The port of a server started as `leadgraph serve` starts it, stopped on the way out."""
    settings = Settings(
        index=index,
        host="127.0.0.1",
        port=free_port(),
        index_watch_s=0,
        header_timeout_s=DEADLINE_S,
        body_timeout_s=DEADLINE_S,
        keep_alive_s=KEEP_ALIVE_S,
        max_header_bytes=MAX_HEADER_BYTES,
    )
    app = create_app(settings, embedder=HashingEmbedder())
    instance = uvicorn.Server(uvicorn.Config(app, **_run_config(app, settings)))
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not instance.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield settings.port
    finally:
        instance.should_exit = True
        thread.join(timeout=15)
        if thread.is_alive():
            instance.force_exit = True
            thread.join(timeout=15)


@pytest.fixture
def port(index: Path) -> Iterator[int]:
    with serving(index) as bound:
        yield bound


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=WITHIN_S)


def _until_closed(sock: socket.socket, within: float = WITHIN_S) -> tuple[bytes, float | None]:
    """What the server sends until it closes the connection, and the seconds that took (None
    when it was still open after `within`)."""
    start = time.monotonic()
    received = b""
    while True:
        left = within - (time.monotonic() - start)
        if left <= 0:
            return received, None
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            return received, None
        except ConnectionResetError:
            return received, time.monotonic() - start
        if not chunk:
            return received, time.monotonic() - start
        received += chunk


def _trickle(sock: socket.socket, data: bytes) -> None:
    """Sends `data` a byte every fifth of a deadline, until the server answers or closes the
    connection, or WITHIN_S has passed."""
    start = time.monotonic()
    for byte in data:
        sock.settimeout(0)
        try:
            sock.recv(1, socket.MSG_PEEK)
            return  # answered or closed: the caller reads which
        except BlockingIOError:
            pass  # nothing from the server yet
        except ConnectionResetError:
            return
        finally:
            sock.settimeout(WITHIN_S)
        try:
            sock.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            return
        if time.monotonic() - start > WITHIN_S:
            return
        time.sleep(DEADLINE_S / 5)


def _parse(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Status, lower-cased headers and body of one HTTP response."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


def _response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Reads exactly one response (with a Content-Length) from a kept-alive connection."""
    raw = b""
    while b"\r\n\r\n" not in raw:
        chunk = sock.recv(65536)
        assert chunk, f"closed before a response: {raw!r}"
        raw += chunk
    status, headers, body = _parse(raw)
    while len(body) < int(headers["content-length"]):
        chunk = sock.recv(65536)
        assert chunk, "closed inside a response body"
        body += chunk
    return status, headers, body


def _assert_refused(raw: bytes, status: int, code: str) -> dict[str, Any]:
    got, headers, body = _parse(raw)
    assert got == status, raw
    assert headers["connection"] == "close"
    assert headers["content-type"] == "application/json"
    error: dict[str, Any] = json.loads(body)
    assert error["error"] == code and error["detail"]
    return error


GET_HEALTH = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def test_connection_that_sends_nothing_is_closed(port: int) -> None:
    start = time.monotonic()
    with _connect(port) as sock:
        received, closed_after = _until_closed(sock)
    assert closed_after is not None, f"still open {WITHIN_S:g} s after connecting"
    assert received == b""  # nothing of a request: nobody to answer
    assert time.monotonic() - start >= DEADLINE_S * 0.9


def test_incomplete_headers_get_408(port: int) -> None:
    with _connect(port) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Partial: yes")
        received, closed_after = _until_closed(sock)
    assert closed_after is not None, "incomplete headers waited on for ever"
    error = _assert_refused(received, 408, "request_timeout")
    assert "header_timeout_s" in error["detail"]


def test_headers_trickled_byte_by_byte_get_408(port: int) -> None:
    # each byte arrives well within the deadline: the clock runs from the first one, so a
    # client cannot hold the connection by never quite stopping
    with _connect(port) as sock:
        _trickle(sock, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 1000)
        received, closed_after = _until_closed(sock, within=1.0)
    assert closed_after is not None, "a trickling client held the connection"
    _assert_refused(received, 408, "request_timeout")


def test_body_shorter_than_content_length_gets_408(port: int) -> None:
    with _connect(port) as sock:
        sock.sendall(
            b"POST /ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n" + b'{"questio'  # 10 of the 100 bytes announced
        )
        received, closed_after = _until_closed(sock)
    assert closed_after is not None, "a body shorter than its Content-Length waited for ever"
    # /ask reads the body before answering: no answer has begun, so the client is told
    error = _assert_refused(received, 408, "request_timeout")
    assert "body_timeout_s" in error["detail"]


def test_unread_short_body_closes_the_connection_after_the_answer(port: int) -> None:
    # answered without its body (405): the connection cannot serve another request, since the
    # next one would start inside the announced body, and is closed even while bytes of that
    # body keep trickling in (each of which would put off an idle timeout)
    with _connect(port) as sock:
        sock.sendall(b"POST /health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\nxx")
        status, _, _ = _response(sock)
        _trickle(sock, b"x" * 98)
        received, closed_after = _until_closed(sock, within=1.0)
    assert status == 405
    assert closed_after is not None, "a trickled body held the connection after its answer"
    assert received == b""


@pytest.mark.parametrize("pieces", [1, 8], ids=["one-write", "eight-writes"])
def test_headers_over_max_header_bytes_get_431(port: int, pieces: int) -> None:
    request = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 3 * MAX_HEADER_BYTES
    request += b"\r\n\r\n"
    with _connect(port) as sock:
        step = -(-len(request) // pieces)
        try:
            for at in range(0, len(request), step):
                sock.sendall(request[at : at + step])
                time.sleep(0.02)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before the last piece
        received, closed_after = _until_closed(sock)
    assert closed_after is not None
    error = _assert_refused(received, 431, "headers_too_large")
    assert "max_header_bytes" in error["detail"]


def test_headers_under_max_header_bytes_are_served(port: int) -> None:
    with _connect(port) as sock:
        sock.sendall(
            b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: "
            + b"a" * (MAX_HEADER_BYTES - 200)
            + b"\r\n\r\n"
        )
        status, _, body = _response(sock)
    assert status == 200 and json.loads(body) == {"status": "ok"}


def test_keep_alive_client_is_served_then_held_to_the_deadline(port: int) -> None:
    with _connect(port) as sock:
        # longer in all than a deadline, each pause shorter than the keep-alive: the header
        # clock starts again at each request's first byte
        for _ in range(5):
            sock.sendall(GET_HEALTH)
            status, headers, body = _response(sock)
            assert status == 200 and json.loads(body) == {"status": "ok"}
            assert headers.get("connection") != "close"
            time.sleep(KEEP_ALIVE_S * 0.3)
        # a request split by a pause shorter than the deadline is served too
        sock.sendall(GET_HEALTH[:10])
        time.sleep(DEADLINE_S * 0.3)
        sock.sendall(GET_HEALTH[10:])
        assert _response(sock)[0] == 200
        # the next request begins and stalls: its own deadline applies
        sock.sendall(b"GET /health HTTP/1.1\r\n")
        received, closed_after = _until_closed(sock)
    assert closed_after is not None, "a stalled request on a kept-alive connection held it"
    _assert_refused(received, 408, "request_timeout")


def test_idle_kept_alive_connection_is_closed_after_keep_alive_s(port: int) -> None:
    with _connect(port) as sock:
        sock.sendall(GET_HEALTH)
        assert _response(sock)[0] == 200
        idle_from = time.monotonic()
        received, closed_after = _until_closed(sock)
    assert closed_after is not None and received == b""
    # keep_alive_s reaches uvicorn: its own default would keep the connection 5 s
    assert KEEP_ALIVE_S * 0.9 <= time.monotonic() - idle_from < 4.0


def test_300_slow_clients_are_dropped_while_health_answers(port: int) -> None:
    clients = [_connect(port) for _ in range(300)]
    try:
        for sock in clients:
            sock.sendall(b"G")  # one byte of a request line, then silence
            sock.setblocking(False)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5.0) as client:
            # while all 300 are held, before their deadline
            answered = client.get("/health")
            assert answered.status_code == 200
            open_ = set(clients)
            deadline = time.monotonic() + DEADLINE_S + WITHIN_S
            with selectors.DefaultSelector() as selector:
                for sock in clients:
                    selector.register(sock, selectors.EVENT_READ, sock)
                while open_ and time.monotonic() < deadline:
                    for key, _ in selector.select(timeout=0.5):
                        ready: socket.socket = key.data
                        try:
                            if ready.recv(65536):
                                continue  # the 408; the close follows
                        except ConnectionResetError:
                            pass
                        except BlockingIOError:
                            continue
                        selector.unregister(ready)
                        open_.discard(ready)
            assert not open_, f"{len(open_)} of 300 slow clients still connected"
            # and the server still serves once they are gone
            assert client.get("/health").status_code == 200
    finally:
        for sock in clients:
            sock.close()

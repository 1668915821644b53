"""`leadgraph serve` in a subprocess on 127.0.0.1, for the tests that talk to a real server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT

LEADGRAPH = Path(sys.executable).parent / "leadgraph"
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
READY_WITHIN_S = 180.0  # a first start may build the bundled corpus's index


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def started(
    index: Path, log_path: Path, *args: str, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Starts `leadgraph serve --index INDEX ARGS...` on a free port of 127.0.0.1 and yields the
    process and its base URL at once, without waiting for it. Stopped on the way out (SIGTERM,
    then SIGKILL) if still running."""
    port = free_port()
    command = [str(LEADGRAPH), "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--index", str(index), *args]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env={**ENV, **(env or {})}, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        yield process, f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def serving(
    index: Path, log_path: Path, *args: str, env: dict[str, str] | None = None
) -> Iterator[str]:
    """`started`, yielding the base URL once `/ready` answers 200; the test fails with the
    log's tail if the server exits or is not ready in time."""
    with started(index, log_path, *args, env=env) as (process, base):
        wait_ready(base, process, log_path)
        yield base


def wait_ready(base: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + READY_WITHIN_S
    while True:
        if process.poll() is not None:
            pytest.fail(f"leadgraph serve exited with {process.returncode}:\n{_tail(log_path)}")
        try:
            if httpx.get(f"{base}/ready", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"/ready not 200 after {READY_WITHIN_S:g} s:\n{_tail(log_path)}")
        time.sleep(0.25)


def _tail(log_path: Path) -> str:
    return log_path.read_text(errors="replace")[-3000:]

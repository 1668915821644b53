"""What the benchmarks that measure in fresh child processes share: running a child and reading
its figures, and this process's resident memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def run_child(module: str, args: list[str], what: str) -> Any:
    """`python -m module ARGS` from the project root, and the JSON of the last line it printed;
    SystemExit naming `what` with the child's stderr if it failed."""
    done = subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, cwd=ROOT, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{what} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def rss() -> int:
    """Bytes of this process resident in memory."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

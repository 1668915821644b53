"""The built distribution: one top-level package, `leadgraph`, that indexes and serves on its own.

The repository keeps `app/`, `indexer/` and `ontology/` at its top; `pyproject.toml` maps them
under `leadgraph`. A wheel built from the tree must hold them there and nothing beside them, and
a copy installed away from the repository must find its ontology and static files inside itself.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.conftest import CORPUS, ROOT
from tests.serving import ENV, free_port, wait_ready

PACKAGES = ("app", "indexer")  # the folders of Python code mapped under leadgraph


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
        + ["-w", str(folder), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (path,) = folder.glob("leadgraph-*.whl")
    return path


def _names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def test_wheel_holds_only_the_leadgraph_package(wheel: Path) -> None:
    tops = {name.split("/", 1)[0] for name in _names(wheel)}
    (info,) = {top for top in tops if top.endswith(".dist-info")}
    assert info.startswith("leadgraph-")
    assert tops - {info} == {"leadgraph"}


def test_wheel_holds_every_module_and_data_file_of_the_tree(wheel: Path) -> None:
    names = _names(wheel)
    expected = {"leadgraph/__init__.py"}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                expected.add(f"leadgraph/{path.relative_to(ROOT).as_posix()}")
    expected |= {f"leadgraph/ontology/{p.name}" for p in (ROOT / "ontology").glob("*.ttl")}
    assert expected - names == set()


def test_console_script_names_the_package_module(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        (entry_points,) = [n for n in archive.namelist() if n.endswith("entry_points.txt")]
        text = archive.read(entry_points).decode()
    assert "leadgraph = leadgraph.app.cli:main" in text


@pytest.mark.server
@pytest.mark.model
def test_installed_wheel_indexes_and_serves_away_from_the_tree(
    wheel: Path, tmp_path: Path
) -> None:
    """Installed into a folder of its own (its dependencies from this environment), run from a
    folder outside the repository: `leadgraph index` finds the ontology the wheel carries and
    `leadgraph serve` answers a search."""
    target = tmp_path / "site"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target)]
        + [str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stderr[-2000:]
    away = tmp_path / "elsewhere"
    away.mkdir()
    env = {**ENV, "PYTHONPATH": str(target)}
    cli = [sys.executable, "-c", "from leadgraph.app.cli import main; main()"]

    where = subprocess.run(
        [sys.executable, "-c", "import leadgraph.app, leadgraph.indexer.ontology as o;"
         "print(leadgraph.app.__file__); print(o.ONTOLOGY_DIR)"],
        cwd=away, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert where.returncode == 0, where.stderr
    module, ontology = where.stdout.split()
    assert Path(module).is_relative_to(target)
    assert Path(ontology) == target / "leadgraph" / "ontology"

    index = tmp_path / "index"
    built = subprocess.run(
        [*cli, "index", str(CORPUS), "--out", str(index), "--quiet"],
        cwd=away, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]

    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [*cli, "serve", "--host", "127.0.0.1", "--port", str(port), "--index", str(index)],
        cwd=away, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, server, tmp_path / "serve.log")
        found = httpx.get(f"{base}/search", params={"q": "trust", "k": 3}, timeout=30)
        assert found.status_code == 200
        assert found.json()["hits"]
        page = httpx.get(f"{base}/", timeout=30)  # the concept browser: static files inside
        assert page.status_code == 200
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


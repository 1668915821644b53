"""The load script runs, so it cannot rot: a couple of seconds of bench.load through the app in
process (fake embedder), with and without index swaps; every request must succeed."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import httpx
import pytest

from bench import load
from leadgraph.app.config import Settings
from leadgraph.app.main import create_app
from leadgraph.indexer.build import build_index
from tests.conftest import CORPUS
from tests.fakes import HashingEmbedder

TOKEN = "smoke-admin-token-0123456789abcdef"


def _run_load(settings: Settings, **options: object) -> load.LoadReport:
    app = create_app(settings, embedder=HashingEmbedder())

    async def go() -> load.LoadReport:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                return await load.run(client, **options)  # type: ignore[arg-type]

    return asyncio.run(go())


def test_load_mixes_the_endpoints_and_reports_percentiles(api_index: Path) -> None:
    report = _run_load(Settings(index=api_index), clients=4, duration=2.0)
    assert set(report.endpoints) == {"search", "concepts", "ask", "sparql"}
    for name, stats in report.endpoints.items():
        assert len(stats.latencies) > 0, name
        assert stats.errors == 0, (name, stats.statuses)
        assert stats.percentile(50) <= stats.percentile(95) <= stats.percentile(99)
    text = load.format_report(report)
    assert "/search" in text and "p99 ms" in text
    assert report.duration >= 2.0


def test_load_with_swaps_updates_the_index_without_failed_reads(tmp_path: Path) -> None:
    shutil.copytree(CORPUS, tmp_path / "corpus")
    build_index([tmp_path / "corpus"], tmp_path / "index", embedder=HashingEmbedder())
    settings = Settings(
        index=tmp_path / "index", corpus=tmp_path / "corpus", admin_token=TOKEN, index_watch_s=0
    )
    report = _run_load(
        settings,
        clients=2,
        duration=2.5,
        endpoints=["search"],
        swap_every=0.5,
        admin_token=TOKEN,
    )
    assert report.swaps is not None
    assert len(report.swaps.latencies) >= 1  # a rebuild takes seconds on a busy machine
    assert report.swaps.errors == 0, report.swaps.statuses
    assert report.errors == 0, report.endpoints["search"].statuses
    # the probe was deleted at the end: the corpus is as it was
    assert sorted(p.name for p in (tmp_path / "corpus").iterdir()) == sorted(
        p.name for p in CORPUS.iterdir()
    )


def test_the_command_line_checks_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        load.main(["--url", "http://127.0.0.1:9", "--endpoints", "search,nope"])
    assert "--endpoints" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        load.main(["--url", "http://127.0.0.1:9", "--swap-every", "5"])
    assert "--admin-token" in capsys.readouterr().err

"""Schemathesis over the app's own /openapi.json, in process (fake embedder): every operation, its
documented examples and a bounded number of generated requests, fitting and breaking the schema;
no 5xx, and every response as documented. `python -m bench.fuzz` runs more against a server."""

from __future__ import annotations

from pathlib import Path

import schemathesis

from bench.fuzz import fuzz
from leadgraph.app.config import Settings
from leadgraph.app.main import create_app
from tests.fakes import HashingEmbedder

EXAMPLES = 25  # per operation and mode; derandomized, so CI sends the same requests every run


def test_every_operation_answers_as_documented(api_index: Path) -> None:
    # admin off whatever the environment says: generated requests must change nothing
    settings = Settings(index=api_index, admin_token=None)
    app = create_app(settings, embedder=HashingEmbedder())
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    report = fuzz(schema, examples=EXAMPLES, derandomize=True)
    print(f"{report.total} cases over {len(report.cases)} operations")
    assert len(report.cases) >= 12, sorted(report.cases)
    assert report.total > 12 * EXAMPLES
    assert not report.failures, "\n".join(str(f) for f in report.failures)

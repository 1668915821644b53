"""The `leadgraph` command line, run as a user would (console script in a subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CORPUS, ROOT

LEADGRAPH = Path(sys.executable).parent / "leadgraph"


def _run(
    *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    return subprocess.run(
        [str(LEADGRAPH), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_help_lists_the_subcommands() -> None:
    result = _run("--help")
    assert result.returncode == 0
    for command in ("index", "validate", "serve"):
        assert command in result.stdout


def test_validate_reports_that_the_shipped_ontology_conforms() -> None:
    result = _run("validate")
    assert result.returncode == 0, result.stderr
    assert "conforms" in result.stdout


def test_validate_exits_1_with_messages_for_a_broken_ontology(tmp_path: Path) -> None:
    broken = tmp_path / "broken.ttl"
    broken.write_text(
        "@prefix skos: <http://www.w3.org/2004/02/skos/core#> .\n"
        "<https://leadgraph.dev/concept/X> a skos:Concept ;\n"
        "    skos:inScheme <https://leadgraph.dev/concept/scheme> .\n",
        encoding="utf-8",
    )
    result = _run("validate", "--ontology", str(broken))
    assert result.returncode == 1
    assert "violation" in result.stderr


@pytest.mark.model
def test_index_builds_and_prints_counts_and_time(tmp_path: Path) -> None:
    out = tmp_path / "index"
    result = _run("index", str(CORPUS), "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    assert "3 documents" in result.stdout and "passages" in result.stdout
    assert "published" in result.stdout
    records = (out / "current" / "documents.jsonl").read_text(encoding="utf-8")
    assert '"path": "synergy-of-success.md"' in records  # inside the folder given, not absolute
    assert str(CORPUS) not in records
    check = _run("validate", "--index", str(out))
    assert check.returncode == 0, check.stderr
    assert "match their checksums" in check.stdout


@pytest.mark.model
def test_index_stops_with_file_and_line_on_bad_input(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "bad.md").write_text("---\nid: ok\ntitle: [unclosed\n---\nbody\n", encoding="utf-8")
    out = tmp_path / "index"
    result = _run("index", str(corpus), "--out", str(out), "--quiet")
    assert result.returncode == 2
    assert "bad.md:3" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (out / "current").exists()


def test_index_names_a_missing_path(tmp_path: Path) -> None:
    result = _run("index", str(tmp_path / "missing"), "--out", str(tmp_path / "i"), "--quiet")
    assert result.returncode == 2
    assert "missing" in result.stderr and "Traceback" not in result.stderr


def test_a_bad_setting_exits_2_with_one_line_naming_it(tmp_path: Path) -> None:
    result = _run("serve", "--index", str(tmp_path / "index"), env={"LEADGRAPH_MAX_K": "many"})
    assert result.returncode == 2
    assert "max_k" in result.stderr and "Traceback" not in result.stderr

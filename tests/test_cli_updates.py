"""`leadgraph add / remove / reindex`: what they print, what they change, their exit codes.

Run in-process through click's runner with the fake embedder in place of the model (the
commands load the model by name; loading the real one is covered by the server tests)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from leadgraph.app import cli
from leadgraph.app.services.admin import update_lock
from leadgraph.indexer import embedder as embedder_module
from leadgraph.indexer.build import build_index
from leadgraph.indexer.store import load_index, resolve_version
from tests.conftest import CORPUS
from tests.fakes import HashingEmbedder

ARTICLE = """---
title: Servant Leadership
---
A servant leader puts the growth of the team first and listens before deciding.
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli-updates")
    shutil.copytree(CORPUS, folder / "corpus")
    build_index([folder / "corpus"], folder / "index", embedder=HashingEmbedder())
    return folder


@pytest.fixture
def site(built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(built / "corpus", tmp_path / "corpus")
    shutil.copytree(built / "index", tmp_path / "index", symlinks=True)
    monkeypatch.setattr(
        embedder_module, "SentenceTransformerEmbedder", lambda model: HashingEmbedder()
    )
    return tmp_path


def run(site: Path, *args: str) -> Result:
    options = ["--index", str(site / "index"), "--corpus", str(site / "corpus")]
    return CliRunner().invoke(cli.main, [*args, *options])


def test_help_lists_the_update_commands() -> None:
    result = CliRunner().invoke(cli.main, ["--help"])
    for command in ("add", "remove", "reindex"):
        assert command in result.output


def test_add_copies_the_article_into_the_corpus_and_publishes_it(site: Path) -> None:
    article = site / "Servant Leadership.md"
    article.write_text(ARTICLE, encoding="utf-8")
    before = resolve_version(site / "index")

    result = run(site, "add", str(article))

    assert result.exit_code == 0, result.output
    assert result.output.startswith("created servant-leadership: published v")
    assert "4 documents" in result.output and "reused" in result.output
    assert (site / "corpus" / "servant-leadership.md").read_text(encoding="utf-8") == ARTICLE
    index = load_index(site / "index")
    assert "servant-leadership" in index.documents and index.path != before
    assert index.documents["servant-leadership"].path == "servant-leadership.md"

    again = run(site, "add", str(article))
    assert again.exit_code == 0, again.output
    assert again.output.startswith("replaced servant-leadership")
    assert "embedded 0 passages" in again.output


def test_add_refuses_a_bad_article_with_file_and_line_and_changes_nothing(site: Path) -> None:
    article = site / "bad.md"
    article.write_text("---\nid: bad\nkind: blog\n---\nbody\n", encoding="utf-8")
    before = resolve_version(site / "index")
    result = run(site, "add", str(article))
    assert result.exit_code == 2
    assert "bad.md:3: invalid kind" in result.output
    assert not (site / "corpus" / "bad.md").exists()
    assert resolve_version(site / "index") == before


def test_add_takes_only_markdown_or_text(site: Path) -> None:
    records = site / "records.jsonl"
    records.write_text('{"_id": "r1", "text": "t"}\n', encoding="utf-8")
    result = run(site, "add", str(records))
    assert result.exit_code == 2 and ".md or .txt" in result.output


def test_remove_deletes_the_document_and_publishes(site: Path) -> None:
    result = run(site, "remove", "synergy-of-success")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("deleted synergy-of-success")
    assert not (site / "corpus" / "synergy-of-success.md").exists()
    assert "synergy-of-success" not in load_index(site / "index").documents


def test_remove_of_an_unknown_id_exits_2(site: Path) -> None:
    result = run(site, "remove", "no-such-document")
    assert result.exit_code == 2
    assert "no document 'no-such-document'" in result.output


def test_reindex_reuses_every_vector_of_an_unchanged_corpus(site: Path) -> None:
    result = run(site, "reindex")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("reindexed: published v")
    assert "embedded 0 passages" in result.output


def test_an_update_while_another_runs_exits_3(site: Path) -> None:
    with update_lock(site / "index"):
        result = run(site, "reindex")
    assert result.exit_code == 3
    assert "another update" in result.output


def test_a_corpus_that_is_not_a_folder_exits_2(site: Path) -> None:
    result = CliRunner().invoke(
        cli.main, ["reindex", "--index", str(site / "index"), "--corpus", str(site / "nowhere")]
    )
    assert result.exit_code == 2
    assert "not a folder" in result.output

"""A folder that cannot be written: the corpus or the index read-only, or the disk full, at each
step an update writes (the corpus file, the index build, the publish). Every one answers 503
`storage_unavailable` naming the folder by its name (never an absolute path), and changes
nothing: the corpus as it was, the same version published, nothing left behind.

Tests run as root here, and root ignores permission bits, so `chmod` cannot make a folder
read-only: `FailingWrites` makes the system calls that write under one folder fail with the
errno the kernel gives (EROFS, EACCES, ENOSPC). `test_real_read_only_and_full_folders_*` checks
the same through the CLI against a real read-only bind mount and a real full tmpfs, where the
machine allows an unprivileged user namespace."""

from __future__ import annotations

import builtins
import errno
import io
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import faiss
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from leadgraph.app import cli
from leadgraph.app.config import Settings
from leadgraph.app.main import create_app
from leadgraph.indexer import embedder as embedder_module
from leadgraph.indexer.build import build_index
from leadgraph.indexer.errors import StorageError
from leadgraph.indexer.store import resolve_version
from tests.api.test_errors import assert_error_body
from tests.conftest import CORPUS, ROOT
from tests.fakes import HashingEmbedder

TOKEN = "storage-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MARKDOWN = {"Content-Type": "text/markdown; charset=utf-8"}
ARTICLE = """---
id: servant-leadership
title: Servant Leadership
---
# Servant Leadership

A servant leader puts the growth of the team first and listens before deciding.
"""
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _fd_path(fd: int) -> str:
    return os.readlink(f"/proc/self/fd/{fd}")


class _FullFile:
    """A file opened for writing on a full disk: it exists, and every write fails."""

    def __init__(self, handle: Any, path: str) -> None:
        self._handle = handle
        self._path = path

    def _full(self, *args: object, **kwargs: object) -> Any:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self._path)

    write = writelines = _full

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)

    def __enter__(self) -> _FullFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._handle)


class FailingWrites:
    """Makes the system calls that write under `folder` fail with `code`: EROFS or EACCES for
    everything that creates, renames or removes a name or opens a file for writing; ENOSPC for
    what takes space (a file's bytes, a new folder or symlink), files then created empty.
    FAISS writes with its own fopen, so its `write_index` fails as FAISS does on a full disk."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, folder: Path, code: int) -> None:
        self.folder = str(folder.resolve())
        self.code = code
        self.failures: list[str] = []
        real_open, real_os_open = builtins.open, os.open

        def fails(path: object, dir_fd: int | None = None) -> str | None:
            if isinstance(path, int):
                return None
            name = os.fsdecode(os.fspath(path))  # type: ignore[arg-type]
            if dir_fd is not None and not os.path.isabs(name):
                name = os.path.join(_fd_path(dir_fd), name)
            name = os.path.realpath(name)
            inside = name == self.folder or name.startswith(self.folder + os.sep)
            return name if inside else None

        def error(name: str) -> OSError:
            self.failures.append(name)
            return OSError(code, os.strerror(code), name)

        def guarded(real: Callable[..., Any], takes_space: bool) -> Callable[..., Any]:
            def call(*args: Any, **kwargs: Any) -> Any:
                made = args[0] if real is os.mkdir else args[1] if len(args) > 1 else None
                if takes_space and isinstance(made, str | os.PathLike) and os.path.lexists(made):
                    return real(*args, **kwargs)  # EEXIST, as the kernel says even when full
                if code != errno.ENOSPC or takes_space:
                    for index, arg in enumerate(args[:2]):
                        where = kwargs.get("dst_dir_fd" if index else "src_dir_fd")
                        name = fails(arg, kwargs.get("dir_fd", where))
                        if name is not None:
                            raise error(name)
                return real(*args, **kwargs)

            return call

        def opening(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            name = fails(file) if any(c in mode for c in "wax+") else None
            if name is None:
                return real_open(file, mode, *args, **kwargs)
            if code != errno.ENOSPC:
                raise error(name)
            self.failures.append(name)
            return _FullFile(real_open(file, mode, *args, **kwargs), name)

        def os_opening(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
            name = fails(path, kwargs.get("dir_fd")) if flags & _WRITE_FLAGS else None
            if name is not None and code != errno.ENOSPC:
                raise error(name)
            return real_os_open(path, flags, *args, **kwargs)

        def sendfile(out_fd: int, in_fd: int, *args: Any) -> int:  # shutil.copy2's fast path
            name = fails(_fd_path(out_fd))
            if name is not None:
                raise error(name)
            return real_sendfile(out_fd, in_fd, *args)

        def write_index(index: Any, path: str) -> None:
            name = fails(path)
            if name is not None:
                self.failures.append(name)
                reason = os.strerror(code)
                raise RuntimeError(
                    f"Error in void faiss::write_index: 'ret == (size * 4)' failed: write "
                    f"error in {path}: 0 != 512 ({reason})"
                )
            real_write_index(index, path)

        real_sendfile, real_write_index = os.sendfile, faiss.write_index
        monkeypatch.setattr(builtins, "open", opening)
        monkeypatch.setattr(io, "open", opening)
        monkeypatch.setattr(os, "open", os_opening)
        monkeypatch.setattr(os, "sendfile", sendfile)
        monkeypatch.setattr(faiss, "write_index", write_index)
        for name, takes_space in [
            ("mkdir", True),
            ("symlink", True),
            ("link", True),
            ("replace", False),
            ("rename", False),
            ("unlink", False),
            ("remove", False),
            ("rmdir", False),
        ]:
            monkeypatch.setattr(os, name, guarded(getattr(os, name), takes_space))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("storage")
    shutil.copytree(CORPUS, folder / "corpus")
    build_index([folder / "corpus"], folder / "index", embedder=HashingEmbedder())
    return folder


@pytest.fixture
def site(built: Path, tmp_path: Path) -> Path:
    shutil.copytree(built / "corpus", tmp_path / "corpus")
    shutil.copytree(built / "index", tmp_path / "index", symlinks=True)
    return tmp_path


@pytest.fixture
def client(site: Path) -> Iterator[TestClient]:
    settings = Settings(
        index=site / "index",
        corpus=site / "corpus",
        admin_token=TOKEN,  # type: ignore[arg-type]
        index_watch_s=0,
    )
    with TestClient(create_app(settings, embedder=HashingEmbedder())) as test_client:
        yield test_client


def state_of(site: Path) -> tuple[dict[str, bytes], str, list[str]]:
    """The corpus files, the published version and every name in the index folder."""
    corpus = {
        p.relative_to(site).as_posix(): p.read_bytes()
        for p in sorted((site / "corpus").rglob("*"))
        if p.is_file()
    }
    index = site / "index"
    # the update lock's file is made by the first update that takes it, and stays: not a change
    names = sorted(p.name for p in index.iterdir() if p.name != ".update.lock")
    return corpus, os.readlink(index / "current"), names


UPDATES: dict[str, Callable[[TestClient], Any]] = {
    "put-new": lambda c: c.put(
        "/documents/servant-leadership", content=ARTICLE, headers={**AUTH, **MARKDOWN}
    ),
    "put-replace": lambda c: c.put(
        "/documents/synergy-of-success",
        content=ARTICLE.replace("servant-leadership", "synergy-of-success"),
        headers={**AUTH, **MARKDOWN},
    ),
    "delete": lambda c: c.delete("/documents/synergy-of-success", headers=AUTH),
    "reindex": lambda c: c.post("/admin/reindex", headers=AUTH),
}


def assert_unavailable(response: Any, site: Path, folder: str) -> None:
    assert response.status_code == 503, response.text
    assert_error_body(response.json(), "storage_unavailable")
    detail = response.json()["detail"]
    assert f"the {folder} folder {folder!r} cannot be written" in detail
    assert "nothing changed" in detail
    assert str(site) not in response.text and str(site.resolve()) not in response.text


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES, errno.ENOSPC])
@pytest.mark.parametrize("update", ["put-new", "put-replace", "delete"])
def test_an_unwritable_corpus_folder_is_503_and_changes_nothing(
    client: TestClient, site: Path, monkeypatch: pytest.MonkeyPatch, update: str, code: int
) -> None:
    before = state_of(site)
    faults = FailingWrites(monkeypatch, site / "corpus", code)
    response = UPDATES[update](client)
    monkeypatch.undo()
    assert faults.failures  # the fault was met, not stepped around
    assert_unavailable(response, site, "corpus")
    assert os.strerror(code) in response.json()["detail"]
    assert state_of(site) == before
    assert client.get("/ready").json()["index"]["version"] == before[1]


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES, errno.ENOSPC])
@pytest.mark.parametrize("update", ["put-new", "put-replace", "delete", "reindex"])
def test_an_unwritable_index_folder_is_503_and_changes_nothing(
    client: TestClient, site: Path, monkeypatch: pytest.MonkeyPatch, update: str, code: int
) -> None:
    before = state_of(site)
    faults = FailingWrites(monkeypatch, site / "index", code)
    response = UPDATES[update](client)
    monkeypatch.undo()
    assert faults.failures
    assert_unavailable(response, site, "index")
    assert os.strerror(code) in response.json()["detail"]
    assert state_of(site) == before  # the corpus put back, no half-written version left
    assert client.get("/ready").json()["index"]["version"] == before[1]
    assert UPDATES[update](client).status_code in (200, 201)  # writable again: it goes through


def test_the_disk_filling_while_the_vectors_are_written_is_503(
    client: TestClient, site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC met by FAISS's own write, after the JSON files went through."""
    before = state_of(site)
    real_open, real_mkdir = builtins.open, os.mkdir
    faults = FailingWrites(monkeypatch, site / "index", errno.ENOSPC)
    monkeypatch.setattr(builtins, "open", real_open)  # only FAISS's write fails
    monkeypatch.setattr(io, "open", real_open)
    monkeypatch.setattr(os, "mkdir", real_mkdir)
    response = UPDATES["put-new"](client)
    monkeypatch.undo()
    assert [Path(name).suffix for name in faults.failures] == [".faiss"]
    assert_unavailable(response, site, "index")
    assert "No space left on device" in response.json()["detail"]
    assert state_of(site) == before


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_a_publish_that_fails_is_503_and_leaves_the_previous_version(
    client: TestClient, site: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    """The version folder is written; the new `current` symlink cannot be made."""
    before = state_of(site)
    real_symlink = os.symlink

    def symlink(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        if Path(dst).parent == site / "index":
            raise OSError(code, os.strerror(code), str(dst))
        real_symlink(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "symlink", symlink)
    response = UPDATES["put-new"](client)
    monkeypatch.undo()
    assert_unavailable(response, site, "index")
    assert state_of(site) == before  # the unpublished version folder is removed too


def test_a_swap_that_fails_leaves_no_temporary_link(
    client: TestClient, site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = state_of(site)
    real_replace = os.replace

    def replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        if Path(dst) == site / "index" / "current":
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(dst))
        real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    response = UPDATES["delete"](client)
    monkeypatch.undo()
    assert_unavailable(response, site, "index")
    assert "Input/output error" in response.json()["detail"]
    assert state_of(site) == before


# --- the command line ---------------------------------------------------------------------------


def run(site: Path, *args: str) -> Any:
    options = ["--index", str(site / "index"), "--corpus", str(site / "corpus")]
    return CliRunner().invoke(cli.main, [*args, *options])


@pytest.mark.parametrize(("folder", "code"), [("corpus", errno.EROFS), ("index", errno.ENOSPC)])
def test_leadgraph_add_to_an_unwritable_folder_exits_3_naming_it(
    site: Path, monkeypatch: pytest.MonkeyPatch, folder: str, code: int
) -> None:
    monkeypatch.setattr(
        embedder_module, "SentenceTransformerEmbedder", lambda model: HashingEmbedder()
    )
    article = site / "servant-leadership.md"
    article.write_text(ARTICLE, encoding="utf-8")
    before = state_of(site)
    FailingWrites(monkeypatch, site / folder, code)
    result = run(site, "add", str(article))
    assert result.exit_code == 3, result.output
    assert f"the {folder} folder {folder!r} cannot be written ({os.strerror(code)})" in (
        result.output
    )
    assert "Traceback" not in result.output
    monkeypatch.undo()
    assert state_of(site) == before


def test_leadgraph_index_into_an_unwritable_folder_exits_3_naming_it(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        embedder_module, "SentenceTransformerEmbedder", lambda model: HashingEmbedder()
    )
    before = state_of(site)
    FailingWrites(monkeypatch, site / "index", errno.ENOSPC)
    result = CliRunner().invoke(
        cli.main, ["index", str(site / "corpus"), "--out", str(site / "index"), "-q"]
    )
    monkeypatch.undo()
    assert result.exit_code == 3, result.output
    assert "cannot be written (No space left on device)" in result.output
    assert isinstance(result.exception, SystemExit)
    assert state_of(site) == before


def test_a_storage_error_names_the_index_root_not_its_staging_folder(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    FailingWrites(monkeypatch, site / "index", errno.ENOSPC)
    with pytest.raises(StorageError) as info:
        build_index([site / "corpus"], site / "index", embedder=HashingEmbedder())
    assert info.value.folder == site / "index"
    assert info.value.reason == "No space left on device"


# --- the same against a real kernel ------------------------------------------------------------

NAMESPACE_SCRIPT = r"""
set -e
index="$1"; corpus="$2"; article="$3"; python="$4"
run() { "$python" -c "$WORKER" "$@" --index "$index" --corpus "$corpus"; }
# a read-only corpus: the add must fail and change nothing
mount --bind "$corpus" "$corpus" && mount -o remount,bind,ro "$corpus"
set +e; run add "$article" 2>&1; echo "exit=$?"; set -e
umount "$corpus"
# a full index folder: a tmpfs holding the index and little more
size=$(du -sk "$index" | cut -f1)
mkdir -p "$index.real" && cp -a "$index/." "$index.real/"
mount -t tmpfs -o size=$((size + 64))k tmpfs "$index" && cp -a "$index.real/." "$index/"
set +e; run add "$article" 2>&1; echo "exit=$?"; set -e
ls -a "$index"; readlink "$index/current"
umount "$index"
"""

WORKER = """
import sys
from leadgraph.app import cli
from leadgraph.indexer import embedder
from tests.fakes import HashingEmbedder
embedder.SentenceTransformerEmbedder = lambda model: HashingEmbedder()
cli.main(sys.argv[1:])
"""


def _namespaces_work() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "true"], capture_output=True
    )
    return probe.returncode == 0


@pytest.mark.skipif(not _namespaces_work(), reason="no unprivileged user and mount namespaces")
def test_real_read_only_and_full_folders_exit_3_and_change_nothing(site: Path) -> None:
    article = site / "servant-leadership.md"
    article.write_text(ARTICLE, encoding="utf-8")
    before = state_of(site)
    result = subprocess.run(
        [
            "unshare",
            "--user",
            "--map-root-user",
            "--mount",
            "sh",
            "-c",
            NAMESPACE_SCRIPT,
            "sh",
            str(site / "index"),
            str(site / "corpus"),
            str(article),
            sys.executable,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, "WORKER": WORKER, "PYTHONPATH": str(ROOT)},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "the corpus folder 'corpus' cannot be written (Read-only file system)" in output
    assert "the index folder 'index' cannot be written (No space left on device)" in output
    assert output.count("exit=3") == 2, output
    assert "Traceback" not in output
    assert before[1] in output.splitlines()  # `current` on the full disk: the same version
    assert not [line for line in output.splitlines() if line.startswith(".build-")]
    assert state_of(site) == before
    assert resolve_version(site / "index").name == before[1]

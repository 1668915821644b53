"""Read and validate the corpus: Markdown/text articles with optional YAML front matter, and
BEIR-style JSON Lines corpora.

Every problem is a `CorpusError` naming the file and, where it applies, the line, so that a bad
article in a folder of hundreds is found at once. A message quotes a value it refuses at most
`MAX_SHOWN_CHARS` long (cut with an ellipsis), whatever the value.

Front matter is read by a YAML loader that refuses anchors and aliases (so a few hundred bytes
cannot expand into gigabytes: "billion laughs"), and nesting deeper than
`FrontMatterLimits.max_depth`, before any of it is built into Python objects; front matter
longer than `FrontMatterLimits.max_bytes` is refused before it is parsed.

A document keeps where the article comes from (`source`: the front matter's `source:` or `url:`,
a BEIR record's `url`/`source`) apart from where this machine keeps its file (`path`, relative to
the corpus folder): the first is shown to users and linked; the second never leaves the index.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import reprlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast, get_args
from urllib.parse import urlsplit

import pyoxigraph as ox
import yaml
from yaml.composer import ComposerError
from yaml.error import Mark
from yaml.events import AliasEvent, NodeEvent
from yaml.nodes import Node

from .errors import CorpusError
from .models import Document, DocumentKind

TEXT_SUFFIXES = frozenset({".md", ".txt"})
JSONL_SUFFIXES = frozenset({".jsonl"})
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | JSONL_SUFFIXES

DOCUMENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
KINDS: tuple[str, ...] = get_args(DocumentKind)

_BOM = "\ufeff"
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SLUG_JUNK = re.compile(r"[^a-z0-9._-]+")

WEB_SCHEMES = frozenset({"http", "https"})
# What a reader takes for an address: a scheme and //, a scheme a browser acts on, "www.", or a
# domain name and a path. Anything else ("003_569b.txt", "HBR, May 2019", "doi:10.1/x") is a
# free-text reference, kept as written.
_ADDRESS_LIKE = re.compile(
    r"^(?:[a-z][a-z0-9+.-]*://|//|www\.|(?:https?|ftp|file|mailto|javascript|data|vbscript):"
    r"|[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}/)",
    re.IGNORECASE,
)


MAX_SHOWN_CHARS = 80  # of a refused value quoted in a message


@dataclass(frozen=True)
class FrontMatterLimits:
    """What front matter may be: at most `max_bytes` of YAML (UTF-8) and `max_depth` levels of
    nested mappings and lists (the front matter's own mapping is level 1). Normal front matter
    is a few hundred bytes and two levels deep."""

    max_bytes: int = 65_536
    max_depth: int = 16


class _FrontMatterLoader(yaml.SafeLoader):
    """Safe YAML without implicit timestamps, so dates reach validation as written; anchors,
    aliases and nesting past `max_depth` refused while composing, before anything is built
    (PyYAML composes recursively: 1,000 levels overflow Python's stack)."""

    def __init__(self, stream: str, *, max_depth: int) -> None:
        super().__init__(stream)
        self.max_depth = max_depth
        self.depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        mark = cast(Mark, event.start_mark)  # the pure-Python parser's: this loader is not libyaml
        if isinstance(event, AliasEvent) or (
            isinstance(event, NodeEvent) and event.anchor is not None
        ):
            raise ComposerError(
                None,
                None,
                "anchors and aliases (&name, *name) are not accepted; write each value out",
                mark,
            )
        self.depth += 1
        try:
            if self.depth > self.max_depth:
                raise ComposerError(
                    None,
                    None,
                    f"nested deeper than {self.max_depth} levels (max_front_matter_depth, "
                    "LEADGRAPH_MAX_FRONT_MATTER_DEPTH)",
                    mark,
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


_FrontMatterLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

_SHOWN = reprlib.Repr()
_SHOWN.maxlevel, _SHOWN.maxlist, _SHOWN.maxdict, _SHOWN.maxtuple, _SHOWN.maxset = 2, 4, 4, 4, 4
_SHOWN.maxstring = _SHOWN.maxother = _SHOWN.maxlong = MAX_SHOWN_CHARS


def shown(value: object, limit: int = MAX_SHOWN_CHARS) -> str:
    """`repr(value)` for a message, at most about `limit` characters (cut with an ellipsis),
    in time bounded by the limit, not by the value."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        return f"an integer of {value.bit_length()} bits"  # repr refuses past 4,300 digits
    if isinstance(value, str):
        text = repr(value[: limit + 1])
        return text if len(value) <= limit else text[: limit - 1] + "…" + text[-1]
    text = _SHOWN.repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def read_corpus(
    paths: Sequence[Path],
    *,
    base: Path | None = None,
    front_matter: FrontMatterLimits = FrontMatterLimits(),  # noqa: B008 - frozen, immutable
) -> list[Document]:
    """The documents of every file and folder in `paths`, in order (folders recursively, sorted).

    `Document.path` is the file's POSIX path relative to `base` when the file lies under it,
    else relative to the folder of `paths` it was found in, else (a file named on its own) its
    file name: never absolute, so an index neither depends on nor tells where the corpus lives.
    `Document.source` is the front matter's `source` or `url` (a BEIR record's), checked by
    `source_problem`.

    Raises `CorpusError` for a missing path, an unsupported file named explicitly, a malformed
    file (front matter past `front_matter`'s limits included), or a document id used twice
    anywhere in the inputs.
    """
    documents: list[Document] = []
    first_seen: dict[str, tuple[str, int]] = {}
    for path in paths:
        path = Path(path)
        folder = path if path.is_dir() else None
        for file in _files(path):
            location = _location(file, folder, base)
            for document, id_line in _read_file(file, location, front_matter):
                if document.id in first_seen:
                    where, line = first_seen[document.id]
                    raise CorpusError(
                        file,
                        f"duplicate document id {document.id!r} (first in {where}:{line})",
                        id_line,
                    )
                first_seen[document.id] = (location, id_line)
                documents.append(document)
    return documents


def corpus_fingerprint(documents: Sequence[Document]) -> str:
    """sha256 hex over ids, metadata (source included) and texts in order; independent of where
    the files live."""
    digest = hashlib.sha256()
    for d in documents:
        record = [d.id, d.title, d.kind, d.date, d.source, d.text]
        digest.update(json.dumps(record, ensure_ascii=False).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def web_url_problem(value: str) -> str | None:
    """Why `value` is not an absolute http(s) URL without credentials that is also a valid IRI
    (so it can be an RDF node and a link); None when it is one."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError as exc:
        return f"it does not parse as a URL ({exc})"
    scheme = parts.scheme.lower()
    if scheme not in WEB_SCHEMES:
        if not scheme:
            return "write the address in full, starting with https:// or http://"
        return f"only http and https addresses are kept, not {scheme}:"
    if not parts.hostname:
        return "it names no host"
    if parts.username is not None or parts.password is not None:
        return "it holds a user name or password; leave them out"
    try:
        ox.NamedNode(value)
    except ValueError as exc:
        return f"not a valid IRI: {exc}"
    return None


def source_problem(value: str, *, url: bool = False) -> str | None:
    """Why `value` cannot be a document's source; None when it can. Any text can, but one that
    looks like an address must be an absolute http(s) URL (`web_url_problem`); with `url`, it
    must be one in any case."""
    if not (url or _ADDRESS_LIKE.match(value)):
        return None
    return web_url_problem(value)


def slugify(name: str) -> str:
    """A document id derived from a file stem: lower case, runs of other characters as '-'."""
    return _SLUG_JUNK.sub("-", name.lower()).strip("-._")[:128].rstrip("-._")


# --- files ---------------------------------------------------------------------------------


def _files(path: Path) -> Iterator[Path]:
    if path.is_dir():
        found = sorted(
            (p for p in path.rglob("*") if p.suffix.lower() in SUPPORTED_SUFFIXES),
            key=lambda p: p.relative_to(path).parts,
        )
        files = [
            p
            for p in found
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
        ]
        if not files:
            raise CorpusError(path, "folder holds no .md, .txt or .jsonl files")
        yield from files
    elif path.is_file():
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            raise CorpusError(
                path,
                f"unsupported file type {path.suffix or path.name!r} "
                "(expected .md, .txt or .jsonl)",
            )
        yield path
    else:
        raise CorpusError(path, "no such file or folder")


def _location(file: Path, folder: Path | None, base: Path | None) -> str:
    if base is not None:
        try:
            return file.resolve().relative_to(base.resolve()).as_posix()
        except ValueError:
            pass
    if folder is not None:
        return file.relative_to(folder).as_posix()  # folder.rglob's paths lie under it
    return file.name


def _decode(file: Path) -> str:
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise CorpusError(file, f"cannot read: {exc.strerror or exc}") from exc
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise CorpusError(
            file, f"not valid UTF-8: byte 0x{raw[exc.start]:02x} cannot be decoded", line
        ) from exc


def _read_file(file: Path, location: str, limits: FrontMatterLimits) -> list[tuple[Document, int]]:
    text = _decode(file)
    if file.suffix.lower() in JSONL_SUFFIXES:
        return _read_jsonl(file, location, text)
    return [_read_text(file, location, text, limits)]


# --- .md / .txt ----------------------------------------------------------------------------


def _read_text(
    file: Path, location: str, text: str, limits: FrontMatterLimits
) -> tuple[Document, int]:
    """One article and the line its id comes from."""
    if not text.strip():
        raise CorpusError(file, "empty file", 1)
    meta: dict[str, Any] = {}
    meta_lines: list[str] = []
    body, body_line = text, 1
    first_end = text.find("\n")
    if (text if first_end < 0 else text[:first_end]).rstrip() == "---":
        meta, meta_lines, body, body_line = _front_matter(file, text, limits)

    def line_of(key: str) -> int:
        pattern = re.compile(rf"^\s*['\"]?{re.escape(key)}['\"]?\s*:")
        for i, line in enumerate(meta_lines):
            if pattern.match(line):
                return i + 2  # front matter starts on line 2
        return 1

    if not body.strip():
        raise CorpusError(file, "document has no text after the front matter", body_line)

    if "id" in meta:
        doc_id, id_line = meta["id"], line_of("id")
        if not isinstance(doc_id, str):
            raise CorpusError(file, f"id must be a string, not {_type(doc_id)} (quote it)", id_line)
        if not DOCUMENT_ID.match(doc_id):
            raise CorpusError(
                file,
                f"invalid document id {shown(doc_id)}: use letters, digits, '.', '_' or '-' "
                "(starting with a letter or digit, at most 128 characters)",
                id_line,
            )
    else:
        doc_id, id_line = slugify(file.stem), 1
        if not DOCUMENT_ID.match(doc_id):
            raise CorpusError(
                file,
                f"cannot derive a document id from the file name {file.name!r}; "
                "add front matter with an id",
                1,
            )

    title = meta.get("title")
    if title is None:
        title = _first_line(body, markdown=file.suffix.lower() == ".md")
    elif not isinstance(title, str) or not title.strip():
        raise CorpusError(file, "title must be a non-empty string", line_of("title"))

    kind = meta.get("kind", "article")
    if kind not in KINDS:
        raise CorpusError(
            file,
            f"invalid kind {shown(kind)}: expected one of {', '.join(map(repr, KINDS))}",
            line_of("kind"),
        )

    date = meta.get("date")
    if date is not None:
        date = _iso_date(file, date, line_of("date"))

    document = Document(
        id=doc_id,
        title=title.strip(),
        text=body,
        kind=cast(DocumentKind, kind),
        date=date,
        source=_front_matter_source(file, meta, line_of),
        path=location,
        line=body_line,
    )
    return document, id_line


def _front_matter(
    file: Path, text: str, limits: FrontMatterLimits
) -> tuple[dict[str, Any], list[str], str, int]:
    """(metadata, its lines, body, first line of the body) of a text whose first line is ---."""
    lines = text.split("\n")
    for index in range(1, len(lines)):
        if lines[index].rstrip() == "---":
            closing = index
            break
    else:
        raise CorpusError(file, "unterminated front matter: no closing '---' line", 1)
    meta_lines = lines[1:closing]
    yaml_text = "\n".join(meta_lines)
    size = len(yaml_text.encode("utf-8"))
    if size > limits.max_bytes:
        raise CorpusError(
            file,
            f"front matter of {size} bytes, more than {limits.max_bytes} "
            "(max_front_matter_bytes, LEADGRAPH_MAX_FRONT_MATTER_BYTES)",
            2,
        )
    loader = _FrontMatterLoader(yaml_text, max_depth=limits.max_depth)
    try:
        meta = loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise CorpusError(file, f"malformed front matter: {problem[:200]}", line) from exc
    except ValueError as exc:  # an integer of more than 4,300 digits (int's own limit)
        line = loader.get_mark().line + 2
        problem = str(exc).split(";")[0]  # not Python's advice on sys.set_int_max_str_digits
        raise CorpusError(file, f"malformed front matter: {problem[:200]}", line) from exc
    finally:
        loader.dispose()
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise CorpusError(
            file, f"front matter must be a mapping of keys to values, not {_type(meta)}", 2
        )
    body_start = sum(len(line) + 1 for line in lines[: closing + 1])
    return meta, meta_lines, text[body_start:], closing + 2


def _front_matter_source(
    file: Path, meta: dict[str, Any], line_of: Callable[[str], int]
) -> str | None:
    """The `source` or `url` of the front matter (the same one when both are given)."""
    given: list[tuple[str, str, int]] = []
    for key in ("source", "url"):
        if key not in meta:
            continue
        value, line = meta[key], line_of(key)
        if not isinstance(value, str) or not value.strip():
            kind = "" if value is None or isinstance(value, str) else f", not {_type(value)}"
            raise CorpusError(
                file, f"{key} must be a non-empty string{kind} (or leave the key out)", line
            )
        value = value.strip()
        problem = source_problem(value, url=key == "url")
        if problem is not None:
            raise CorpusError(file, f"invalid {key} {shown(value, 200)}: {problem}", line)
        given.append((key, value, line))
    if len(given) == 2 and given[0][1] != given[1][1]:
        (_, source, source_line), (_, url, url_line) = given
        raise CorpusError(
            file,
            f"source {shown(source, 200)} (line {source_line}) and url {shown(url, 200)} "
            f"(line {url_line}) differ: keep one",
            max(source_line, url_line),
        )
    return given[0][1] if given else None


def _first_line(body: str, *, markdown: bool) -> str:
    for line in body.split("\n"):
        line = line.strip()
        if markdown:
            line = line.lstrip("#").strip()
        if line:
            return line
    return ""  # unreachable: the body was checked to hold text


def _iso_date(file: Path, value: object, line: int) -> str:
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str) and _ISO_DATE.match(value.strip()):
        try:
            return dt.date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    raise CorpusError(file, f"invalid date {shown(value)}: expected an ISO date YYYY-MM-DD", line)


def _type(value: object) -> str:
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}
    return names.get(type(value), type(value).__name__)


# --- .jsonl (BEIR) -------------------------------------------------------------------------


def _read_jsonl(file: Path, location: str, text: str) -> list[tuple[Document, int]]:
    out: list[tuple[Document, int]] = []
    loads = json.loads
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = loads(line)
        except json.JSONDecodeError as exc:
            raise CorpusError(
                file, f"malformed JSON: {exc.msg} (column {exc.colno})", number
            ) from None
        except RecursionError:  # the C decoder recurses once per level of nesting
            raise CorpusError(file, "malformed JSON: nested too deeply", number) from None
        if not isinstance(record, dict):
            raise CorpusError(file, f"expected a JSON object, not {_type(record)}", number)
        doc_id = record.get("_id")
        body = record.get("text")
        title = record.get("title", "")
        if not isinstance(doc_id, str):
            problem = "missing '_id'" if doc_id is None else "'_id' must be a string"
            raise CorpusError(file, problem, number)
        if not DOCUMENT_ID.match(doc_id):
            raise CorpusError(
                file,
                f"invalid document id {shown(doc_id)}: use letters, digits, '.', '_' or '-' "
                "(starting with a letter or digit, at most 128 characters)",
                number,
            )
        if not isinstance(body, str):
            problem = "missing 'text'" if body is None else "'text' must be a string"
            raise CorpusError(file, problem, number)
        if title is None:
            title = ""
        if not isinstance(title, str):
            raise CorpusError(file, "'title' must be a string", number)
        if not body.strip() and not title.strip():
            raise CorpusError(file, f"document {doc_id!r} has no text", number)
        document = Document(
            id=doc_id,
            title=title,
            text=body,
            source=_record_source(file, record, number),
            path=location,
            line=number,
        )
        out.append((document, number))
    if not out:
        raise CorpusError(file, "empty file", 1)
    return out


def _record_source(file: Path, record: dict[str, Any], number: int) -> str | None:
    """The `url` or `source` of a BEIR record, at its top level or in its `metadata`."""
    holders: list[tuple[str, Any]] = [("", record)]
    metadata = record.get("metadata")
    if isinstance(metadata, dict):
        holders.append(("metadata.", metadata))
    found: list[tuple[str, str]] = []
    for prefix, holder in holders:
        for key in ("url", "source"):
            value = holder.get(key)
            if value is None or (isinstance(value, str) and not value.strip()):
                continue  # BEIR exports write "" or null for a record without one
            name = prefix + key
            if not isinstance(value, str):
                raise CorpusError(file, f"'{name}' must be a string, not {_type(value)}", number)
            value = value.strip()
            problem = source_problem(value, url=key == "url")
            if problem is not None:
                raise CorpusError(file, f"invalid '{name}' {shown(value, 200)}: {problem}", number)
            found.append((name, value))
    for name, value in found[1:]:
        if value != found[0][1]:
            raise CorpusError(
                file,
                f"'{found[0][0]}' and '{name}' differ: {shown(found[0][1], 200)}, "
                f"{shown(value, 200)}; keep one",
                number,
            )
    return found[0][1] if found else None

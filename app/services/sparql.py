"""Read-only SPARQL 1.1 over the loaded graph, and the whole graph in each RDF syntax.

A query is checked here, in the service process: updates, SERVICE, FROM / FROM NAMED and GRAPH
patterns are refused before anything runs. It is then evaluated in a worker process made with
fork(), which inherits the graph copy-on-write (no copy, no serialisation), evaluates,
serialises at most `sparql_max_rows` rows or triples and writes the bytes to a pipe. At the
deadline the service SIGKILLs the worker. Workers can open no file and no socket.

Two engines evaluate (`sparql_engine`). Oxigraph, the default, runs natively in Rust over its
own in-memory copy of graph.ttl, from the query text; the check is a scan of the query's tokens,
and its workers are kept from one query to the next (a fork costs more than most queries). rdflib
runs in pure Python over the rdflib graph, from the algebra its parser made in the check, in a
worker forked for each query. Oxigraph is 7 to 280 times faster on the benchmark's queries
(docs/BENCHMARKS.md). Either way the rows are written by the same serialisers, so the answers'
syntax does not depend on the engine.

Admission: a query is evaluated by one of `sparql_workers` threads of the service's own
executor, each driving one worker process; at most `sparql_queue` more wait for a thread, each
for at most `sparql_queue_wait_s`. A query past the queue, or one that waited too long, is
refused with 503 `busy` and Retry-After. The threads that answer /health, /search and the rest
are never taken by SPARQL, so a flood of heavy queries slows only SPARQL.

Why a process: neither engine has a cancellation hook, and ORDER BY, GROUP BY, DISTINCT or COUNT
consume their whole input before yielding a row, so a deadline checked between rows cannot stop
them; a thread cannot be stopped at all. A process also bounds the memory a query may take
(RLIMIT_AS) without putting the service at risk.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import fcntl
import functools
import gc
import itertools
import math
import os
import pickle
import re
import resource
import select
import signal
import struct
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from pyparsing import ParseException, ParseResults
from rdflib import BNode, Graph, Literal, URIRef, Variable
from rdflib.plugins.sparql.algebra import translateQuery
from rdflib.plugins.sparql.parser import parseQuery
from rdflib.plugins.sparql.parserutils import CompValue
from rdflib.plugins.sparql.sparql import Query
from rdflib.query import Result, ResultRow
from rdflib.term import Node

from leadgraph.indexer.rdfio import from_ox

from ..config import Settings
from ..errors import BadRequest, Busy, NotAcceptable, QueryCrashed, QueryTimeout
from ..rdf import RDF_MEDIA_TYPES, bind_prefixes, choose_media_type, content_type, serialize

SELECT_MEDIA_TYPES: dict[str, str] = {  # media type -> result format; the first is the default
    "application/sparql-results+json": "json",
    "application/sparql-results+xml": "xml",
    "text/csv": "csv",
    "text/tab-separated-values": "tsv",
    "application/json": "json",
}
ASK_MEDIA_TYPES: dict[str, str] = {  # CSV and TSV are defined for SELECT results only
    "application/sparql-results+json": "json",
    "application/sparql-results+xml": "xml",
    "application/json": "json",
}
GRAPH_MEDIA_TYPES: dict[str, str] = RDF_MEDIA_TYPES  # CONSTRUCT and DESCRIBE; Turtle first
SPARQL_JSON_TYPE = "application/sparql-results+json"
UPDATE_REFUSED = "SPARQL updates are refused: this endpoint is read-only"
SERVICE_REFUSED = "SERVICE is refused: this endpoint makes no outgoing requests"
FROM_REFUSED = (
    "FROM and FROM NAMED are refused: the endpoint queries its single default graph and loads "
    "nothing"
)
GRAPH_REFUSED = "GRAPH patterns are not supported: the endpoint has a single default graph"
MEMORY_BUDGET = 1 << 30  # bytes a query may allocate on top of what the service holds
RETRY_AFTER_S = 1  # what a client refused for want of a worker is told to wait

_FORMS = frozenset(("SELECT", "ASK", "CONSTRUCT", "DESCRIBE"))
_UPDATE_WORDS = frozenset(
    ("INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH")
)
# SPARQL's tokens as far as `_scan` needs them: what is not a bare word is skipped whole
_TOKENS = re.compile(
    r"""
      (?P<space>\s+|\#[^\n]*)
    | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
    | (?P<string>"{3}(?:[^"\\]|\\.|"(?!""))*"{3}|'{3}(?:[^'\\]|\\.|'(?!''))*'{3}
        |"(?:[^"\\\n\r]|\\.)*"|'(?:[^'\\\n\r]|\\.)*')
    | (?P<var>[?$]\w*)
    | (?P<name>[^\s<>"'{}()\[\],;\#]*:[^\s<>"'{}()\[\],;\#]*)
    | (?P<word>[^\W\d]\w*)
    | (?P<quote>["'])
    | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
# rdflib parses SPARQL with pyparsing, which is not thread-safe: a parse action learns its arity
# on its first call, and two threads parsing at once can break each other ("postParse2() missing
# 1 required positional argument", a 500). Parsing takes milliseconds; evaluation, in a forked
# worker, is not serialised.
_PARSER = threading.Lock()
# Held from pipe() to closing the parent's write end: a worker forked for another query in
# between would inherit that end and hold this query's answer back until it closes it.
_FORKING = threading.Lock()
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})")
# characters XML 1.0 cannot carry, not even as character references
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_TSV_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"})


@dataclass(frozen=True, slots=True)
class SparqlResult:
    body: bytes
    media_type: str  # the Content-Type header, with charset where the syntax has none of its own
    truncated: bool  # rows or triples were cut at sparql_max_rows


@dataclass(frozen=True, slots=True)
class _Plan:
    """A checked query and how its answer is to be written."""

    text: str
    query: Query | None  # rdflib's algebra, for the rdflib engine only
    kind: str  # SELECT, ASK, CONSTRUCT or DESCRIBE
    media_type: str
    format: str


class GraphExport:
    """The whole graph in each RDF syntax, serialised on first request and kept: the graph is
    read-only for as long as its index is loaded."""

    def __init__(self, graph: Graph, turtle_path: Path | None = None) -> None:
        self.graph = graph
        self._turtle_path = turtle_path
        self._cache: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def body(self, media_type: str) -> bytes:
        """The graph as `media_type`, one of RDF_MEDIA_TYPES."""
        with self._lock:
            data = self._cache.get(media_type)
            if data is None:
                if media_type == "text/turtle" and self._turtle_path is not None:
                    data = self._turtle_path.read_bytes()  # the very file the graph was read from
                else:
                    data = serialize(self.graph, media_type)
                self._cache[media_type] = data
            return data


class SparqlService:
    """Read-only SPARQL over one loaded graph, each query in a forked worker with a deadline:
    evaluated by Oxigraph over `store` when one is given, by rdflib over `graph` otherwise.
    Queries are admitted to the service's own bounded executor (see the module's docstring)."""

    def __init__(self, graph: Graph, settings: Settings, store: ox.Store | None = None) -> None:
        self.graph = graph
        self.store = store
        self.settings = settings
        # the graph's prefixes (skos:, lg:, c:, ...) are predeclared for every query
        self._namespaces = {prefix: str(ns) for prefix, ns in graph.namespaces()}
        # one worker per core at a time; more would only slow each of them down
        self.workers = settings.sparql_workers or max(2, len(os.sched_getaffinity(0)))
        self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="sparql")
        weakref.finalize(self, self._executor.shutdown, wait=False, cancel_futures=True)
        self._admitted = 0  # queries running or waiting for a thread of `_executor`
        self._admission = threading.Lock()
        self._pool = None
        if store is not None:  # the workers' closure holds no reference to the service
            serve = functools.partial(
                _evaluate_oxigraph,
                store,
                max_rows=settings.sparql_max_rows,
                namespaces=self._namespaces,
            )
            self._pool = _WorkerPool(serve, nice=settings.sparql_nice)
        _warm_up()

    async def answer(
        self, text: str, accept: str | None, forms: Sequence[str] | None = None
    ) -> SparqlResult:
        """`run` for the event loop: the caller awaits a thread of the service's executor,
        holding none of its own."""
        future = self._admit(text, accept, forms)
        waiting = asyncio.wrap_future(future)
        try:
            done, _ = await asyncio.wait({waiting}, timeout=self.settings.sparql_queue_wait_s)
            if not done and future.cancel():
                raise self._waited_too_long()
            return await waiting  # running: its deadline bounds the rest of the wait
        except asyncio.CancelledError:
            future.cancel()  # the client left: a query still waiting is dropped
            raise

    def run(
        self, text: str, accept: str | None, forms: Sequence[str] | None = None
    ) -> SparqlResult:
        """Answers a SPARQL query in the media type `accept` prefers, blocking the caller;
        `forms` (e.g. SELECT, ASK) limits the query forms accepted.

        Raises BadRequest (syntax, nesting, update, SERVICE, FROM, GRAPH, a form not in
        `forms`), NotAcceptable, Busy when `sparql_queue` queries wait already or no worker
        came free within `sparql_queue_wait_s`, QueryTimeout when evaluation and serialisation
        take longer than `sparql_timeout_s`, QueryCrashed when the worker dies."""
        future = self._admit(text, accept, forms)
        try:
            return future.result(timeout=self.settings.sparql_queue_wait_s)
        except TimeoutError:
            if future.cancel():
                raise self._waited_too_long() from None
        return future.result()

    def _admit(
        self, text: str, accept: str | None, forms: Sequence[str] | None
    ) -> Future[SparqlResult]:
        """The query handed to the executor; Busy at once when its queue is full."""
        queue = self.settings.sparql_queue
        with self._admission:
            if self._admitted >= self.workers + queue:
                raise Busy(
                    f"SPARQL is at capacity: {self.workers} queries running and {queue} waiting "
                    "(sparql_workers, sparql_queue); retry shortly",
                    retry_after=RETRY_AFTER_S,
                )
            self._admitted += 1
        try:
            future = self._executor.submit(self._evaluate, text, accept, forms)
        except RuntimeError:  # shut down: the service is being dropped with its index
            self._leave(None)
            raise Busy("the SPARQL service is shutting down", retry_after=RETRY_AFTER_S) from None
        future.add_done_callback(self._leave)  # also called when the future is cancelled
        return future

    def _leave(self, _: Future[SparqlResult] | None) -> None:
        with self._admission:
            self._admitted -= 1

    def _waited_too_long(self) -> Busy:
        return Busy(
            f"no SPARQL worker came free within {self.settings.sparql_queue_wait_s:g} s "
            f"(sparql_queue_wait_s; {self.workers} sparql_workers); retry shortly",
            retry_after=RETRY_AFTER_S,
        )

    def _evaluate(self, text: str, accept: str | None, forms: Sequence[str] | None) -> SparqlResult:
        """The answer to the query, checked and evaluated in the caller's thread (one of the
        executor's)."""
        plan = self.plan(text, accept, forms)
        deadline = time.monotonic() + self.settings.sparql_timeout_s
        try:
            if self._pool is not None:
                body, truncated = self._pool.run(plan, deadline)
            else:
                body, truncated = _run_forked(
                    self._job(plan), deadline, nice=self.settings.sparql_nice
                )
        except _OxigraphSyntaxError as exc:
            raise self._syntax_error(text, str(exc)) from None
        except TimeoutError:
            raise QueryTimeout(
                f"query ran past {self.settings.sparql_timeout_s:g} s (sparql_timeout_s) and "
                "was stopped; narrow it, or add LIMIT"
            ) from None
        media = plan.media_type
        if media in RDF_MEDIA_TYPES:
            header = content_type(media)
        elif media.startswith("text/"):
            header = f"{media}; charset=utf-8"
        else:
            header = media
        return SparqlResult(body, header, truncated)

    def _job(self, plan: _Plan) -> Callable[[], tuple[bytes, bool]]:
        """What rdflib's one-off worker runs: the answer's bytes and whether they were cut."""
        graph, max_rows, namespaces = self.graph, self.settings.sparql_max_rows, self._namespaces
        return lambda: _evaluate(graph, plan, max_rows, namespaces)

    def plan(self, text: str, accept: str | None, forms: Sequence[str] | None = None) -> _Plan:
        """Checks `text` (a query of one of `forms`, if given) and picks the answer's media
        type; evaluates nothing."""
        kind, query = self._checked(text)
        if forms is not None and kind not in forms:
            raise BadRequest(
                f"only {' and '.join(forms)} are allowed here, got {kind}", code="bad_query"
            )
        offered = (
            SELECT_MEDIA_TYPES
            if kind == "SELECT"
            else ASK_MEDIA_TYPES
            if kind == "ASK"
            else GRAPH_MEDIA_TYPES
        )
        media_type = choose_media_type(accept, list(offered))
        return _Plan(text, query, kind, media_type, offered[media_type])

    def check(self, text: str) -> str:
        """The query's form (SELECT, ASK, CONSTRUCT or DESCRIBE); BadRequest for anything this
        endpoint will not run."""
        return self._checked(text)[0]

    def _checked(self, text: str) -> tuple[str, Query | None]:
        """The query's form and, for rdflib to evaluate, its algebra.

        A scan of the query's tokens finds the form and what is refused, in microseconds
        (rdflib's parser takes 10-30 ms). Oxigraph parses the query itself, and when it finds a
        syntax error rdflib's parser words the message (`_syntax_error`); for rdflib to
        evaluate, its parser makes the algebra, on which the refusals are checked again."""
        limit = self.settings.sparql_max_chars
        if len(text) > limit:
            raise BadRequest(
                f"query is {len(text)} characters, longer than the {limit} accepted "
                "(sparql_max_chars, LEADGRAPH_SPARQL_MAX_CHARS)",
                code="bad_query",
            )
        if not text.strip():
            raise BadRequest("query: empty; send a SPARQL query", code="bad_query")
        _check_escapes(text)
        form = _scan(text, self.settings.sparql_max_depth)
        return form, None if self.store is not None else self._parse(text)

    def _parse(self, text: str) -> Query:
        """The query parsed and translated by rdflib, refusals checked on its algebra."""
        with _PARSER:  # see _PARSER
            try:
                parsed = parseQuery(text)
            except ParseException as exc:
                problem = str(exc).split("  (at char")[0]
                raise BadRequest(
                    f"SPARQL syntax error at line {exc.lineno}, column {exc.column}: {problem}",
                    code="bad_query",
                ) from None
            except RecursionError:
                # pyparsing recurses once or more per nesting level, also while it words an
                # error: some 30 unclosed parentheses are past Python's recursion limit
                raise _TooDeepForRdflib(
                    "SPARQL syntax error: the query nests too deeply for the parser; "
                    "close its brackets or nest less",
                    code="bad_query",
                ) from None
            except Exception as exc:  # rdflib checks some terms with bare errors (ValueError)
                raise BadRequest(f"invalid query: {_described(exc)}", code="bad_query") from None
            try:
                query = translateQuery(parsed, initNs=self._namespaces)
            except RecursionError:
                raise _TooDeepForRdflib(
                    "query nests too deeply for rdflib to translate; nest less", code="bad_query"
                ) from None
            except Exception as exc:  # rdflib raises bare Exception, e.g. for an unknown prefix
                raise BadRequest(f"invalid query: {_described(exc)}", code="bad_query") from None
        for node in _nodes(query.algebra):
            if node.name == "ServiceGraphPattern":
                raise BadRequest(SERVICE_REFUSED, code="bad_query")
            if node.name == "DatasetClause":
                raise BadRequest(FROM_REFUSED, code="bad_query")
            if node.name == "Graph":
                raise BadRequest(GRAPH_REFUSED, code="bad_query")
        return query

    def _syntax_error(self, text: str, oxigraph: str) -> BadRequest:
        """The 400 for a query Oxigraph could not parse: rdflib's message where rdflib finds an
        error too (it names an unknown prefix, for one), else Oxigraph's first line."""
        try:
            self._parse(text)
        except _TooDeepForRdflib:
            pass  # Oxigraph's message names where the error is
        except BadRequest as exc:
            return exc
        where = re.match(r"error at (\d+):(\d+): ", oxigraph)
        if where is None:
            return BadRequest(f"SPARQL syntax error: {oxigraph.splitlines()[0]}", code="bad_query")
        line, column = where.groups()
        problem = oxigraph[where.end() :].splitlines()[0]
        return BadRequest(
            f"SPARQL syntax error at line {line}, column {column}: {problem}", code="bad_query"
        )


class _OxigraphSyntaxError(Exception):
    """Oxigraph could not parse the query (raised in the worker, and again in the service)."""


class _TooDeepForRdflib(BadRequest):
    """rdflib's parser ran out of recursion on the query."""


def _described(exc: Exception) -> str:
    """An exception in a line: its message, or its type when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _scan(text: str, max_depth: int) -> str:
    """The form of the query `text` read from its tokens; BadRequest for an update, SERVICE,
    FROM or GRAPH, no query form, or nesting deeper than `max_depth`. Strings, IRIs, comments,
    variables and prefixed names are skipped whole, so `?graph`, `lg:service` or "from" in a
    literal refuse nothing. Whatever this scan might misread still runs sandboxed (`_sandbox`):
    it can reach no network."""
    form = None
    nesting = _Nesting(text, max_depth)
    for token in _TOKENS.finditer(text):
        kind = token.lastgroup
        if kind == "space":
            continue
        nesting.add(token)
        word = token.group().upper() if kind == "word" else ""
        if form is None:  # the prologue: PREFIX p: <iri>, BASE <iri>, then the form
            if kind in ("name", "iri") or word in ("PREFIX", "BASE"):
                continue
            if word in _FORMS:
                form = word
                continue
            if word in _UPDATE_WORDS:
                raise BadRequest(UPDATE_REFUSED, code="bad_query")
            raise _no_form(text, token.start())
        if kind == "quote":
            break  # an unterminated string: Oxigraph reports the syntax error
        if word == "SERVICE":
            raise BadRequest(SERVICE_REFUSED, code="bad_query")
        if word == "FROM":
            raise BadRequest(FROM_REFUSED, code="bad_query")
        if word == "GRAPH":
            raise BadRequest(GRAPH_REFUSED, code="bad_query")
    if form is None:
        raise _no_form(text, len(text))
    return form


def _no_form(text: str, offset: int) -> BadRequest:
    line, column = _position(text, offset)
    return BadRequest(
        f"SPARQL syntax error at line {line}, column {column}: expected SELECT, ASK, CONSTRUCT "
        "or DESCRIBE (after any PREFIX and BASE)",
        code="bad_query",
    )


def _position(text: str, offset: int) -> tuple[int, int]:
    """The line and column (from 1) of `offset` in `text`."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


_OPENING = frozenset("({[")
_CLOSING = frozenset(")}]")
_UNARY = frozenset("!-+")


class _Nesting:
    """How deeply the tokens seen so far nest: each open bracket, brace or parenthesis is a
    level, and so is each operator in a run of unary ones (`!!!x`, `- -x`), which the parsers
    nest like parentheses. Both parsers recurse once or more a level (rdflib's by Python
    frames: some 30 levels of FILTER parentheses reach Python's recursion limit), and Oxigraph's
    overflows its stack and kills the worker with SIGSEGV at a few thousand levels; nested
    lists and blank nodes also cost time that grows faster than their depth. A binary `-` or
    `+` counted as unary overstates the depth by one, which the limit's margin absorbs."""

    def __init__(self, text: str, limit: int) -> None:
        self._text = text
        self._limit = limit
        self._frames: list[int] = []  # per open bracket, the unary run still open around it
        self._carried = 0  # the sum of `_frames`
        self._run = 0  # unary operators since the last operand or bracket

    def add(self, token: re.Match[str]) -> None:
        """Counts `token` in; BadRequest when the nesting passes the limit."""
        char = token.group() if token.lastgroup == "other" else ""
        if char in _OPENING:
            self._frames.append(self._run)
            self._carried += self._run
            self._run = 0
        elif char in _CLOSING:
            if self._frames:
                self._carried -= self._frames.pop()
            self._run = 0
        elif char in _UNARY:
            self._run += 1
        else:
            self._run = 0
        depth = len(self._frames) + self._carried + self._run
        if depth > self._limit:
            line, column = _position(self._text, token.start())
            raise BadRequest(
                f"query nests more than {self._limit} levels deep (brackets, braces, "
                f"parentheses and unary operators such as !) at line {line}, column {column}; "
                "the limit is sparql_max_depth (LEADGRAPH_SPARQL_MAX_DEPTH)",
                code="bad_query",
            )


def _check_escapes(text: str) -> None:
    """BadRequest for a \\u or \\U escape naming no character: a UTF-16 surrogate (it would reach
    the results as a lone surrogate, which no UTF-8 serialiser writes) or a number past U+10FFFF
    (which rdflib's parser does not catch)."""
    for escape in _ESCAPE.finditer(text):
        code = int(escape.group(1) or escape.group(2), 16)
        if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
            raise BadRequest(
                f"query: {escape.group()} at character {escape.start() + 1} is not a character "
                "(a surrogate, or past U+10FFFF); write U+1F600 as \\U0001F600",
                code="bad_query",
            )


def _nodes(root: Any) -> Iterator[CompValue]:
    """Every algebra node under `root`, including those inside expressions and sub-queries."""
    todo = [root]
    while todo:
        node = todo.pop()
        if isinstance(node, CompValue):
            yield node
            todo.extend(node.values())
        elif isinstance(node, dict):
            todo.extend(node.values())
        elif isinstance(node, list | tuple | set | ParseResults):
            todo.extend(node)


# --- evaluation, in the child ------------------------------------------------------------------


def _evaluate(
    graph: Graph, plan: _Plan, max_rows: int, namespaces: dict[str, str]
) -> tuple[bytes, bool]:
    """The serialised answer to `plan`, evaluated by rdflib, and whether it was cut at
    `max_rows`."""
    assert plan.query is not None  # parsed by rdflib: see SparqlService._checked
    result = graph.query(plan.query)
    if plan.kind in ("CONSTRUCT", "DESCRIBE"):
        assert result.graph is not None
        return _graph_body(iter(result.graph), plan.media_type, max_rows, namespaces)
    if plan.kind == "ASK":
        return _ask_body(bool(result.askAnswer), plan.format), False
    variables = list(result.vars or [])
    rows: list[dict[Variable, Node]] = []
    truncated = False
    for row in result:  # iterates lazily where the algebra allows
        if len(rows) == max_rows:
            truncated = True
            break
        assert isinstance(row, ResultRow)
        rows.append({v: term for v, term in zip(variables, row, strict=True) if term is not None})
    return _select_body(variables, rows, plan.format), truncated


def _evaluate_oxigraph(
    store: ox.Store, plan: _Plan, max_rows: int, namespaces: dict[str, str]
) -> tuple[bytes, bool]:
    """The serialised answer to `plan`, evaluated by Oxigraph from the query text (rows are
    read lazily: a cap stops evaluation where the query allows), and whether it was cut."""
    try:
        answer = store.query(plan.text, prefixes=namespaces)
    except SyntaxError as exc:
        raise _OxigraphSyntaxError(str(exc)) from None
    if isinstance(answer, ox.QueryBoolean):
        return _ask_body(bool(answer), plan.format), False
    if isinstance(answer, ox.QueryTriples):
        triples = ((from_ox(t.subject), from_ox(t.predicate), from_ox(t.object)) for t in answer)
        return _graph_body(triples, plan.media_type, max_rows, namespaces)
    variables = [Variable(v.value) for v in answer.variables]
    rows: list[dict[Variable, Node]] = []
    truncated = False
    for solution in answer:
        if len(rows) == max_rows:
            truncated = True
            break
        row: dict[Variable, Node] = {}
        for variable, term in zip(variables, solution, strict=True):
            if term is not None:
                row[variable] = from_ox(term)
        rows.append(row)
    return _select_body(variables, rows, plan.format), truncated


def _graph_body(
    triples: Iterator[tuple[Node, Node, Node]],
    media_type: str,
    max_rows: int,
    namespaces: dict[str, str],
) -> tuple[bytes, bool]:
    """At most `max_rows` of `triples` as `media_type`, and whether there were more."""
    out = bind_prefixes(Graph())
    for prefix, ns in namespaces.items():
        out.bind(prefix, ns, override=False)
    for triple in itertools.islice(triples, max_rows):
        out.add(triple)
    truncated = next(triples, None) is not None
    if media_type == "application/rdf+xml":
        _check_xml((str(term) for triple in out for term in triple), "text/turtle")
    return serialize(out, media_type), truncated


def _ask_body(answer: bool, fmt: str) -> bytes:
    result = Result("ASK")
    result.askAnswer = answer
    return _serialize_result(result, fmt)


def _select_body(variables: list[Variable], rows: list[dict[Variable, Node]], fmt: str) -> bytes:
    if fmt == "tsv":
        return _tsv(variables, rows)
    if fmt == "xml":
        _check_xml((str(term) for row in rows for term in row.values()), SPARQL_JSON_TYPE)
    result = Result("SELECT")
    result.vars = variables
    result.bindings = rows  # type: ignore[assignment]
    return _serialize_result(result, fmt)


class _NotXml(Exception):
    """The answer holds a character XML cannot carry (raised in the worker)."""


def _check_xml(texts: Iterator[str], instead: str) -> None:
    """_NotXml naming the first character of `texts` that XML 1.0 cannot carry (rdflib would
    write it raw, and no XML parser would read the answer)."""
    for text in texts:
        bad = _NOT_XML.search(text)
        if bad is not None:
            raise _NotXml(
                f"the answer holds U+{ord(bad.group()):04X}, which XML cannot carry; ask for "
                f"{instead} instead"
            )


def _serialize_result(result: Result, fmt: str) -> bytes:
    data = result.serialize(format=fmt, encoding="utf-8")
    assert data is not None
    return data


def _tsv(variables: list[Variable], rows: list[dict[Variable, Node]]) -> bytes:
    """SPARQL 1.1 TSV: a header of ?names, then terms in Turtle syntax, tab-separated."""
    lines = ["\t".join(f"?{v}" for v in variables)]
    lines += ["\t".join(_tsv_term(row.get(v)) for v in variables) for row in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _tsv_term(term: Node | None) -> str:
    if term is None:
        return ""
    if isinstance(term, URIRef):
        return f"<{term}>"
    if isinstance(term, BNode):
        return f"_:{term}"
    if isinstance(term, Literal):
        text = '"' + str(term).translate(_TSV_ESCAPES) + '"'
        if term.language:
            return f"{text}@{term.language}"
        if term.datatype is not None:
            return f"{text}^^<{term.datatype}>"
        return text
    return str(term)


def _warm_up() -> None:
    """Imports, in the service process, the parsers and serialisers a query may use, so each
    forked child starts with them loaded instead of importing them again."""
    with _PARSER:
        _exercise()


def _exercise() -> None:
    graph = Graph()
    graph.add((URIRef("urn:a"), URIRef("urn:b"), Literal("c")))
    for text in ("SELECT * WHERE { ?s ?p ?o }", "ASK { ?s ?p ?o }"):
        result = graph.query(text)
        for fmt in ("json", "xml", "csv") if result.type == "SELECT" else ("json", "xml"):
            result.serialize(format=fmt)
    for media_type in RDF_MEDIA_TYPES:
        serialize(graph.query("CONSTRUCT WHERE { ?s ?p ?o }").graph or graph, media_type)
    graph.query("DESCRIBE <urn:a>")


# --- the worker processes ----------------------------------------------------------------------


class _Worker:
    """A forked process answering one query at a time over a pair of pipes, for as long as its
    request pipe stays open. Forking costs about 8 ms here, more than a typical query takes in
    Oxigraph, so Oxigraph's workers are kept and reused; one that overruns is killed."""

    def __init__(self, serve: Callable[[_Plan], tuple[bytes, bool]], nice: int = 0) -> None:
        with _FORKING:
            request_read, request_write = os.pipe()
            answer_read, answer_write = os.pipe()
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child; coverage does not follow forks
                _serve_forever(serve, nice, request_read, answer_write)
            os.close(request_read)
            os.close(answer_write)
        self.pid = pid
        self._requests = request_write
        self._answers = answer_read
        self._start_size = _address_space(pid)

    def send(self, plan: _Plan) -> None:
        """Gives the worker `plan`; BrokenPipeError if it has died."""
        _write_frame(self._requests, pickle.dumps(plan))

    def receive(self, deadline: float) -> tuple[str, Any]:
        """The worker's outcome for the plan sent; TimeoutError past `deadline`, EOFError if
        the worker died (its wait status is then in `died_of`)."""
        outcome: tuple[str, Any] = pickle.loads(_read_frame(self._answers, deadline))
        return outcome

    def worn(self) -> bool:
        """Whether the worker has grown by half its memory budget: the allocator keeps some of
        what a large query took, and the budget is counted from the worker's start."""
        return _address_space(self.pid) - self._start_size > MEMORY_BUDGET // 2

    def stop(self) -> None:
        """Ends the worker: killed at once, reaped in the background."""
        self._close_pipes()
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        _reap_later(self.pid)

    def died_of(self) -> int:
        """The wait status of a worker that closed its answer pipe by dying."""
        self._close_pipes()
        return os.waitpid(self.pid, 0)[1]

    def _close_pipes(self) -> None:
        for fd in (self._requests, self._answers):
            with contextlib.suppress(OSError):
                os.close(fd)


class _WorkerPool:
    """Idle workers of one SparqlService, taken by one query at a time; they end with the
    service (or the interpreter)."""

    def __init__(self, serve: Callable[[_Plan], tuple[bytes, bool]], nice: int = 0) -> None:
        self._serve = serve
        self._nice = nice
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        weakref.finalize(self, _stop_all, self._idle)

    def run(self, plan: _Plan, deadline: float) -> tuple[bytes, bool]:
        with self._lock:
            worker = self._idle.pop() if self._idle else None
        if worker is not None:
            try:
                worker.send(plan)
            except BrokenPipeError:  # it died while idle (killed from outside)
                worker.stop()
                worker = None
        if worker is None:
            worker = _Worker(self._serve, self._nice)
            try:
                worker.send(plan)
            except BrokenPipeError:  # it failed to start
                raise _died(worker.died_of()) from None
        try:
            outcome = worker.receive(deadline)
        except EOFError:
            raise _died(worker.died_of()) from None
        except BaseException:
            worker.stop()
            raise
        if outcome[0] == "memory" or worker.worn():
            worker.stop()
        else:
            with self._lock:
                self._idle.append(worker)
        return _answer(outcome)


def _stop_all(workers: list[_Worker]) -> None:
    while workers:
        workers.pop().stop()


def _serve_forever(
    serve: Callable[[_Plan], tuple[bytes, bool]], nice: int, requests: int, answers: int
) -> None:
    status = 0
    try:
        _become_worker(nice)
        requests, answers = _sandbox(requests, answers)
        while True:
            try:
                frame = _read_frame(requests, None)
            except EOFError:
                break  # the service closed the pipe: it stopped this worker, or ended
            plan: _Plan = pickle.loads(frame)
            outcome = _outcome(functools.partial(serve, plan))
            _write_frame(answers, pickle.dumps(outcome))
            if outcome[0] == "memory":
                break
    except BaseException:
        status = 1
    finally:
        os._exit(status)  # no atexit handlers, no flushing of the parent's buffers


def _run_forked(
    job: Callable[[], tuple[bytes, bool]], deadline: float, nice: int = 0
) -> tuple[bytes, bool]:
    """`job()` run in a child forked for it alone (rdflib's engine, whose plans hold the parsed
    algebra); TimeoutError (child killed) if it has not answered by `deadline`
    (time.monotonic())."""
    with _FORKING:
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child; coverage does not follow forks
            _run_once(job, nice, read_fd, write_fd)
        os.close(write_fd)
    try:
        frame = _read_frame(read_fd, deadline)
    except EOFError:
        raise _died(os.waitpid(pid, 0)[1]) from None
    except BaseException:
        os.kill(pid, signal.SIGKILL)
        _reap_later(pid)
        raise
    finally:
        os.close(read_fd)
    _reap_later(pid)
    return _answer(pickle.loads(frame))


def _run_once(
    job: Callable[[], tuple[bytes, bool]], nice: int, read_fd: int, write_fd: int
) -> None:
    status = 0
    try:
        os.close(read_fd)
        _become_worker(nice)
        (answers,) = _sandbox(write_fd)
        _write_frame(answers, pickle.dumps(_outcome(job)))
    except BaseException:
        status = 1
    finally:
        os._exit(status)


def _become_worker(nice: int) -> None:
    """What a freshly forked worker does first: `nice` is added to its niceness."""
    # below the service's threads, so that a search or /health is never queued behind queries
    # holding every core
    with contextlib.suppress(OSError):
        os.nice(nice)
    # a collection would walk (and so copy-on-write) every object inherited from the service
    gc.freeze()
    faulthandler.disable()  # Rust's abort on an allocation failure is reported, not dumped
    # the parent's handlers (uvicorn's) would keep a child alive on Ctrl-C
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _limit_memory()


def _outcome(job: Callable[[], tuple[bytes, bool]]) -> tuple[str, Any]:
    """What a worker answers: ("ok", (body, truncated)) or what went wrong."""
    try:
        return ("ok", job())
    except MemoryError:
        return ("memory", None)
    except _OxigraphSyntaxError as exc:
        return ("syntax", str(exc))
    except _NotXml as exc:
        return ("not_xml", str(exc))
    except Exception as exc:
        return ("error", f"{type(exc).__name__}: {exc}")


def _answer(outcome: tuple[str, Any]) -> tuple[bytes, bool]:
    """The body and truncation flag of a worker's outcome, or the error it stands for."""
    if outcome[0] == "error":
        raise BadRequest(f"query failed: {outcome[1]}", code="bad_query")
    if outcome[0] == "syntax":
        raise _OxigraphSyntaxError(outcome[1])
    if outcome[0] == "not_xml":
        raise NotAcceptable(outcome[1])
    if outcome[0] == "memory":
        raise _too_costly()
    result: tuple[bytes, bool] = outcome[1]
    return result


def _died(status: int) -> QueryTimeout | QueryCrashed:
    """The error for a worker that ended, with wait status `status`, before answering. Our own
    SIGKILL at the deadline is never seen here: that query has already timed out."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        if number == signal.SIGABRT:
            return _too_costly()  # Rust (Oxigraph) aborts when an allocation fails under RLIMIT_AS
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        return QueryCrashed(
            f"the query worker crashed ({name}) without answering; the service goes on, but "
            "this query cannot be answered: simplify it"
        )
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else status
    return QueryCrashed(f"the query worker exited (status {code}) without answering")


def _too_costly() -> QueryTimeout:
    return QueryTimeout(
        f"query needed more than {MEMORY_BUDGET >> 20} MiB of memory and was stopped; "
        "narrow it, or add LIMIT",
        code="query_too_costly",
    )


def _reap_later(pid: int) -> None:
    """Waits for the child off the request path: tearing down its address space takes a few ms
    more with a model loaded."""
    threading.Thread(target=_reap, args=(pid,), daemon=True).start()


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


FIRST_FD = 3  # a worker's pipes are moved to 3, 4, ...; nothing else is open but stdio


def _sandbox(*keep: int) -> tuple[int, ...]:
    """Leaves the worker the pipes `keep` (moved to FIRST_FD, FIRST_FD + 1, ... and returned in
    that order) and stdio, and allows it no new descriptor: it can open no file and no socket,
    so a query can reach no network, whatever the checks before it missed (Oxigraph would
    otherwise follow SERVICE). The descriptors inherited from the service (its listening
    socket, connections, other workers' pipes) are closed."""
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)  # the worker reads nothing
    for fd in (1, 2):
        try:
            os.fstat(fd)
        except OSError:  # closed in the service: a socket would otherwise get this number
            os.dup2(null, fd)
    # first above every number involved, so that moving one cannot overwrite another
    floor = max(*keep, null, FIRST_FD + len(keep)) + 1
    lifted = [fcntl.fcntl(fd, fcntl.F_DUPFD, floor) for fd in keep]
    moved = tuple(range(FIRST_FD, FIRST_FD + len(keep)))
    for source, target in zip(lifted, moved, strict=True):
        os.dup2(source, target)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    top = soft if soft != resource.RLIM_INFINITY else 1 << 20
    os.closerange(moved[-1] + 1, max(top, *lifted) + 1)
    resource.setrlimit(resource.RLIMIT_NOFILE, (moved[-1] + 1, hard))
    return moved


def _limit_memory() -> None:
    in_use = _address_space(os.getpid())
    if not in_use:
        return  # not Linux: the deadline still bounds the query
    try:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = in_use + MEMORY_BUDGET
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (OSError, ValueError):
        pass  # a limit this system refuses: the deadline still bounds the query


def _address_space(pid: int) -> int:
    """Bytes of address space the process `pid` has mapped (0 where /proc says nothing)."""
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


_LENGTH = struct.Struct("<Q")


def _write_frame(fd: int, data: bytes) -> None:
    """`data` on the pipe `fd`, after its length."""
    view = memoryview(_LENGTH.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


def _read_frame(fd: int, deadline: float | None) -> bytes:
    """One frame from the pipe `fd`: TimeoutError past `deadline` (None: wait for ever),
    EOFError if the pipe closes first."""
    (length,) = _LENGTH.unpack(_read_exactly(fd, _LENGTH.size, deadline))
    return _read_exactly(fd, length, deadline)


def _read_exactly(fd: int, size: int, deadline: float | None) -> bytes:
    chunks: list[bytes] = []
    left = size
    while left:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            # poll(), not select(): select() refuses descriptors past 1023, and a service
            # holding a thousand connections gets pipes numbered higher
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            if not poller.poll(math.ceil(remaining * 1000)):
                raise TimeoutError
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)

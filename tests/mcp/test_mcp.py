"""The MCP server through the SDK's own client, over both transports, as an agent would reach it:
streamable HTTP at /mcp of `leadgraph serve`, and stdio of `leadgraph mcp`.

Each transport is driven once per module by one scripted session (starting a server loads the
model); the tests then check what that session saw.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from tests.serving import LEADGRAPH, serving

pytestmark = [pytest.mark.server, pytest.mark.model]

BRIDGE_QUESTION = "Who is the bridge between leaders and the workforce?"
BRIDGE_SENTENCE = (
    "In essence, managers provide the bridge between leaders and the rest of the workforce."
)
TOOLS = {
    "search_passages",
    "lookup_concepts",
    "get_concept",
    "related_concepts",
    "answer_question",
    "sparql_select",
}
PREFIXES = (
    "PREFIX skos: <http://www.w3.org/2004/02/skos/core#>\n"
    "PREFIX c: <https://leadgraph.dev/concept/>\n"
)
CALLS: dict[str, tuple[str, dict[str, Any]]] = {
    "search": (
        "search_passages",
        {"query": "bridge between leaders and workforce", "k": 3, "concept": "BridgeRole"},
    ),
    "lookup": ("lookup_concepts", {"text": "bridg"}),
    "concept": ("get_concept", {"concept_id": "BridgeRole", "evidence_limit": 2}),
    "related": ("related_concepts", {"concept_id": "BridgeRole", "depth": 1}),
    "answer": ("answer_question", {"question": BRIDGE_QUESTION}),
    "abstain": ("answer_question", {"question": "What is the capital of France?"}),
    "select": (
        "sparql_select",
        {"query": PREFIXES + "SELECT ?label WHERE { c:BridgeRole skos:prefLabel ?label }"},
    ),
    "ask": ("sparql_select", {"query": PREFIXES + "ASK { c:Manager a skos:Concept }"}),
    "bad_id": ("get_concept", {"concept_id": "NoSuchConcept"}),
    "bad_k": ("search_passages", {"query": "bridge", "k": 0}),
    "bad_depth": ("related_concepts", {"concept_id": "BridgeRole", "depth": 9}),
    "bad_filter": ("search_passages", {"query": "bridge", "concept": "NoSuchConcept"}),
    "update": (
        "sparql_select",
        {"query": "INSERT DATA { <urn:a> <urn:b> <urn:c> }"},
    ),
    "construct": ("sparql_select", {"query": "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }"}),
    "empty_question": ("answer_question", {"question": "  "}),
    "long_text": ("lookup_concepts", {"text": "bridge " * 200}),
    "sparql_syntax": ("sparql_select", {"query": "SELECT ?x WHERE {"}),
}


@dataclass
class Transcript:
    """What one session saw: the tools listed, each call's result, the resources read."""

    tools: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    resources: list[str] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)
    ontology: str = ""
    concept: str = ""
    unknown_resource_error: str = ""


async def _script(session: ClientSession) -> Transcript:
    seen = Transcript()
    await session.initialize()
    seen.tools = {tool.name: tool for tool in (await session.list_tools()).tools}
    for key, (name, arguments) in CALLS.items():
        seen.results[key] = await session.call_tool(name, arguments)
    seen.resources = [str(r.uri) for r in (await session.list_resources()).resources]
    templates = (await session.list_resource_templates()).resource_templates
    seen.templates = [t.uri_template for t in templates]
    seen.ontology = _text(await session.read_resource("leadgraph://ontology"))
    seen.concept = _text(await session.read_resource("leadgraph://concept/BridgeRole"))
    try:
        await session.read_resource("leadgraph://concept/NoSuchConcept")
    except MCPError as exc:
        seen.unknown_resource_error = str(exc)
    return seen


def _text(result: Any) -> str:
    text: str = result.contents[0].text
    return text


def _run(connect: Callable[[], Awaitable[Transcript]]) -> Transcript:
    async def main() -> Transcript:
        with anyio.fail_after(240):
            return await connect()

    return anyio.run(main)


@pytest.fixture(scope="module")
def served(real_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`leadgraph serve` on a free port of 127.0.0.1; yields its base URL once /ready is 200."""
    with serving(real_index, tmp_path_factory.mktemp("serve") / "serve.log") as base:
        yield base


@pytest.fixture(scope="module")
def http_transcript(served: str) -> Transcript:
    async def connect() -> Transcript:
        async with (
            streamable_http_client(f"{served}/mcp") as (read, write),
            ClientSession(read, write) as session,
        ):
            return await _script(session)

    return _run(connect)


@pytest.fixture(scope="module")
def stdio_transcript(real_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Transcript:
    errlog = tmp_path_factory.mktemp("stdio") / "mcp.stderr"
    params = StdioServerParameters(
        command=str(LEADGRAPH),
        args=["mcp", "--index", str(real_index)],
        env={"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
    )

    async def connect() -> Transcript:
        with errlog.open("w") as sink:
            async with (
                stdio_client(params, errlog=sink) as (read, write),
                ClientSession(read, write) as session,
            ):
                return await _script(session)

    return _run(connect)


@pytest.fixture(params=["http", "stdio"])
def transcript(request: pytest.FixtureRequest) -> Transcript:
    seen: Transcript = request.getfixturevalue(f"{request.param}_transcript")
    return seen


def _ok(seen: Transcript, key: str) -> dict[str, Any]:
    result = seen.results[key]
    assert not result.is_error, result.content
    structured: dict[str, Any] = result.structured_content
    assert structured is not None
    # the text content carries the same result, for clients that read only text
    assert json.loads(result.content[0].text) == structured
    return structured


def _error(seen: Transcript, key: str) -> str:
    result = seen.results[key]
    assert result.is_error, result.structured_content
    message: str = result.content[0].text
    return message


def _document_text(index: Path, document_id: str) -> str:
    with (index / "current" / "documents.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            document = json.loads(line)
            if document["id"] == document_id:
                text: str = document["text"]
                return text
    raise AssertionError(f"no document {document_id}")


def test_lists_every_tool_with_a_description_and_schemas(transcript: Transcript) -> None:
    assert set(transcript.tools) == TOOLS
    for tool in transcript.tools.values():
        assert len(tool.description) > 100
        assert tool.input_schema["type"] == "object"
        assert tool.output_schema is not None and tool.output_schema["type"] == "object"
        assert tool.annotations.read_only_hint is True
    k = transcript.tools["search_passages"].input_schema["properties"]["k"]
    assert (k["minimum"], k["maximum"]) == (1, 100)


def test_answer_question_cites_the_bridge_sentence_exactly(
    transcript: Transcript, real_index: Path
) -> None:
    answer = _ok(transcript, "answer")
    assert answer["abstained"] is False
    first = answer["citations"][0]
    assert first["source"] == "003_569b31adfc32932d.txt"  # the article's front matter `source:`
    assert first["quote"] == BRIDGE_SENTENCE
    text = _document_text(real_index, first["document_id"])
    assert text[first["start"] : first["end"]] == BRIDGE_SENTENCE
    assert "BridgeRole" in {c["id"] for c in answer["concepts"]}


def test_answer_question_abstains_off_topic(transcript: Transcript) -> None:
    answer = _ok(transcript, "abstain")
    assert answer["abstained"] is True and answer["answer"] is None


def test_lookup_concepts_puts_bridge_role_first(transcript: Transcript) -> None:
    found = _ok(transcript, "lookup")
    assert found["items"][0]["id"] == "BridgeRole"
    assert found["items"][0]["match"] == "prefix"


def test_search_passages_filters_by_concept(transcript: Transcript) -> None:
    result = _ok(transcript, "search")
    assert 1 <= len(result["hits"]) <= 3
    for hit in result["hits"]:
        assert "BridgeRole" in {c["id"] for c in hit["concepts"]}
        assert hit["source"] and not hit["source"].startswith("/")  # a reference, not a path


def test_get_concept_returns_definition_relations_and_evidence(transcript: Transcript) -> None:
    concept = _ok(transcript, "concept")
    assert concept["id"] == "BridgeRole" and concept["definition"]
    assert concept["relations"] or concept["related"] or concept["broader"]
    assert 1 <= len(concept["evidence"]) <= 2  # evidence_limit
    assert concept["evidence_total"] >= len(concept["evidence"])


def test_related_concepts_returns_the_neighbourhood(transcript: Transcript) -> None:
    graph = _ok(transcript, "related")
    focus = [n for n in graph["nodes"] if n["kind"] == "focus"]
    assert [n["id"] for n in focus] == ["BridgeRole"]
    assert len(graph["nodes"]) > 1 and graph["edges"]


def test_sparql_select_and_ask(transcript: Transcript) -> None:
    select = _ok(transcript, "select")
    assert select["form"] == "SELECT" and select["variables"] == ["label"]
    assert select["rows"] == [{"label": "bridge role"}]
    ask = _ok(transcript, "ask")
    assert ask["form"] == "ASK" and ask["boolean"] is True


@pytest.mark.parametrize(
    ("key", "argument", "words"),
    [
        ("bad_id", "concept_id", "no concept 'NoSuchConcept'"),
        ("bad_k", "k", "between 1 and 100"),
        ("bad_depth", "depth", "between 1 and 3"),
        ("bad_filter", "concept", "no concept 'NoSuchConcept'"),
        ("update", "query", "updates are refused"),
        ("construct", "query", "only SELECT and ASK"),
        ("empty_question", "question", "must not be empty"),
        ("long_text", "text", "at most 1000 characters"),
        ("sparql_syntax", "query", "SPARQL syntax error at line 1"),
    ],
)
def test_bad_arguments_are_tool_errors_naming_the_argument(
    transcript: Transcript, key: str, argument: str, words: str
) -> None:
    message = _error(transcript, key)
    assert f"{argument}: " in message and words in message
    assert "Traceback" not in message


def test_resources_serve_the_ontology_and_each_concept_as_turtle(transcript: Transcript) -> None:
    assert transcript.resources == ["leadgraph://ontology"]
    assert transcript.templates == ["leadgraph://concept/{id}"]
    assert "owl:Ontology" in transcript.ontology and "c:BridgeRole" in transcript.ontology
    assert "mention:" not in transcript.ontology  # the ontology, not the whole index graph
    assert "c:BridgeRole" in transcript.concept and "skos:prefLabel" in transcript.concept
    assert "NoSuchConcept" in transcript.unknown_resource_error

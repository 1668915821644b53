"""Service settings, from `LEADGRAPH_*` environment variables, overridden by CLI flags."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from leadgraph.indexer.corpus import FrontMatterLimits
from leadgraph.indexer.embedder import DEFAULT_MODEL
from leadgraph.indexer.ontology import DEFAULT_ONTOLOGY


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEADGRAPH_", extra="ignore")

    index: Path = Field(Path("index"), description="index root folder")
    corpus: Path = Field(Path("corpus"), description="corpus built when no index exists")
    model: str = Field(DEFAULT_MODEL, description="sentence-transformers name or path")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)

    max_text_chars: int = Field(1000, ge=1, description="longest q / question accepted")
    max_k: int = Field(100, ge=10, description="largest k / limit accepted (10 is the default k)")
    answer_threshold: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="/ask abstains when its calibrated confidence is below this",
    )
    sparql_max_chars: int = Field(20_000, ge=1, description="longest SPARQL query accepted")
    sparql_timeout_s: float = Field(10.0, gt=0, description="SPARQL run time before 503")
    sparql_max_rows: int = Field(10_000, ge=1, description="rows returned at most by SPARQL")
    dense_backend: Literal["faiss"] = Field(
        "faiss",
        description="what answers dense passage search (indexer.backends): FAISS over the "
        "index's vector files, flat or HNSW by size",
    )
    lexical_backend: Literal["bm25"] = Field(
        "bm25",
        description="what answers lexical passage search (indexer.backends): BM25 over the "
        "index's sparse term matrix",
    )
    sparql_engine: Literal["oxigraph", "rdflib"] = Field(
        "oxigraph",
        description="what evaluates SPARQL queries: Oxigraph (native, an in-memory copy of the "
        "graph) or rdflib (pure Python, over the graph the other endpoints use)",
    )
    sparql_workers: int | None = Field(
        None,
        ge=1,
        le=64,
        description="SPARQL queries evaluated at once, each by a worker process "
        "[default: the cores this process may use, at least 2]",
    )
    sparql_queue: int = Field(
        32,
        ge=0,
        description="SPARQL queries waiting for a worker at most; one more is refused at once "
        "with 503 busy and Retry-After",
    )
    sparql_queue_wait_s: float = Field(
        5.0, gt=0, description="longest wait of a SPARQL query for a worker before 503 busy"
    )
    sparql_max_depth: int = Field(
        64,
        ge=1,
        le=1000,
        description="deepest nesting of brackets, braces, parentheses and unary operators in a "
        "SPARQL query (400 beyond; far deeper nesting crashes the parsers)",
    )
    sparql_nice: int = Field(
        10,
        ge=0,
        le=19,
        description="niceness added to SPARQL worker processes, so that the service's own "
        "threads (search, /health) keep the cores under a flood of queries (0: same priority)",
    )
    verify_checksums: bool = Field(True, description="check index file checksums at start")
    onnx: bool = Field(
        True, description="encode queries with an ONNX export of the model (0: torch only)"
    )
    onnx_threads: int | None = Field(
        None,
        ge=1,
        le=64,
        description="onnxruntime threads of a query encode that runs alone; concurrent ones "
        "take one each [default: the cores this process may use, at most 2]",
    )
    onnx_cache: Path | None = Field(
        None, description="folder of ONNX exports [default: ~/.cache/leadgraph/onnx]"
    )
    compute_slots: int | None = Field(
        None,
        ge=1,
        le=256,
        description="requests that search, answer or look up concepts at once; the others "
        "wait their turn [default: the cores this process may use]",
    )
    compute_queue: int = Field(
        512,
        ge=0,
        description="requests waiting for a compute slot at most; one more is refused with 503 "
        "busy and Retry-After",
    )
    compute_wait_s: float = Field(
        15.0, gt=0, description="longest wait for a compute slot before 503 busy"
    )
    update_nice: int = Field(
        10,
        ge=0,
        le=19,
        description="niceness added to the thread that rebuilds and loads the index after an "
        "update, so that searches keep the cores (0: same priority)",
    )
    admin_token: SecretStr | None = Field(
        None,
        description="bearer token of PUT/DELETE /documents/{id} and POST /admin/reindex; "
        "unset or empty: those endpoints answer 403",
    )
    ontology: Path = Field(DEFAULT_ONTOLOGY, description="ontology of rebuilds after an update")
    index_watch_s: float = Field(
        2.0, ge=0, description="seconds between looks for a newly published index (0: never)"
    )
    max_body_bytes: int = Field(1 << 20, ge=1, description="largest request body accepted (413)")
    header_timeout_s: float = Field(
        10.0,
        gt=0,
        description="seconds a client has to send a request's line and headers, from connecting "
        "or from its first byte after a kept-alive pause (408; closed if it sent nothing)",
    )
    body_timeout_s: float = Field(
        30.0,
        gt=0,
        description="seconds a client has to send a request's body after its headers, whether "
        "the app reads it or not (408, or closed once an answer has started)",
    )
    keep_alive_s: int = Field(
        5, ge=1, description="seconds a kept-alive connection may stay idle after an answer"
    )
    max_header_bytes: int = Field(
        64 << 10, ge=1024, description="largest request line and headers accepted (431)"
    )
    max_article_bytes: int = Field(
        256 << 10,
        ge=1,
        description="largest article an update (PUT /documents/{id}, `leadgraph add`) accepts "
        "(413): its passages and sentences are embedded while the update lock is held",
    )
    max_front_matter_bytes: int = Field(
        65_536, ge=1, description="largest YAML front matter of an article (422, CLI exit 2)"
    )
    max_front_matter_depth: int = Field(
        16, ge=1, le=100, description="deepest nesting of an article's front matter (422)"
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="origins allowed to call GET/POST cross-origin (comma-separated or a JSON "
        "list; `*` for any); empty: no CORS headers at all",
    )
    forwarded_allow_ips: str = Field(
        "127.0.0.1",
        description="proxies whose X-Forwarded-For/-Proto are trusted (comma-separated, `*`)",
    )

    def front_matter_limits(self) -> FrontMatterLimits:
        """The limits the corpus reader applies to an article's front matter."""
        return FrontMatterLimits(self.max_front_matter_bytes, self.max_front_matter_depth)

    @field_validator("admin_token", mode="before")
    @classmethod
    def _empty_token_is_none(cls, value: object) -> object:
        # LEADGRAPH_ADMIN_TOKEN= (set but empty) must not become a token everyone knows
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _check_origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if origin != "*" and not _ORIGIN.match(origin):
                raise ValueError(
                    f"{origin!r} is not an origin: write scheme://host[:port], no path, or *"
                )
        return [origin.rstrip("/") for origin in origins]


_ORIGIN = re.compile(r"^https?://[^/\s?#]+/?$")

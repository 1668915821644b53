"""Service settings, from `LEADGRAPH_*` environment variables, overridden by CLI flags."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from indexer.embedder import DEFAULT_MODEL
from indexer.ontology import DEFAULT_ONTOLOGY


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
    sparql_engine: Literal["oxigraph", "rdflib"] = Field(
        "oxigraph",
        description="what evaluates SPARQL queries: Oxigraph (native, an in-memory copy of the "
        "graph) or rdflib (pure Python, over the graph the other endpoints use)",
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
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="origins allowed to call GET/POST cross-origin (comma-separated or a JSON "
        "list; `*` for any); empty: no CORS headers at all",
    )
    forwarded_allow_ips: str = Field(
        "127.0.0.1",
        description="proxies whose X-Forwarded-For/-Proto are trusted (comma-separated, `*`)",
    )

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

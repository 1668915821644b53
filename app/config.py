"""Service settings, from `LEADGRAPH_*` environment variables, overridden by CLI flags."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from indexer.embedder import DEFAULT_MODEL


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEADGRAPH_", extra="ignore")

    index: Path = Field(Path("index"), description="index root folder")
    corpus: Path = Field(Path("corpus"), description="corpus built when no index exists")
    model: str = Field(DEFAULT_MODEL, description="sentence-transformers name or path")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)

    max_text_chars: int = Field(1000, ge=1, description="longest q / question accepted")
    max_k: int = Field(100, ge=1, description="largest k / limit accepted")
    sparql_max_chars: int = Field(20_000, ge=1, description="longest SPARQL query accepted")
    sparql_timeout_s: float = Field(10.0, gt=0, description="SPARQL run time before 503")
    sparql_max_rows: int = Field(10_000, ge=1, description="rows returned at most by SPARQL")
    verify_checksums: bool = Field(True, description="check index file checksums at start")
